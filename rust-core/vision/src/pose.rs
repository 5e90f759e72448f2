//! Head pose from the 3-D landmarks.
//!
//! No canonical face model ships in any registry package (MediaPipe's canonical mesh is not in
//! its wheel), so the pose is fitted to the face's own symmetry instead of a mean shape: the
//! left–right axis is the least-squares direction of the 61 mirror-image landmark pairs, the
//! up axis runs chin → forehead orthogonal to it, and the facing direction is their cross
//! product. A symmetric face looking at the camera gives yaw = roll = 0 exactly; pitch carries
//! a per-person offset (the chin–forehead line is not vertical in every face), which the
//! challenge engine removes by measuring against the user's own neutral baseline.

use crate::landmarks as lm;

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

/// The pose of a 468-point mesh, or `None` for a degenerate one.
pub fn head_pose(points: &[[f32; 3]]) -> Option<HeadPose> {
    if points.len() < lm::COUNT {
        return None;
    }
    let mut across = [0.0; 3];
    for &(r, l) in &lm::SYMMETRIC_PAIRS {
        let d = sub(points[l], points[r]);
        for k in 0..3 {
            across[k] += d[k];
        }
    }
    // Subject's left minus right: points to the image's right for a frontal face.
    let x = normalize(across)?;
    let up_raw = sub(points[lm::FOREHEAD_TOP], points[lm::CHIN]);
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
            let p = head_pose(&face(yaw, pitch, roll)).unwrap();
            assert!((p.yaw - yaw).abs() < 1.0, "{yaw} {pitch} {roll}: {p:?}");
            assert!((p.pitch - pitch).abs() < 1.0, "{yaw} {pitch} {roll}: {p:?}");
            assert!((p.roll - roll).abs() < 1.0, "{yaw} {pitch} {roll}: {p:?}");
        }
    }

    #[test]
    fn degenerate_meshes_give_none() {
        assert!(head_pose(&[[0.0; 3]; 10]).is_none());
        assert!(head_pose(&vec![[1.0; 3]; lm::COUNT]).is_none());
    }
}
