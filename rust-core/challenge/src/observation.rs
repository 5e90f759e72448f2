//! What the engine reads from each frame: a small, copyable summary of the vision output, so
//! the engine can be driven by recorded or scripted signal traces as well as by the camera.

use std::sync::Arc;

use liveness_frame::Frame;
use liveness_vision::FrameAnalysis;

/// The face measurements the engine uses, in the user's frame of reference: `yaw > 0` is the
/// user turning to *their* left, whatever the camera mirroring.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FaceObservation {
    /// Eye openness per eye: FaceMesh's eye-aspect ratio (always measured, so it compares
    /// across a whole session); subject's left and right.
    pub left_eye: f32,
    pub right_eye: f32,
    /// Mean lid opening of both eyes from the iris model, on frames where it ran (see
    /// [`crate::Session::wants_lids`]).
    pub eye_lid: Option<f32>,
    pub yaw: f32,
    pub pitch: f32,
    pub roll: f32,
    /// Mouth width over eye span, and how far the mouth corners sit below the nose tip (a
    /// smile widens the first and shrinks the second).
    pub smile: f32,
    pub corner_drop: f32,
    pub mouth: f32,
    pub face_size: f32,
    pub center_offset: [f32; 2],
    /// Face box in frame pixels (x, y, w, h).
    pub face_box: [f32; 4],
    pub brightness: f32,
    pub sharpness: f32,
    pub occlusion: f32,
    /// Landmark x, y in frame pixels, for the 3-D consistency check.
    pub landmarks: Option<Arc<Vec<[f32; 2]>>>,
}

impl FaceObservation {
    pub fn eyes(&self) -> f32 {
        (self.left_eye + self.right_eye) / 2.0
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// Capture time in milliseconds (camera clock).
    pub t_ms: u64,
    pub face_count: usize,
    pub face: Option<FaceObservation>,
    pub frame_brightness: f32,
    /// A coarse luma sample of the frame (64 points): identical samples on consecutive
    /// frames mean a frozen or duplicated frame.
    pub signature: [u8; 64],
    /// The light step's face tile (see `liveness_light::cut_tile`), on frames where the
    /// engine asked for it ([`crate::Session::wants_light_tiles`]).
    pub light_tile: Option<Arc<Vec<u8>>>,
}

impl Observation {
    /// Summarises one analysed frame. A mirrored frame (selfie view) flips the image's yaw
    /// back into the user's frame of reference.
    pub fn from_analysis(t_ms: u64, frame: &Frame, analysis: &FrameAnalysis) -> Self {
        let face = analysis.face.as_ref().map(|f| {
            let s = &f.signals;
            // In an unmirrored camera image the user's left turn points the nose to the
            // image's right (yaw > 0); a mirrored image shows the opposite.
            let yaw = if frame.mirrored() {
                -s.pose.yaw
            } else {
                s.pose.yaw
            };
            FaceObservation {
                left_eye: s.left_eye_openness,
                right_eye: s.right_eye_openness,
                eye_lid: s
                    .left_eye_lid
                    .zip(s.right_eye_lid)
                    .map(|(l, r)| (l + r) / 2.0),
                yaw,
                pitch: s.pose.pitch,
                roll: s.pose.roll,
                smile: s.smile,
                corner_drop: s.corner_drop,
                mouth: s.mouth_openness,
                face_size: s.face_size,
                center_offset: s.center_offset,
                face_box: s.face_box,
                brightness: s.brightness,
                sharpness: s.sharpness,
                occlusion: s.occlusion,
                landmarks: Some(Arc::new(
                    f.mesh.points.iter().map(|p| [p[0], p[1]]).collect(),
                )),
            }
        });
        Self {
            t_ms,
            face_count: analysis.face_count,
            face,
            frame_brightness: analysis.frame_brightness,
            signature: signature(frame),
            light_tile: None,
        }
    }

    /// Adds the light step's tile of `frame` around the observed face.
    pub fn with_light_tile(mut self, frame: &Frame) -> Self {
        self.light_tile = self
            .face
            .as_ref()
            .and_then(|f| liveness_light::cut_tile(frame, f.face_box))
            .map(Arc::new);
        self
    }
}

/// 64 luma samples on an 8×8 grid over the frame.
fn signature(frame: &Frame) -> [u8; 64] {
    let (w, h) = frame.size();
    let mut out = [0u8; 64];
    let mut px = [0f32; 3];
    for (k, v) in out.iter_mut().enumerate() {
        let (gx, gy) = ((k % 8) as f32 + 0.5, (k / 8) as f32 + 0.5);
        let t = liveness_frame::Affine2::new(
            0.0,
            0.0,
            gx * w as f32 / 8.0,
            0.0,
            0.0,
            gy * h as f32 / 8.0,
        );
        if frame.warp_into(&t, 1, 1, 1.0, 0.0, &mut px).is_ok() {
            *v = (0.299 * px[0] + 0.587 * px[1] + 0.114 * px[2])
                .round()
                .clamp(0.0, 255.0) as u8;
        }
    }
    out
}
