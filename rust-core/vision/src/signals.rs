//! Signals derived from one face's mesh and crop: what the challenge engine and the user
//! guidance read. Ratios are scale-free, so they compare across distances and cameras.

use crate::landmarks as lm;
use crate::mesh::{EyeDetail, FaceMesh, MESH_SIDE};
use crate::pose::{HeadPose, head_pose};

#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct FaceSignals {
    /// Eye-aspect ratio from the mesh (subject's eyes); ~0.25–0.35 open, lower when closed.
    pub left_eye_openness: f32,
    pub right_eye_openness: f32,
    /// Lid opening from the iris model, when it ran.
    pub left_eye_lid: Option<f32>,
    pub right_eye_lid: Option<f32>,
    pub pose: HeadPose,
    /// Inner-lip gap over mouth width.
    pub mouth_openness: f32,
    /// Mouth width over the distance between the outer eye corners: rises with a smile (and
    /// with some vowels).
    pub smile: f32,
    /// How far the mouth corners sit below the base of the nose, along the face's own
    /// vertical, over the eye span: a smile lifts the corners and shrinks it; speaking
    /// barely moves it.
    pub corner_drop: f32,
    /// Landmark box side (the larger) as a fraction of the frame's matching side.
    pub face_size: f32,
    /// Face-box centre minus frame centre, as fractions of the frame (x right, y down).
    pub center_offset: [f32; 2],
    /// Face box (x, y, w, h) in upright frame pixels, from the landmarks.
    pub face_box: [f32; 4],
    /// Mean luma of the face, 0..1.
    pub brightness: f32,
    /// Fraction of face pixels clipped black or white.
    pub clipped: f32,
    /// Variance of the Laplacian of the face's luma (0..1 units): low when blurred.
    pub sharpness: f32,
    /// Estimated fraction of skin regions covered by something else, 0..1.
    pub occlusion: f32,
    /// FaceMesh's face-presence probability.
    pub presence: f32,
}

fn dist(a: [f32; 3], b: [f32; 3]) -> f32 {
    (a[0] - b[0]).hypot(a[1] - b[1])
}

/// Soukupová & Čech's eye-aspect ratio over six mesh points.
pub fn eye_aspect_ratio(p: &[[f32; 3]], idx: [usize; 6]) -> f32 {
    let [p1, p2, p3, p4, p5, p6] = idx.map(|i| p[i]);
    let width = dist(p1, p4);
    if width <= f32::EPSILON {
        return 0.0;
    }
    (dist(p2, p6) + dist(p3, p5)) / (2.0 * width)
}

fn luma(crop: &[f32], x: usize, y: usize) -> f32 {
    let i = (y * MESH_SIDE + x) * 3;
    0.299 * crop[i] + 0.587 * crop[i + 1] + 0.114 * crop[i + 2]
}

/// Exposure and focus over the central part of the face crop (the crop is 1.5× the face).
fn image_quality(crop: &[f32]) -> (f32, f32, f32) {
    let (lo, hi) = (MESH_SIDE / 4, MESH_SIDE * 3 / 4);
    let (mut sum, mut clipped, mut n) = (0.0, 0.0, 0.0);
    let (mut lap_sum, mut lap_sq) = (0.0, 0.0);
    for y in lo..hi {
        for x in lo..hi {
            let l = luma(crop, x, y);
            sum += l;
            if !(0.02..=0.98).contains(&l) {
                clipped += 1.0;
            }
            let lap = luma(crop, x - 1, y)
                + luma(crop, x + 1, y)
                + luma(crop, x, y - 1)
                + luma(crop, x, y + 1)
                - 4.0 * l;
            lap_sum += lap;
            lap_sq += lap * lap;
            n += 1.0;
        }
    }
    let mean_lap = lap_sum / n;
    (sum / n, clipped / n, lap_sq / n - mean_lap * mean_lap)
}

/// Skin-consistency occlusion estimate: the colour of each skin patch is compared with the
/// median over patches; a mask or object over the face differs in chromaticity, a hand held
/// in front of it mostly in brightness (it is nearer the camera and shadowed). An estimate,
/// not a segmentation: an evenly lit, skin-coloured occluder is not seen.
fn occlusion(crop: &[f32], crop_points: &[[f32; 2]]) -> f32 {
    let mut patches = Vec::with_capacity(lm::SKIN_PATCHES.len());
    for &i in &lm::SKIN_PATCHES {
        let [cx, cy] = crop_points[i];
        let (mut acc, mut n) = ([0.0f32; 3], 0.0);
        for dy in -3i32..=3 {
            for dx in -3i32..=3 {
                let (x, y) = (cx as i32 + dx, cy as i32 + dy);
                if x < 0 || y < 0 || x >= MESH_SIDE as i32 || y >= MESH_SIDE as i32 {
                    continue;
                }
                let k = (y as usize * MESH_SIDE + x as usize) * 3;
                for c in 0..3 {
                    acc[c] += crop[k + c];
                }
                n += 1.0;
            }
        }
        if n == 0.0 {
            // A patch outside the crop cannot be seen: count it as covered.
            patches.push(None);
            continue;
        }
        let total = acc[0] + acc[1] + acc[2] + 1e-3;
        patches.push(Some([acc[0] / total, acc[1] / total, total / (3.0 * n)]));
    }
    let seen: Vec<[f32; 3]> = patches.iter().flatten().copied().collect();
    if seen.is_empty() {
        return 1.0;
    }
    let median = |k: usize| {
        let mut v: Vec<f32> = seen.iter().map(|p| p[k]).collect();
        v.sort_by(f32::total_cmp);
        v[v.len() / 2]
    };
    let (mr, mg, ml) = (median(0), median(1), median(2));
    let odd = patches
        .iter()
        .filter(|p| match p {
            None => true,
            Some([r, g, l]) => (r - mr).hypot(g - mg) > 0.045 || *l < ml * 0.72 || *l > ml * 1.45,
        })
        .count();
    odd as f32 / patches.len() as f32
}

/// Mouth corners below the base of the nose (not the tip, which stands out of the face and
/// shifts with every small turn and with the mirror image FaceMesh sees), measured
/// perpendicular to the eye line (so roll does not change it), over the eye span.
fn corner_drop(p: &[[f32; 3]], eye_span: f32) -> f32 {
    if eye_span <= f32::EPSILON {
        return 0.0;
    }
    let (r, l) = (p[lm::RIGHT_EYE_OUTER], p[lm::LEFT_EYE_OUTER]);
    // Perpendicular to the eye line; its sign flips in a mirrored image, the distance does not.
    let (ux, uy) = ((l[0] - r[0]) / eye_span, (l[1] - r[1]) / eye_span);
    let across = |q: [f32; 3]| q[0] * -uy + q[1] * ux;
    let corners = (across(p[lm::MOUTH_RIGHT]) + across(p[lm::MOUTH_LEFT])) / 2.0;
    ((corners - across(p[lm::SUBNASALE])) / eye_span).abs()
}

/// Every signal of one face. `frame_size` is the upright frame's width and height.
pub fn face_signals(
    mesh: &FaceMesh,
    crop: &[f32],
    eyes: Option<&(EyeDetail, EyeDetail)>,
    frame_size: (u32, u32),
) -> FaceSignals {
    let p = &mesh.points;
    let (fw, fh) = (frame_size.0 as f32, frame_size.1 as f32);
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for q in p {
        x0 = x0.min(q[0]);
        y0 = y0.min(q[1]);
        x1 = x1.max(q[0]);
        y1 = y1.max(q[1]);
    }
    let (bw, bh) = (x1 - x0, y1 - y0);
    let mouth_width = dist(p[lm::MOUTH_RIGHT], p[lm::MOUTH_LEFT]);
    let eye_span = dist(p[lm::RIGHT_EYE_OUTER], p[lm::LEFT_EYE_OUTER]);
    let (brightness, clipped, sharpness) = image_quality(crop);
    FaceSignals {
        left_eye_openness: eye_aspect_ratio(p, lm::LEFT_EYE_EAR),
        right_eye_openness: eye_aspect_ratio(p, lm::RIGHT_EYE_EAR),
        left_eye_lid: eyes.map(|e| e.1.openness),
        right_eye_lid: eyes.map(|e| e.0.openness),
        pose: head_pose(p).unwrap_or_default(),
        mouth_openness: if mouth_width > 0.0 {
            dist(p[lm::UPPER_LIP_INNER], p[lm::LOWER_LIP_INNER]) / mouth_width
        } else {
            0.0
        },
        smile: if eye_span > 0.0 {
            mouth_width / eye_span
        } else {
            0.0
        },
        corner_drop: corner_drop(p, eye_span),
        face_size: (bw / fw).max(bh / fh),
        center_offset: [(x0 + bw / 2.0) / fw - 0.5, (y0 + bh / 2.0) / fh - 0.5],
        face_box: [x0, y0, bw, bh],
        brightness,
        clipped,
        sharpness,
        occlusion: occlusion(crop, &mesh.crop_points),
        presence: mesh.presence,
    }
}
