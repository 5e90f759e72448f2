//! The face's colour response to the screen, fitted frame by frame.
//!
//! A colour `S` on the screen adds `K·a·S` to the light a face region of albedo `a` sends
//! back (linear light; `K` falls with the square of the distance and with the angle between
//! the region and the screen), on top of the ambient `a·A`. After the camera's white balance
//! the ambient is roughly grey, so the log-chromaticity of a region,
//! `y_c = ln m_c − mean over channels of ln m`, moves by `w·(S_c − mean S)` with `w = K/A`
//! — and the camera's exposure, a common gain, drops out. For each candidate lag the fit is
//! one least-squares gain `w` per region over all frames and channels; its squared
//! correlation says how much of the face's colour change the screen explains.

use crate::tile::RegionMeans;

/// When each colour reached the screen, and when the screen went back to the normal view.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub colours: Vec<(u64, [u8; 3])>,
    pub restored_ms: u64,
}

impl Schedule {
    /// The colour on the screen at `t`, `None` before the first or after the restore.
    fn at(&self, t: f64) -> Option<[u8; 3]> {
        let first = self.colours.first()?;
        if t < first.0 as f64 || t >= self.restored_ms as f64 {
            return None;
        }
        self.colours
            .iter()
            .rev()
            .find(|(p, _)| t >= *p as f64)
            .map(|(_, c)| *c)
    }
}

/// What the fit found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Response {
    /// Squared correlation of the centre region's colour change with the screen's (0..1).
    pub fit: f32,
    /// The lag (ms) at which the fit is best: reflection arrives with the screen, a replayed
    /// or re-lit picture after its own processing delay.
    pub lag_ms: i32,
    /// The centre region's gain `w` (relative colour change per unit of screen chroma).
    pub gain: f32,
    /// The periphery's and the ring's gain over the centre's, at that lag: a convex face lit
    /// from the front is brighter in the middle than at its sides, and the room behind it is
    /// far; a print or a screen answers the same everywhere.
    pub periphery_ratio: f32,
    pub ring_ratio: f32,
    /// Frames the fit used.
    pub frames: usize,
}

pub const MIN_LAG_MS: i32 = -60;
pub const MAX_LAG_MS: i32 = 400;
const LAG_STEP_MS: i32 = 10;

fn linear(v: f32) -> f32 {
    (v / 255.0).clamp(0.0, 1.0).powf(2.2)
}

fn log_chroma(rgb: [f32; 3]) -> [f32; 3] {
    // A floor of 1/255 linear keeps black pixels from dominating the logarithm.
    let l = rgb.map(|v| (linear(v) + 1.0 / 255.0).ln());
    let m = (l[0] + l[1] + l[2]) / 3.0;
    l.map(|v| v - m)
}

fn screen_chroma(rgb: [u8; 3]) -> [f32; 3] {
    let l = rgb.map(|v| linear(f32::from(v)));
    let m = (l[0] + l[1] + l[2]) / 3.0;
    l.map(|v| v - m)
}

/// One region's least-squares gain and squared correlation over paired series of
/// per-channel values (each channel's own mean removed).
fn fit(x: &[[f32; 3]], y: &[[f32; 3]]) -> (f32, f32) {
    let n = x.len().max(1) as f32;
    let mut mx = [0f32; 3];
    let mut my = [0f32; 3];
    for (a, b) in x.iter().zip(y) {
        for c in 0..3 {
            mx[c] += a[c] / n;
            my[c] += b[c] / n;
        }
    }
    let (mut sxy, mut sxx, mut syy) = (0f64, 0f64, 0f64);
    for (a, b) in x.iter().zip(y) {
        for c in 0..3 {
            let (dx, dy) = (f64::from(a[c] - mx[c]), f64::from(b[c] - my[c]));
            sxy += dx * dy;
            sxx += dx * dx;
            syy += dy * dy;
        }
    }
    if sxx <= 1e-12 || syy <= 1e-12 {
        return (0.0, 0.0);
    }
    ((sxy / sxx) as f32, (sxy * sxy / (sxx * syy)) as f32)
}

/// Fits the response of `samples` (capture time in ms, region means) to `schedule`. `None`
/// when fewer than `min_frames` frames fall in the sequence at any lag.
pub fn fit_response(
    samples: &[(u64, RegionMeans)],
    schedule: &Schedule,
    min_frames: usize,
) -> Option<Response> {
    let chroma: Vec<(u64, [[f32; 3]; 3])> = samples
        .iter()
        .map(|(t, m)| {
            (
                *t,
                [
                    log_chroma(m.centre),
                    log_chroma(m.periphery),
                    log_chroma(m.ring),
                ],
            )
        })
        .collect();
    let mut best: Option<Response> = None;
    let mut lag = MIN_LAG_MS;
    while lag <= MAX_LAG_MS {
        let mut x = Vec::with_capacity(chroma.len());
        let mut ys: [Vec<[f32; 3]>; 3] = Default::default();
        for (t, regions) in &chroma {
            let Some(colour) = schedule.at(*t as f64 - f64::from(lag)) else {
                continue;
            };
            x.push(screen_chroma(colour));
            for (r, y) in regions.iter().zip(ys.iter_mut()) {
                y.push(*r);
            }
        }
        if x.len() >= min_frames {
            let (gain, r2) = fit(&x, &ys[0]);
            if gain > 0.0 && best.is_none_or(|b| r2 > b.fit) {
                let ratio = |y: &[[f32; 3]]| fit(&x, y).0 / gain;
                best = Some(Response {
                    fit: r2,
                    lag_ms: lag,
                    gain,
                    periphery_ratio: ratio(&ys[1]),
                    ring_ratio: ratio(&ys[2]),
                    frames: x.len(),
                });
            }
        }
        lag += LAG_STEP_MS;
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule() -> Schedule {
        let colours = [
            [255, 255, 255],
            [40, 90, 255],
            [255, 220, 40],
            [0, 220, 255],
            [200, 60, 255],
            [40, 230, 80],
        ];
        Schedule {
            colours: colours
                .iter()
                .enumerate()
                .map(|(i, c)| (1000 + 400 * i as u64, *c))
                .collect(),
            restored_ms: 3400,
        }
    }

    /// A region of albedo `a` under grey ambient plus `k` times the screen, `lag` late.
    fn lit(s: &Schedule, t: u64, lag: u64, k: [f32; 3]) -> RegionMeans {
        let screen = s
            .at(t as f64 - lag as f64)
            .map_or([0.0; 3], |c| c.map(|v| linear(f32::from(v))));
        let a = [0.45, 0.3, 0.25];
        let px = |k: f32| [0, 1, 2].map(|c| 255.0 * (a[c] * (1.0 + k * screen[c])).powf(1.0 / 2.2));
        RegionMeans {
            centre: px(k[0]),
            periphery: px(k[1]),
            ring: px(k[2]),
        }
    }

    #[test]
    fn a_lit_face_fits_at_its_lag_with_its_shape() {
        let s = schedule();
        for lag in [0u64, 150] {
            let samples: Vec<_> = (0..90)
                .map(|i| {
                    let t = 900 + i * 33;
                    (t, lit(&s, t, lag, [0.2, 0.12, 0.01]))
                })
                .collect();
            let r = fit_response(&samples, &s, 30).unwrap();
            assert!(r.fit > 0.9, "{r:?}");
            assert!((r.lag_ms - lag as i32).abs() <= 30, "{r:?}");
            assert!((r.periphery_ratio - 0.6).abs() < 0.1, "{r:?}");
            assert!(r.ring_ratio.abs() < 0.1, "{r:?}");
        }
    }

    #[test]
    fn an_unlit_picture_does_not_fit() {
        let s = schedule();
        // Its own colour changes, on another schedule.
        let other = Schedule {
            colours: s
                .colours
                .iter()
                .rev()
                .enumerate()
                .map(|(i, (_, c))| (1000 + 370 * i as u64, *c))
                .collect(),
            restored_ms: 3400,
        };
        let samples: Vec<_> = (0..90)
            .map(|i| {
                let t = 900 + i * 33;
                (t, lit(&other, t, 0, [0.2, 0.12, 0.01]))
            })
            .collect();
        let r = fit_response(&samples, &s, 30).unwrap();
        assert!(r.fit < 0.5, "{r:?}");
        assert!(fit_response(&samples[..10], &s, 30).is_none());
    }
}
