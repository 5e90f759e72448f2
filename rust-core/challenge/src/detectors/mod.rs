//! Per-challenge detectors. Each reads one step's face measurements *relative to the user's
//! own baseline* and answers, frame by frame, with progress, a frame worth keeping as the
//! step's peak, a pass or a failure. One family per file: eyes ([`blink`]), head turns
//! ([`turn`]), distance ([`ratio`]), the mouth ([`smile`]) and following the moving text
//! ([`follow`]).

mod blink;
mod follow;
mod ratio;
mod smile;
mod turn;

use liveness_protocol::ChallengeKind;

use crate::config::EngineConfig;
use crate::observation::FaceObservation;

/// The user's neutral face: medians over the baseline window.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Baseline {
    /// Mean eye-aspect ratio of both eyes (FaceMesh).
    pub eyes: f32,
    /// Mean lid opening of both eyes (iris model), when it ran during the baseline.
    pub lid: Option<f32>,
    pub yaw: f32,
    pub pitch: f32,
    pub smile: f32,
    pub corner_drop: f32,
    pub face_size: f32,
}

pub(crate) fn median(mut v: Vec<f32>) -> f32 {
    v.sort_by(f32::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

impl Baseline {
    pub fn from(samples: &[FaceObservation]) -> Self {
        let m = |f: fn(&FaceObservation) -> f32| median(samples.iter().map(f).collect());
        let lids: Vec<f32> = samples.iter().filter_map(|s| s.eye_lid).collect();
        Self {
            eyes: m(FaceObservation::eyes),
            // Only a lid measured on most of the window is a baseline.
            lid: (lids.len() * 2 > samples.len()).then(|| median(lids)),
            yaw: m(|s| s.yaw),
            pitch: m(|s| s.pitch),
            smile: m(|s| s.smile),
            corner_drop: m(|s| s.corner_drop),
            face_size: m(|s| s.face_size),
        }
    }

    /// Back to a neutral pose between challenges (looser than the challenges themselves).
    /// The distance is not part of it: each distance step starts from where the user is.
    pub fn is_neutral(&self, f: &FaceObservation, c: &EngineConfig) -> bool {
        (f.yaw - self.yaw).abs() < c.yaw_deg * 0.5
            && (f.pitch - self.pitch).abs() < c.pitch_deg * 0.6
            && f.eyes() > self.eyes * c.open_ratio * 0.9
    }
}

/// What one frame means for the step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Step {
    /// Not there yet; progress 0..1.
    Pending(f32),
    /// Progress, and this frame is a candidate peak of the given quality (larger is a more
    /// telling frame: eyes more closed, head further turned).
    Peak(f32, f32),
    Passed,
    Failed(&'static str),
}

/// Per-challenge detector state.
#[derive(Debug, Clone)]
pub(crate) enum Detector {
    Blink(blink::Blink),
    Turn(turn::Turn),
    Ratio(ratio::Ratio),
    Smile(smile::Smile),
    Follow(follow::Follow),
}

impl Detector {
    pub fn new(
        kind: ChallengeKind,
        b: &Baseline,
        c: &EngineConfig,
        path: Option<Vec<[f32; 3]>>,
    ) -> Self {
        use turn::Axis::{Pitch, Yaw};
        match kind {
            ChallengeKind::BlinkEyes => Self::Blink(blink::Blink::new(b)),
            ChallengeKind::HeadLeft => Self::Turn(turn::Turn::new(Yaw, 1.0, c.yaw_deg)),
            ChallengeKind::HeadRight => Self::Turn(turn::Turn::new(Yaw, -1.0, c.yaw_deg)),
            ChallengeKind::HeadUp => Self::Turn(turn::Turn::new(Pitch, 1.0, c.pitch_deg)),
            ChallengeKind::HeadDown => Self::Turn(turn::Turn::new(Pitch, -1.0, c.pitch_deg)),
            ChallengeKind::MoveTowardsCamera => Self::Ratio(ratio::Ratio::closer(b, c)),
            ChallengeKind::MoveAwayFromCamera => Self::Ratio(ratio::Ratio::farther(b, c)),
            ChallengeKind::Smile => Self::Smile(smile::Smile::new(b)),
            ChallengeKind::FollowText => {
                Self::Follow(follow::Follow::new(path.unwrap_or_default()))
            }
        }
    }

    /// Head movements show parallax and may turn the head; the other steps may not.
    pub fn is_head_movement(&self) -> bool {
        matches!(self, Self::Turn(_) | Self::Follow(_))
    }

    /// Whether the iris model should refine the eyes on the next frames.
    pub fn wants_lids(&self) -> bool {
        matches!(self, Self::Blink(_))
    }

    /// `t` is milliseconds since the step started.
    pub fn observe(&mut self, t: u64, f: &FaceObservation, b: &Baseline, c: &EngineConfig) -> Step {
        match self {
            Self::Blink(d) => d.observe(t, f, c),
            Self::Turn(d) => d.observe(t, f, b, c),
            Self::Ratio(d) => d.observe(t, f, c),
            Self::Smile(d) => d.observe(t, f, c),
            Self::Follow(d) => d.observe(t, f, b, c),
        }
    }

    /// Why the step failed when its time ran out: what the user came closest to, when that
    /// says more than "timed out".
    pub fn timeout_reason(&self) -> Option<&'static str> {
        match self {
            Self::Blink(d) => d.timeout_reason(),
            _ => None,
        }
    }

    /// The target's position at `t` ms into a FollowText step.
    pub fn target(&self, t: u64) -> Option<[f32; 2]> {
        match self {
            Self::Follow(d) => Some(d.target(t)),
            _ => None,
        }
    }
}

/// A condition held over time. One frame that drops out (a landmark glitch, a duplicated
/// frame measured a hair lower) does not restart the hold: it must be false for longer than
/// [`Hold::GRACE_MS`] to count as let go.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Hold {
    since: Option<u64>,
    last_on: Option<u64>,
}

impl Hold {
    pub const GRACE_MS: u64 = 100;

    /// Whether the condition has held for `hold_ms` at `t`.
    pub fn update(&mut self, t: u64, on: bool, hold_ms: u32) -> bool {
        if on {
            self.last_on = Some(t);
            let since = *self.since.get_or_insert(t);
            return t.saturating_sub(since) >= u64::from(hold_ms);
        }
        if self
            .last_on
            .is_none_or(|last| t.saturating_sub(last) > Self::GRACE_MS)
        {
            self.since = None;
        }
        false
    }
}
