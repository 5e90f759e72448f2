//! The phone's screen as a light on the synthetic scene: what it showed when (the display
//! side of the closed loop), and the shading that light gives — Lambert on the head's own
//! normals, inverse-square with distance, a little on the far background — over the room's
//! ambient light, with the camera's auto-exposure pulling part of it back.

use crate::render::Rng;

/// What the phone's screen showed, as (presentation time in ms, colour or `None` for the
/// normal view), in time order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Illumination {
    shown: Vec<(u64, Option<[u8; 3]>)>,
}

/// How strongly the far background catches the screen's light relative to the face (a wall
/// ~5× farther than the face: 1/25).
pub const BACKGROUND_SHADE: f32 = 0.04;
/// Auto-exposure: the time constant of the camera's metering (ms) and the share of the
/// face's brightening it undoes (the face fills about a quarter of the frame).
const AE_TAU_MS: f32 = 250.0;
const AE_SHARE: f32 = 0.35;

/// Tables for the gamma conversions: a frame of the light step converts every pixel twice,
/// and `powf` per sample made rendering several times slower.
struct Tables {
    linear: Vec<f32>,
    srgb: Vec<f32>,
}

const LINEAR_STEPS: usize = 1024;
const SRGB_STEPS: usize = 8192;

fn tables() -> &'static Tables {
    static T: std::sync::OnceLock<Tables> = std::sync::OnceLock::new();
    T.get_or_init(|| Tables {
        linear: (0..=LINEAR_STEPS)
            .map(|i| (i as f32 / LINEAR_STEPS as f32).powf(2.2))
            .collect(),
        srgb: (0..=SRGB_STEPS)
            .map(|i| 255.0 * (i as f32 / SRGB_STEPS as f32).powf(1.0 / 2.2))
            .collect(),
    })
}

fn lookup(table: &[f32], x: f32) -> f32 {
    let n = (table.len() - 1) as f32;
    let p = (x * n).clamp(0.0, n);
    let i = p as usize;
    let f = p - i as f32;
    let a = table[i];
    let b = table[(i + 1).min(table.len() - 1)];
    a + (b - a) * f
}

/// sRGB value (0..255) to linear light (0..1).
pub fn to_linear(v: f32) -> f32 {
    lookup(&tables().linear, v / 255.0)
}

/// Linear light (0..1, more is clipped) to an sRGB value (0..255).
pub fn to_srgb(v: f32) -> f32 {
    if v >= 1.0 {
        return 255.0 * v.powf(1.0 / 2.2);
    }
    lookup(&tables().srgb, v)
}

impl Illumination {
    pub fn show(&mut self, t_ms: u64, colour: Option<[u8; 3]>) {
        self.shown.push((t_ms, colour));
    }

    /// A schedule recorded in some other session: `n` palette colours from `start_ms`,
    /// `step_ms` each, drawn from `seed` (what a replayed recording was lit by).
    pub fn recorded(seed: u64, start_ms: u64, step_ms: u64, n: usize) -> Self {
        let palette = liveness_protocol::light::PALETTE;
        let mut rng = Rng::new(seed ^ 0x5eed_11a7);
        let mut out = Self::default();
        let mut prev = usize::MAX;
        for i in 0..n {
            let mut c = (rng.next_u64() % palette.len() as u64) as usize;
            if c == prev {
                c = (c + 1) % palette.len();
            }
            prev = c;
            out.show(start_ms + i as u64 * step_ms, Some(palette[c]));
        }
        out.show(start_ms + n as u64 * step_ms, None);
        out
    }

    pub fn is_dark(&self) -> bool {
        self.shown.iter().all(|(_, c)| c.is_none())
    }

    /// The colour on the screen at `t_ms`.
    pub fn at(&self, t_ms: f32) -> Option<[u8; 3]> {
        self.shown
            .iter()
            .rev()
            .find(|(t, _)| *t as f32 <= t_ms)
            .and_then(|(_, c)| *c)
    }

    /// The screen's light in linear units (0..1 a channel) at `t_ms`.
    pub fn linear_at(&self, t_ms: f32) -> [f32; 3] {
        self.at(t_ms)
            .map_or([0.0; 3], |c| c.map(|v| to_linear(f32::from(v))))
    }

    /// The screen's luminance as the camera's metering has followed it up to `t_ms`
    /// (an exponential average over the presentation history).
    fn metered_luma(&self, t_ms: f32) -> f32 {
        let luma = |c: [f32; 3]| 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
        let mut level = 0.0;
        let mut prev_t: Option<f32> = None;
        let mut current = 0.0;
        for (t, c) in &self.shown {
            let t = *t as f32;
            if t > t_ms {
                break;
            }
            if let Some(p) = prev_t {
                let a = (-(t - p) / AE_TAU_MS).exp();
                level = level * a + current * (1.0 - a);
            }
            current = c.map_or(0.0, |c| luma(c.map(|v| to_linear(f32::from(v)))));
            prev_t = Some(t);
        }
        if let Some(p) = prev_t {
            let a = (-(t_ms - p) / AE_TAU_MS).exp();
            level = level * a + current * (1.0 - a);
        }
        level
    }

    /// Multiplies `rgb` (sRGB values) by what the screen adds: each pixel's linear value
    /// times `1 + ratio·S·shade`, then the auto-exposure's gain. `ratio` is the screen's
    /// illuminance on the face over the ambient's. Returns without touching anything when
    /// the screen showed no colour.
    pub fn light(&self, rgb: &mut [f32], shade: &[f32], t_ms: f32, ratio: f32, ae_ms: f32) {
        let s = self.linear_at(t_ms);
        let gain = 1.0 / (1.0 + AE_SHARE * ratio * self.metered_luma(ae_ms));
        // Nothing on the screen and the exposure settled back: the frame is as it was.
        if s == [0.0; 3] && gain > 0.999 {
            return;
        }
        for (px, &k) in rgb.chunks_exact_mut(3).zip(shade) {
            for c in 0..3 {
                px[c] = to_srgb(to_linear(px[c]) * (1.0 + ratio * s[c] * k) * gain);
            }
        }
    }

    /// Adds a uniform glare of the screen's light (a glossy screen or sheet), in linear units
    /// relative to full white.
    pub fn glare(&self, rgb: &mut [f32], mask: &[bool], t_ms: f32, share: f32) {
        let s = self.linear_at(t_ms);
        if s == [0.0; 3] {
            return;
        }
        for (px, &on) in rgb.chunks_exact_mut(3).zip(mask) {
            if on {
                for c in 0..3 {
                    px[c] = to_srgb(to_linear(px[c]) + share * s[c]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_screen_brightens_lit_pixels_and_exposure_pulls_back() {
        let mut il = Illumination::default();
        let mut rgb = vec![100.0; 6];
        il.light(&mut rgb, &[1.0, 0.0], 0.0, 0.5, 0.0);
        assert_eq!(rgb, vec![100.0; 6], "nothing shown, nothing changes");
        il.show(0, Some([255, 255, 255]));
        let mut rgb = vec![100.0; 6];
        il.light(&mut rgb, &[1.0, 0.0], 10.0, 0.5, 10.0);
        assert!(rgb[0] > 110.0, "{rgb:?}");
        // Just after the change the metering has not caught up; a second later it has.
        let mut later = vec![100.0; 6];
        il.light(&mut later, &[1.0, 0.0], 1000.0, 0.5, 1000.0);
        assert!(later[0] < rgb[0] && later[3] < 100.0, "{later:?}");
        assert_eq!(il.at(5.0), Some([255, 255, 255]));
        let rec = Illumination::recorded(3, 1000, 400, 6);
        assert!(rec.at(900.0).is_none() && rec.at(1100.0).is_some() && rec.at(3500.0).is_none());
    }
}
