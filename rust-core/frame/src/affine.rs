//! 2-D affine transforms between coordinate spaces (output tensor, upright frame, buffer).

/// `x' = a·x + b·y + c`, `y' = d·x + e·y + f`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Affine2 {
    pub m: [f32; 6],
}

impl Affine2 {
    pub const IDENTITY: Self = Self {
        m: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
    };

    pub const fn new(a: f32, b: f32, c: f32, d: f32, e: f32, f: f32) -> Self {
        Self {
            m: [a, b, c, d, e, f],
        }
    }

    #[inline]
    pub fn apply(&self, x: f32, y: f32) -> (f32, f32) {
        let [a, b, c, d, e, f] = self.m;
        (a * x + b * y + c, d * x + e * y + f)
    }

    /// `self ∘ first`: apply `first`, then `self`.
    pub fn after(&self, first: &Affine2) -> Affine2 {
        let [a, b, c, d, e, f] = self.m;
        let [p, q, r, s, t, u] = first.m;
        Affine2::new(
            a * p + b * s,
            a * q + b * t,
            a * r + b * u + c,
            d * p + e * s,
            d * q + e * t,
            d * r + e * u + f,
        )
    }

    /// The inverse, or `None` when the transform is degenerate.
    pub fn inverse(&self) -> Option<Affine2> {
        let [a, b, c, d, e, f] = self.m;
        let det = a * e - b * d;
        if det.abs() < 1e-12 || !det.is_finite() {
            return None;
        }
        let (ia, ib, id, ie) = (e / det, -b / det, -d / det, a / det);
        Some(Affine2::new(
            ia,
            ib,
            -(ia * c + ib * f),
            id,
            ie,
            -(id * c + ie * f),
        ))
    }

    /// Maps an `out × out` square to a square of side `side` centred on (`cx`, `cy`) and
    /// rotated by `angle` radians (clockwise in image coordinates, y down): how face and eye
    /// crops are taken.
    pub fn square_crop(cx: f32, cy: f32, side: f32, angle: f32, out: usize) -> Affine2 {
        let s = side / out as f32;
        let (sin, cos) = angle.sin_cos();
        let half = out as f32 / 2.0;
        // Output (u, v) -> centred, scaled, rotated -> frame.
        Affine2::new(s * cos, -s * sin, 0.0, s * sin, s * cos, 0.0)
            .after(&Affine2::new(1.0, 0.0, -half, 0.0, 1.0, -half))
            .then_translate(cx, cy)
    }

    /// Maps an `out × out` square onto the whole `w × h` frame, letterboxed (aspect kept,
    /// padding split evenly), as detectors expect.
    pub fn letterbox(w: f32, h: f32, out: usize) -> Affine2 {
        let side = w.max(h);
        let s = side / out as f32;
        Affine2::new(s, 0.0, (w - side) / 2.0, 0.0, s, (h - side) / 2.0)
    }

    fn then_translate(&self, x: f32, y: f32) -> Affine2 {
        let mut m = *self;
        m.m[2] += x;
        m.m[5] += y;
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: (f32, f32), b: (f32, f32)) -> bool {
        (a.0 - b.0).abs() < 1e-4 && (a.1 - b.1).abs() < 1e-4
    }

    #[test]
    fn inverse_and_composition() {
        let t = Affine2::square_crop(100.0, 50.0, 64.0, 0.3, 32);
        let inv = t.inverse().unwrap();
        for p in [(0.0, 0.0), (16.0, 16.0), (31.0, 3.0)] {
            assert!(close(
                inv.apply(t.apply(p.0, p.1).0, t.apply(p.0, p.1).1),
                p
            ));
        }
        // The crop's centre lands on the requested centre.
        assert!(close(t.apply(16.0, 16.0), (100.0, 50.0)));
        assert!(
            Affine2::new(1.0, 2.0, 0.0, 2.0, 4.0, 0.0)
                .inverse()
                .is_none()
        );
    }

    #[test]
    fn letterbox_keeps_aspect() {
        let t = Affine2::letterbox(640.0, 480.0, 128);
        assert!(close(t.apply(0.0, 0.0), (0.0, -80.0)));
        assert!(close(t.apply(128.0, 128.0), (640.0, 560.0)));
    }
}
