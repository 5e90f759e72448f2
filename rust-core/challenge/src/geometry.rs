//! Planar homography fitting, for the 3-D consistency check: a flat print or a screen maps
//! its landmarks from one pose to another by a single homography; a real head, whose nose,
//! cheeks and ears sit at different depths, does not (parallax).

use liveness_frame::homography::solve8;

/// Fits the homography taking `from` to `to` (least squares, normalised DLT with h33 = 1) and
/// returns the RMS reprojection error divided by the spread of `to`. `None` for fewer than
/// five points or a degenerate configuration.
pub fn homography_residual(from: &[[f32; 2]], to: &[[f32; 2]]) -> Option<f32> {
    let n = from.len().min(to.len());
    if n < 5 {
        return None;
    }
    let tf = normalisation(&from[..n]);
    let tt = normalisation(&to[..n]);
    let a: Vec<[f64; 2]> = from[..n].iter().map(|p| tf(*p)).collect();
    let b: Vec<[f64; 2]> = to[..n].iter().map(|p| tt(*p)).collect();
    // Rows: [x y 1 0 0 0 -x·u -y·u] h = u and [0 0 0 x y 1 -x·v -y·v] h = v.
    let mut ata = [[0.0f64; 8]; 8];
    let mut atb = [0.0f64; 8];
    for (p, q) in a.iter().zip(&b) {
        let (x, y, u, v) = (p[0], p[1], q[0], q[1]);
        for (row, rhs) in [
            ([x, y, 1.0, 0.0, 0.0, 0.0, -x * u, -y * u], u),
            ([0.0, 0.0, 0.0, x, y, 1.0, -x * v, -y * v], v),
        ] {
            for i in 0..8 {
                atb[i] += row[i] * rhs;
                for j in 0..8 {
                    ata[i][j] += row[i] * row[j];
                }
            }
        }
    }
    let h = solve8(ata, atb)?;
    let mut sq = 0.0;
    for (p, q) in a.iter().zip(&b) {
        let w = h[6] * p[0] + h[7] * p[1] + 1.0;
        if w.abs() < 1e-9 {
            return None;
        }
        let u = (h[0] * p[0] + h[1] * p[1] + h[2]) / w;
        let v = (h[3] * p[0] + h[4] * p[1] + h[5]) / w;
        sq += (u - q[0]).powi(2) + (v - q[1]).powi(2);
    }
    // In normalised units the points have RMS distance √2 from their centroid.
    Some(((sq / n as f64).sqrt() / std::f64::consts::SQRT_2) as f32)
}

type Transform = Box<dyn Fn([f32; 2]) -> [f64; 2]>;

/// Hartley normalisation: centroid to the origin, RMS distance √2.
fn normalisation(points: &[[f32; 2]]) -> Transform {
    let n = points.len() as f64;
    let cx = points.iter().map(|p| f64::from(p[0])).sum::<f64>() / n;
    let cy = points.iter().map(|p| f64::from(p[1])).sum::<f64>() / n;
    let rms = (points
        .iter()
        .map(|p| (f64::from(p[0]) - cx).powi(2) + (f64::from(p[1]) - cy).powi(2))
        .sum::<f64>()
        / n)
        .sqrt();
    let s = if rms > 1e-9 {
        std::f64::consts::SQRT_2 / rms
    } else {
        1.0
    };
    Box::new(move |p: [f32; 2]| [(f64::from(p[0]) - cx) * s, (f64::from(p[1]) - cy) * s])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> Vec<[f32; 2]> {
        (0..6)
            .flat_map(|i| (0..6).map(move |j| [i as f32 * 10.0, j as f32 * 12.0]))
            .collect()
    }

    #[test]
    fn a_plane_under_perspective_fits_exactly() {
        let from = grid();
        let to: Vec<[f32; 2]> = from
            .iter()
            .map(|p| {
                let w = 1.0 + 0.002 * p[0] - 0.001 * p[1];
                [
                    (1.1 * p[0] + 0.2 * p[1] + 5.0) / w,
                    (-0.1 * p[0] + 0.9 * p[1] + 7.0) / w,
                ]
            })
            .collect();
        assert!(homography_residual(&from, &to).unwrap() < 1e-4);
    }

    #[test]
    fn points_at_different_depths_do_not() {
        // Rotate a bumpy surface about the vertical axis: depth moves points sideways.
        let from3: Vec<[f32; 3]> = grid()
            .iter()
            .map(|p| [p[0], p[1], ((p[0] * 0.3).sin() + (p[1] * 0.2).cos()) * 15.0])
            .collect();
        let (s, c) = (0.5f32.sin(), 0.5f32.cos());
        let from: Vec<[f32; 2]> = from3.iter().map(|p| [p[0], p[1]]).collect();
        let to: Vec<[f32; 2]> = from3.iter().map(|p| [p[0] * c - p[2] * s, p[1]]).collect();
        assert!(homography_residual(&from, &to).unwrap() > 0.02);
        assert!(homography_residual(&from[..4], &to[..4]).is_none());
    }
}
