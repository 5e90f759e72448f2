//! Plane-to-plane projective maps (homographies): what a camera makes of a flat sheet. The
//! challenge engine fits them to landmarks (a flat print fits one, a face does not); the
//! synthetic subject's renderer maps a printed photo through one, exactly.

/// `x' = (h0·x + h1·y + h2) / (h6·x + h7·y + 1)`, `y' = (h3·x + h4·y + h5) / (…)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Homography {
    pub h: [f64; 8],
}

impl Homography {
    /// The homography taking each `from[i]` to `to[i]`; `None` when three points are
    /// collinear (no plane maps so).
    pub fn from_points(from: &[[f32; 2]; 4], to: &[[f32; 2]; 4]) -> Option<Self> {
        let mut a = [[0.0f64; 8]; 8];
        let mut b = [0.0f64; 8];
        for (i, (p, q)) in from.iter().zip(to).enumerate() {
            let (x, y, u, v) = (
                f64::from(p[0]),
                f64::from(p[1]),
                f64::from(q[0]),
                f64::from(q[1]),
            );
            a[2 * i] = [x, y, 1.0, 0.0, 0.0, 0.0, -x * u, -y * u];
            b[2 * i] = u;
            a[2 * i + 1] = [0.0, 0.0, 0.0, x, y, 1.0, -x * v, -y * v];
            b[2 * i + 1] = v;
        }
        solve8(a, b).map(|h| Self { h })
    }

    /// Maps a point; `None` where it goes to infinity (behind the camera, for a sheet).
    pub fn apply(&self, x: f32, y: f32) -> Option<[f32; 2]> {
        let h = &self.h;
        let (x, y) = (f64::from(x), f64::from(y));
        let w = h[6] * x + h[7] * y + 1.0;
        if w.abs() < 1e-12 {
            return None;
        }
        Some([
            ((h[0] * x + h[1] * y + h[2]) / w) as f32,
            ((h[3] * x + h[4] * y + h[5]) / w) as f32,
        ])
    }
}

/// Solves the 8×8 system `a·x = b` (Gaussian elimination, partial pivoting); `None` when it
/// is singular.
pub fn solve8(mut a: [[f64; 8]; 8], mut b: [f64; 8]) -> Option<[f64; 8]> {
    for col in 0..8 {
        let pivot = (col..8).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        let pivot_row = a[col];
        for row in col + 1..8 {
            let f = a[row][col] / pivot_row[col];
            for (x, p) in a[row].iter_mut().zip(pivot_row).skip(col) {
                *x -= f * p;
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = [0.0; 8];
    for row in (0..8).rev() {
        let s: f64 = (row + 1..8).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - s) / a[row][row];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_points_give_the_map_that_takes_them() {
        let from = [[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]];
        let to = [[2.0, 3.0], [14.0, 2.0], [12.0, 15.0], [1.0, 11.0]];
        let h = Homography::from_points(&from, &to).unwrap();
        for (p, q) in from.iter().zip(&to) {
            let m = h.apply(p[0], p[1]).unwrap();
            assert!(
                (m[0] - q[0]).abs() < 1e-4 && (m[1] - q[1]).abs() < 1e-4,
                "{m:?} {q:?}"
            );
        }
        let collinear = [[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0]];
        assert!(Homography::from_points(&collinear, &to).is_none());
    }
}
