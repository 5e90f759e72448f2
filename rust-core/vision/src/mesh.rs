//! FaceMesh and iris: crops taken along the face's own axes, landmarks mapped back to the
//! upright frame.

use liveness_frame::{Affine2, Frame};

use crate::detector::Detection;
use crate::error::Result;
use crate::landmarks as lm;
use crate::models::Model;

/// A square region of the upright frame, rotated by `angle` radians (clockwise, y down).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Roi {
    pub cx: f32,
    pub cy: f32,
    pub side: f32,
    pub angle: f32,
}

impl Roi {
    pub fn to_frame(&self, out: usize) -> Affine2 {
        Affine2::square_crop(self.cx, self.cy, self.side, self.angle, out)
    }

    /// MediaPipe's detection-to-ROI: the box, 1.5× larger, rotated so the eyes are level.
    pub fn from_detection(d: &Detection) -> Self {
        let [cx, cy] = d.center();
        let [r, l] = [d.keypoints[0], d.keypoints[1]];
        Self {
            cx,
            cy,
            side: d.bbox[2].max(d.bbox[3]) * 1.5,
            angle: (l[1] - r[1]).atan2(l[0] - r[0]),
        }
    }

    /// MediaPipe's landmarks-to-ROI, used for tracking: the landmarks' extent along the eye
    /// line and across it, 1.5× larger.
    pub fn from_landmarks(points: &[[f32; 3]]) -> Self {
        let (r, l) = (points[lm::RIGHT_EYE_OUTER], points[lm::LEFT_EYE_OUTER]);
        let angle = (l[1] - r[1]).atan2(l[0] - r[0]);
        let (sin, cos) = angle.sin_cos();
        let (mut min_u, mut max_u, mut min_v, mut max_v) = (f32::MAX, f32::MIN, f32::MAX, f32::MIN);
        for p in points {
            // Coordinates along the eye line (u) and across it (v).
            let u = p[0] * cos + p[1] * sin;
            let v = -p[0] * sin + p[1] * cos;
            min_u = min_u.min(u);
            max_u = max_u.max(u);
            min_v = min_v.min(v);
            max_v = max_v.max(v);
        }
        let (cu, cv) = ((min_u + max_u) / 2.0, (min_v + max_v) / 2.0);
        Self {
            cx: cu * cos - cv * sin,
            cy: cu * sin + cv * cos,
            side: (max_u - min_u).max(max_v - min_v) * 1.5,
            angle,
        }
    }
}

/// The mesh of one face in upright frame pixels; `z` is depth at the same scale as `x`
/// (smaller is nearer the camera).
#[derive(Debug, Clone, PartialEq)]
pub struct FaceMesh {
    pub points: Vec<[f32; 3]>,
    /// Probability that the crop holds a face.
    pub presence: f32,
    /// The crop the mesh was computed from.
    pub roi: Roi,
    /// The landmarks in crop pixels (0..192).
    pub crop_points: Vec<[f32; 2]>,
}

pub const MESH_SIDE: usize = 192;

#[derive(Debug)]
pub struct MeshRunner {
    model: Model,
    input: Vec<f32>,
}

impl MeshRunner {
    pub fn new(model: Model) -> Self {
        Self {
            model,
            input: vec![0.0; MESH_SIDE * MESH_SIDE * 3],
        }
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The 192×192 RGB crop in [0, 1] (HWC) of the last run, for image-quality measures.
    pub fn last_crop(&self) -> &[f32] {
        &self.input
    }

    pub fn run(&mut self, frame: &Frame, roi: Roi) -> Result<FaceMesh> {
        let to_frame = roi.to_frame(MESH_SIDE);
        frame.warp_into(
            &to_frame,
            MESH_SIDE,
            MESH_SIDE,
            1.0 / 255.0,
            0.0,
            &mut self.input,
        )?;
        let outputs = self.model.run(&self.input)?;
        let scale = roi.side / MESH_SIDE as f32;
        let mut points = Vec::with_capacity(lm::COUNT);
        let mut crop_points = Vec::with_capacity(lm::COUNT);
        for p in outputs[0].chunks_exact(3) {
            let (x, y) = to_frame.apply(p[0], p[1]);
            points.push([x, y, p[2] * scale]);
            crop_points.push([p[0], p[1]]);
        }
        Ok(FaceMesh {
            points,
            presence: 1.0 / (1.0 + (-outputs[1][0]).exp()),
            roi,
            crop_points,
        })
    }
}

/// Eye contour and iris from the iris model.
#[derive(Debug, Clone, PartialEq)]
pub struct EyeDetail {
    /// The 71 eye-contour and brow points (the first 16 outline the eye), frame pixels.
    pub contour: Vec<[f32; 2]>,
    /// Iris centre then four points on its rim, frame pixels.
    pub iris: [[f32; 2]; 5],
    /// Lid opening across the eye divided by the eye's width.
    pub openness: f32,
}

pub const EYE_SIDE: usize = 64;

#[derive(Debug)]
pub struct IrisRunner {
    model: Model,
    input: Vec<f32>,
}

impl IrisRunner {
    pub fn new(model: Model) -> Self {
        Self {
            model,
            input: vec![0.0; EYE_SIDE * EYE_SIDE * 3],
        }
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Refines one eye between its two corners (frame pixels). The model was trained on one
    /// side, so the other eye goes in mirrored and comes out mirrored back.
    pub fn run(
        &mut self,
        frame: &Frame,
        corner_a: [f32; 3],
        corner_b: [f32; 3],
        mirror: bool,
    ) -> Result<EyeDetail> {
        let (dx, dy) = (corner_b[0] - corner_a[0], corner_b[1] - corner_a[1]);
        let width = dx.hypot(dy);
        let roi = Roi {
            cx: (corner_a[0] + corner_b[0]) / 2.0,
            cy: (corner_a[1] + corner_b[1]) / 2.0,
            side: width * 2.3,
            angle: dy.atan2(dx),
        };
        let mut to_frame = roi.to_frame(EYE_SIDE);
        if mirror {
            to_frame = to_frame.after(&Affine2::new(-1.0, 0.0, EYE_SIDE as f32, 0.0, 1.0, 0.0));
        }
        frame.warp_into(
            &to_frame,
            EYE_SIDE,
            EYE_SIDE,
            1.0 / 255.0,
            0.0,
            &mut self.input,
        )?;
        let outputs = self.model.run(&self.input)?;
        let map = |p: &[f32]| {
            let (x, y) = to_frame.apply(p[0], p[1]);
            [x, y]
        };
        let contour: Vec<[f32; 2]> = outputs[0].chunks_exact(3).map(map).collect();
        let mut iris = [[0.0; 2]; 5];
        for (i, p) in outputs[1].chunks_exact(3).take(5).enumerate() {
            iris[i] = map(p);
        }
        let openness = opening_ratio(&contour[..16]);
        Ok(EyeDetail {
            contour,
            iris,
            openness,
        })
    }
}

/// Height of a closed outline across its longest axis, over that axis' length. Independent of
/// the order of the points.
pub fn opening_ratio(outline: &[[f32; 2]]) -> f32 {
    let mut best = (0.0f32, [0.0f32; 2], [0.0f32; 2]);
    for a in outline {
        for b in outline {
            let d = (a[0] - b[0]).hypot(a[1] - b[1]);
            if d > best.0 {
                best = (d, *a, *b);
            }
        }
    }
    let (len, a, b) = best;
    if len <= f32::EPSILON {
        return 0.0;
    }
    let (ux, uy) = ((b[0] - a[0]) / len, (b[1] - a[1]) / len);
    let (mut lo, mut hi) = (f32::MAX, f32::MIN);
    for p in outline {
        let across = -(p[0] - a[0]) * uy + (p[1] - a[1]) * ux;
        lo = lo.min(across);
        hi = hi.max(across);
    }
    (hi - lo) / len
}
