//! BlinkEyes: one real blink, measured the way eyes actually behave.
//!
//! Eye openness is read against a *running* open level (the median of the last 1.5 s), not
//! only the baseline: people talking look down, squint and widen their eyes, and a blink is a
//! dip from wherever the eyes are now. When the iris model ran, its lid opening (much deeper
//! at a blink than FaceMesh's eye-aspect ratio, and less moved by a downward glance) is
//! averaged with the eye-aspect ratio, each against its own open level.
//!
//! A blink is the time the openness stays below `open_ratio` of that level, with the crossing
//! times interpolated between frames (at 24 fps a whole blink may span three frames), that
//! dips at least to `closed_ratio` and lasts `blink_min_ms..=blink_max_ms`. A closure that is
//! too long (eyes held shut, or a blink merged with a downward glance) is not a failure: the
//! step waits for a real blink, and says `blink_too_slow` only if its time runs out.

use std::collections::VecDeque;

use super::{Baseline, Step, median};
use crate::config::EngineConfig;
use crate::observation::FaceObservation;

/// How much history the open level is the median of.
const REFERENCE_MS: u64 = 1500;

/// The running open level of one eye measure.
#[derive(Debug, Clone)]
struct Reference {
    /// Used until the window has enough samples of its own.
    seed: Option<f32>,
    samples: VecDeque<(u64, f32)>,
}

impl Reference {
    fn new(seed: Option<f32>) -> Self {
        Self {
            seed,
            samples: VecDeque::new(),
        }
    }

    fn push(&mut self, t: u64, v: f32) {
        self.samples.push_back((t, v));
        while self
            .samples
            .front()
            .is_some_and(|s| t.saturating_sub(s.0) > REFERENCE_MS)
        {
            self.samples.pop_front();
        }
    }

    /// The open level now: the window's median once it covers 400 ms, else the seed.
    fn level(&self) -> Option<f32> {
        let span = match (self.samples.front(), self.samples.back()) {
            (Some(a), Some(b)) => b.0 - a.0,
            _ => 0,
        };
        if span < 400 {
            return self.seed;
        }
        let m = median(self.samples.iter().map(|s| s.1).collect());
        (m > 0.0).then_some(m)
    }
}

/// A closure under way.
#[derive(Debug, Clone, Copy)]
struct Closure {
    /// Interpolated time the openness fell below the open threshold.
    start: f32,
    /// The open levels when it started (a closure is measured against those).
    ear_level: f32,
    lid_level: Option<f32>,
    deepest: f32,
}

#[derive(Debug, Clone)]
pub(crate) struct Blink {
    ear: Reference,
    lid: Reference,
    closure: Option<Closure>,
    /// The previous frame's time and openness (relative to the closure's levels when one is
    /// under way, else to the current levels).
    last: Option<(f32, f32)>,
    slow_seen: bool,
}

impl Blink {
    pub fn new(b: &Baseline) -> Self {
        Self {
            ear: Reference::new(Some(b.eyes)),
            lid: Reference::new(b.lid),
            closure: None,
            last: None,
            slow_seen: false,
        }
    }

    pub fn timeout_reason(&self) -> Option<&'static str> {
        self.slow_seen.then_some("blink_too_slow")
    }

    /// Openness relative to the given open levels: the mean of the two measures' ratios
    /// when the lid was measured on this frame and has a level, else the eye-aspect ratio's.
    fn openness(f: &FaceObservation, ear_level: f32, lid_level: Option<f32>) -> f32 {
        let ear = f.eyes() / ear_level.max(1e-6);
        match (f.eye_lid, lid_level) {
            (Some(lid), Some(level)) => 0.5 * (ear + lid / level.max(1e-6)),
            _ => ear,
        }
    }

    pub fn observe(&mut self, t: u64, f: &FaceObservation, c: &EngineConfig) -> Step {
        let step = self.judge(t as f32, f, c);
        self.ear.push(t, f.eyes());
        if let Some(lid) = f.eye_lid {
            self.lid.push(t, lid);
        }
        step
    }

    fn judge(&mut self, t: f32, f: &FaceObservation, c: &EngineConfig) -> Step {
        let (open_t, closed_t) = (c.open_ratio, c.closed_ratio);
        let Some(mut cl) = self.closure else {
            let Some(ear_level) = self.ear.level() else {
                return Step::Pending(0.0);
            };
            let lid_level = self.lid.level();
            let o = Self::openness(f, ear_level, lid_level);
            let previous = self.last.replace((t, o));
            if o >= open_t {
                return Step::Pending(0.0);
            }
            self.closure = Some(Closure {
                start: crossing(previous, (t, o), open_t),
                ear_level,
                lid_level,
                deepest: o,
            });
            return Step::Peak(0.3, 1.0 - o);
        };
        let o = Self::openness(f, cl.ear_level, cl.lid_level);
        let previous = self.last.replace((t, o));
        cl.deepest = cl.deepest.min(o);
        let deep = cl.deepest <= closed_t;
        let (min_ms, max_ms) = (c.blink_min_ms as f32, c.blink_max_ms as f32);
        if o >= open_t {
            self.closure = None;
            let duration = crossing(previous, (t, o), open_t) - cl.start;
            if deep && (min_ms..=max_ms).contains(&duration) {
                return Step::Passed;
            }
            self.slow_seen |= deep && duration > max_ms;
            return Step::Pending(0.0);
        }
        if t - cl.start > 2.0 * max_ms {
            // Far too long for a blink: a glance down or eyes held shut. Let the open level
            // follow the eyes where they are now.
            self.slow_seen |= deep;
            self.closure = None;
            self.last = None;
            return Step::Pending(0.0);
        }
        self.closure = Some(cl);
        Step::Peak(if deep { 0.6 } else { 0.3 }, 1.0 - o)
    }
}

/// The time `threshold` was crossed between the previous sample and this one (linear
/// interpolation); this sample's time when there is no previous one or no crossing.
fn crossing(prev: Option<(f32, f32)>, now: (f32, f32), threshold: f32) -> f32 {
    match prev {
        Some((t0, v0)) if (v0 - threshold) * (now.1 - threshold) <= 0.0 && v0 != now.1 => {
            let k = ((v0 - threshold) / (v0 - now.1)).clamp(0.0, 1.0);
            t0 + k * (now.0 - t0)
        }
        _ => now.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crossings_are_interpolated_between_frames() {
        // 1.0 at 0 ms, 0.5 at 40 ms: 0.9 is crossed a fifth of the way.
        assert!((crossing(Some((0.0, 1.0)), (40.0, 0.5), 0.9) - 8.0).abs() < 1e-3);
        assert_eq!(crossing(None, (40.0, 0.5), 0.9), 40.0);
        assert!((crossing(Some((100.0, 0.5)), (140.0, 1.0), 0.9) - 132.0).abs() < 1e-3);
    }
}
