//! Smile: the mouth widens *and* its corners lift, together, and stay so.
//!
//! Mouth width alone cannot tell a smile from speech: on real talking-head clips an "ee"
//! widens the mouth by 20–24 % over the speaker's baseline. What speech does not do is lift
//! the corners towards the nose for long: a smile shrinks the distance from the base of the
//! nose down to the corners by 15 % and more (1.2–1.5× on real smiles, at most 1.14× in
//! talking). A smile therefore needs both ratios at once, held for `smile_hold_ms` (longer
//! than a vowel): on the real clips no talking window came within 1 % of passing, and every
//! deliberate smile passed, mirrored or not.

use super::{Baseline, Hold, Step};
use crate::config::EngineConfig;
use crate::observation::FaceObservation;

#[derive(Debug, Clone)]
pub(crate) struct Smile {
    width: f32,
    drop: f32,
    since: Hold,
}

impl Smile {
    pub fn new(b: &Baseline) -> Self {
        Self {
            width: b.smile.max(1e-6),
            drop: b.corner_drop.max(1e-6),
            since: Hold::default(),
        }
    }

    pub fn observe(&mut self, t: u64, f: &FaceObservation, c: &EngineConfig) -> Step {
        let wider = f.smile / self.width;
        let lifted = self.drop / f.corner_drop.max(1e-6);
        let reached = wider >= c.smile_ratio && lifted >= c.smile_lift_ratio;
        if self.since.update(t, reached, c.smile_hold_ms) {
            return Step::Passed;
        }
        // Progress and frame quality follow the weaker of the two.
        let towards = ((wider - 1.0) / (c.smile_ratio - 1.0))
            .min((lifted - 1.0) / (c.smile_lift_ratio - 1.0))
            .clamp(0.0, 1.0);
        let quality = (wider - 1.0).min(lifted - 1.0);
        if reached {
            Step::Peak(0.5 + 0.4 * towards, quality)
        } else {
            Step::Pending(0.5 * towards)
        }
    }
}
