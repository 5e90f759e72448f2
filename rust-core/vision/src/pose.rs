//! Head pose from the 3-D landmarks.
//!
//! No canonical face model ships in any registry package (MediaPipe's canonical mesh is not in
//! its wheel), so the pose is fitted to the face's own symmetry instead of a mean shape: the
//! left–right axis is the least-squares direction of the 61 mirror-image landmark pairs, the
//! up axis runs chin → forehead orthogonal to it, and the facing direction is their cross
//! product. A symmetric face looking at the camera gives yaw = roll = 0 exactly; pitch carries
//! a per-person offset (the chin–forehead line is not vertical in every face), which the
//! challenge engine removes by measuring against the user's own neutral baseline.
//!
//! FaceMesh's depth is flatter than its image plane, so axes fitted to the raw points
//! under-read turns: against the synthetic subject's known pose (yaw and pitch from −45° to
//! +45°, three distances, roll 0° and 15°) raw yaw read 0.81–0.93× the truth and raw pitch
//! 1.12–1.15×. Depth is therefore stretched by [`DEPTH_GAIN`] before the fit and pitch scaled
//! by [`PITCH_GAIN`] after it; the corrected angles (relative to the pose at 0°) stay within
//! about 4° of the truth up to ±20° and 5.5° up to ±30° (`liveness pose-check` prints the
//! curve and the test command asserts it; `liveness eval` reports it). The rendered head's own depth is FaceMesh's, so this corrects the
//! model's bias, not a particular face; on a real webcam clip an independent 2-D estimate
//! (how much the face's width shrinks against its height) agreed with the corrected yaw.

use crate::landmarks as lm;

/// Stretch applied to FaceMesh depth before the axes are fitted (see the module docs).
pub const DEPTH_GAIN: f32 = 1.15;
/// Scale applied to the fitted pitch (see the module docs).
pub const PITCH_GAIN: f32 = 0.8;

/// Degrees, in the image's terms: `yaw > 0` when the nose points to the image's right,
/// `pitch > 0` when it points up, `roll > 0` when the face is turned clockwise in the image.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct HeadPose {
    pub yaw: f32,
    pub pitch: f32,
    pub roll: f32,
}

type V3 = [f32; 3];

fn sub(a: V3, b: V3) -> V3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn dot(a: V3, b: V3) -> f32 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn cross(a: V3, b: V3) -> V3 {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn normalize(a: V3) -> Option<V3> {
    let n = dot(a, a).sqrt();
    (n > 1e-6).then(|| [a[0] / n, a[1] / n, a[2] / n])
}

/// The pose of a 468-point FaceMesh, bias-corrected (see the module docs), or `None` for a
/// degenerate one.
pub fn head_pose(points: &[[f32; 3]]) -> Option<HeadPose> {
    let raw = fit_axes(points, DEPTH_GAIN)?;
    Some(HeadPose {
        pitch: raw.pitch * PITCH_GAIN,
        ..raw
    })
}

/// The pose of the axes fitted to `points` with their depth scaled by `depth_gain`.
fn fit_axes(points: &[[f32; 3]], depth_gain: f32) -> Option<HeadPose> {
    if points.len() < lm::COUNT {
        return None;
    }
    let at = |i: usize| {
        let p = points[i];
        [p[0], p[1], p[2] * depth_gain]
    };
    let mut across = [0.0; 3];
    for &(r, l) in &lm::SYMMETRIC_PAIRS {
        let d = sub(at(l), at(r));
        for k in 0..3 {
            across[k] += d[k];
        }
    }
    // Subject's left minus right: points to the image's right for a frontal face.
    let x = normalize(across)?;
    let up_raw = sub(at(lm::FOREHEAD_TOP), at(lm::CHIN));
    let proj = dot(up_raw, x);
    let y = normalize([
        up_raw[0] - proj * x[0],
        up_raw[1] - proj * x[1],
        up_raw[2] - proj * x[2],
    ])?;
    // Image axes: x right, y down, z away from the camera. For a frontal face x ≈ (1,0,0)
    // and y ≈ (0,-1,0), so x × y ≈ (0,0,-1): towards the camera, the way the nose points.
    let f = cross(x, y);
    // Convention: R = yaw · pitch · roll, roll being about the face's own forward axis, so
    // yaw and pitch come from the facing direction alone and roll is the turn of the
    // left-right axis about it, from where it would be with no roll.
    let yaw = f[0].atan2(-f[2]);
    let pitch = (-f[1]).atan2(f[0].hypot(f[2]));
    let x_unrolled = [yaw.cos(), 0.0, yaw.sin()];
    let roll = (-dot(cross(x_unrolled, x), f)).atan2(dot(x_unrolled, x));
    Some(HeadPose {
        yaw: yaw.to_degrees(),
        pitch: pitch.to_degrees(),
        roll: roll.to_degrees(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A synthetic symmetric "face": pairs mirrored about x = 0, chin below, forehead above,
    /// posed by a known rotation.
    fn face(yaw: f32, pitch: f32, roll: f32) -> Vec<[f32; 3]> {
        let mut p = vec![[0.0f32; 3]; lm::COUNT];
        for (i, &(r, l)) in lm::SYMMETRIC_PAIRS.iter().enumerate() {
            let (xx, yy, zz) = (
                10.0 + (i % 7) as f32 * 5.0,
                -30.0 + i as f32,
                (i % 5) as f32 * 3.0,
            );
            p[r] = [-xx, yy, zz];
            p[l] = [xx, yy, zz];
        }
        p[lm::FOREHEAD_TOP] = [0.0, -60.0, 5.0];
        p[lm::CHIN] = [0.0, 60.0, 5.0];
        let (y, x, z) = (yaw.to_radians(), pitch.to_radians(), roll.to_radians());
        p.iter()
            .map(|&[a, b, c]| {
                // Roll first (clockwise in the image, about the face's forward axis), then
                // pitch (nose up = -y), then yaw about the vertical (nose towards +x).
                let (a, b) = (a * z.cos() - b * z.sin(), a * z.sin() + b * z.cos());
                let (b, c) = (b * x.cos() + c * x.sin(), -b * x.sin() + c * x.cos());
                let (a, c) = (a * y.cos() - c * y.sin(), a * y.sin() + c * y.cos());
                [a, b, c]
            })
            .collect()
    }

    #[test]
    fn recovers_known_poses() {
        for (yaw, pitch, roll) in [
            (0.0, 0.0, 0.0),
            (25.0, 0.0, 0.0),
            (-30.0, 0.0, 0.0),
            (0.0, 15.0, 0.0),
            (0.0, -20.0, 0.0),
            (0.0, 0.0, 12.0),
            (20.0, 10.0, -8.0),
        ] {
            let p = fit_axes(&face(yaw, pitch, roll), 1.0).unwrap();
            assert!((p.yaw - yaw).abs() < 1.0, "{yaw} {pitch} {roll}: {p:?}");
            assert!((p.pitch - pitch).abs() < 1.0, "{yaw} {pitch} {roll}: {p:?}");
            assert!((p.roll - roll).abs() < 1.0, "{yaw} {pitch} {roll}: {p:?}");
        }
    }

    #[test]
    fn the_bias_correction_stretches_depth_and_scales_pitch() {
        // A face whose depth reads flatter by DEPTH_GAIN, as FaceMesh's does: the corrected
        // yaw is the true one, the pitch the true one times PITCH_GAIN.
        let flat = |yaw: f32, pitch: f32| -> Vec<[f32; 3]> {
            face(yaw, pitch, 0.0)
                .iter()
                .map(|p| [p[0], p[1], p[2] / DEPTH_GAIN])
                .collect()
        };
        let p = head_pose(&flat(25.0, 0.0)).unwrap();
        assert!((p.yaw - 25.0).abs() < 1.0, "{p:?}");
        let raw = fit_axes(&flat(25.0, 0.0), 1.0).unwrap();
        assert!(
            raw.yaw < 23.0,
            "uncorrected, the flat face under-reads: {raw:?}"
        );
        let p = head_pose(&flat(0.0, 20.0)).unwrap();
        assert!((p.pitch - 20.0 * PITCH_GAIN).abs() < 1.0, "{p:?}");
    }

    #[test]
    fn degenerate_meshes_give_none() {
        assert!(head_pose(&[[0.0; 3]; 10]).is_none());
        assert!(head_pose(&vec![[1.0; 3]; lm::COUNT]).is_none());
    }
}
