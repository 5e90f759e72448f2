//! Head turns (left, right, up, down): reach the angle from the baseline, hold it, come back
//! towards the centre. Turning the other way and holding it is a failure.

use super::{Baseline, Hold, Step};
use crate::config::EngineConfig;
use crate::observation::FaceObservation;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Axis {
    Yaw,
    Pitch,
}

#[derive(Debug, Clone)]
pub(crate) struct Turn {
    axis: Axis,
    /// +1 when the asked direction is positive yaw (the user's left) or pitch (up).
    sign: f32,
    threshold: f32,
    reached_since: Hold,
    wrong_since: Hold,
    peak: f32,
    held: bool,
}

impl Turn {
    pub fn new(axis: Axis, sign: f32, threshold: f32) -> Self {
        Self {
            axis,
            sign,
            threshold,
            reached_since: Hold::default(),
            wrong_since: Hold::default(),
            peak: 0.0,
            held: false,
        }
    }

    pub fn observe(&mut self, t: u64, f: &FaceObservation, b: &Baseline, c: &EngineConfig) -> Step {
        let raw = match self.axis {
            Axis::Yaw => f.yaw - b.yaw,
            Axis::Pitch => f.pitch - b.pitch,
        };
        let d = raw * self.sign;
        let quality = d.max(0.0);
        if self.wrong_since.update(t, d <= -self.threshold, c.hold_ms) {
            return Step::Failed("wrong_direction");
        }
        let new_peak = d > self.peak;
        self.peak = self.peak.max(d);
        if !self.held {
            if self.reached_since.update(t, d >= self.threshold, c.hold_ms) {
                self.held = true;
            }
            let p = (d / self.threshold).clamp(0.0, 1.0) * 0.6;
            return if self.held {
                Step::Peak(0.7, quality)
            } else if d >= self.threshold {
                Step::Peak(p, quality)
            } else {
                Step::Pending(p)
            };
        }
        if d <= self.peak * c.return_ratio {
            return Step::Passed;
        }
        if new_peak {
            Step::Peak(0.7, quality)
        } else {
            Step::Pending(0.7 + 0.3 * (1.0 - d / self.peak.max(1e-6)).clamp(0.0, 1.0))
        }
    }
}
