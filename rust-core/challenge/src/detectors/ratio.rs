//! Distance: the face's size against the baseline. Reaching the target ratio and holding it
//! passes; holding the opposite (moving away when asked to come closer) fails.

use super::{Baseline, Hold, Step};
use crate::config::EngineConfig;
use crate::observation::FaceObservation;

#[derive(Debug, Clone)]
pub(crate) struct Ratio {
    of: fn(&FaceObservation) -> f32,
    base: f32,
    target: f32,
    wrong: Option<f32>,
    reached_since: Hold,
    wrong_since: Hold,
}

impl Ratio {
    pub fn closer(b: &Baseline, c: &EngineConfig) -> Self {
        Self::new(
            |f| f.face_size,
            b.face_size,
            c.closer_ratio,
            Some(c.farther_ratio),
        )
    }

    pub fn farther(b: &Baseline, c: &EngineConfig) -> Self {
        Self::new(
            |f| f.face_size,
            b.face_size,
            c.farther_ratio,
            Some(c.closer_ratio),
        )
    }

    fn new(of: fn(&FaceObservation) -> f32, base: f32, target: f32, wrong: Option<f32>) -> Self {
        Self {
            of,
            base,
            target,
            wrong,
            reached_since: Hold::default(),
            wrong_since: Hold::default(),
        }
    }

    pub fn observe(&mut self, t: u64, f: &FaceObservation, c: &EngineConfig) -> Step {
        let r = (self.of)(f) / self.base.max(1e-6);
        let towards = self.target > 1.0;
        let reached = if towards {
            r >= self.target
        } else {
            r <= self.target
        };
        let wrong_way = self
            .wrong
            .is_some_and(|w| if towards { r <= w } else { r >= w });
        if self.wrong_since.update(t, wrong_way, c.hold_ms) {
            return Step::Failed("wrong_direction");
        }
        if self.reached_since.update(t, reached, c.hold_ms) {
            return Step::Passed;
        }
        let p = ((r - 1.0) / (self.target - 1.0)).clamp(0.0, 1.0) * 0.9;
        if reached {
            Step::Peak(p, (r - 1.0).abs())
        } else {
            Step::Pending(p)
        }
    }
}
