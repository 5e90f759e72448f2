//! What the engine answers: the prompt and events of every frame ([`Update`]), the frames to
//! keep as evidence ([`Capture`]) and the session's [`Outcome`].

use liveness_protocol::ChallengeKind;
use liveness_protocol::FrameRole;
use liveness_protocol::manifest::{StepRecord, StepResult};

use crate::guidance::Guidance;
use crate::light_step::{LightOutcome, ScreenRequest};

/// What the user is asked to do now.
#[derive(Debug, Clone, PartialEq)]
pub enum Prompt {
    /// Look at the camera, neutral, while the baseline is taken.
    LookAtCamera,
    /// Perform challenge `index` of the plan; for FollowText, where the text is now
    /// (thousandths of the screen).
    Challenge {
        index: u8,
        kind: ChallengeKind,
        target: Option<[f32; 2]>,
    },
    /// Hold still, looking at the screen, while it changes colour (the light step).
    LightCheck,
    /// Come back to a neutral pose before the next challenge.
    ReturnToCenter,
    Done,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    BaselineCaptured,
    ChallengeStarted {
        index: u8,
        kind: ChallengeKind,
    },
    ChallengeFinished {
        index: u8,
        kind: ChallengeKind,
        result: StepResult,
        reason: Option<&'static str>,
    },
    Finished {
        passed: bool,
    },
    /// Paint this colour (or go back to the normal view): the light step.
    Screen(ScreenRequest),
}

/// Keep this frame as evidence: the evidence store keeps the best (highest `quality`) frame
/// per role and challenge.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Capture {
    pub role: FrameRole,
    pub challenge_index: Option<u8>,
    pub quality: f32,
}

/// The answer to every frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    pub guidance: Option<Guidance>,
    pub prompt: Prompt,
    /// 0..1 within the current challenge, and over the whole session.
    pub step_progress: f32,
    pub session_progress: f32,
    pub events: Vec<Event>,
    pub captures: Vec<Capture>,
    pub outcome: Option<Outcome>,
}

/// One named check's result.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckOutcome {
    pub check: &'static str,
    pub passed: bool,
    pub score: f32,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub passed: bool,
    /// Why it failed (a stable code), when it did.
    pub failure: Option<&'static str>,
    pub checks: Vec<CheckOutcome>,
    pub timeline: Vec<StepRecord>,
    /// The light step's judged run, when it ran to the end.
    pub light: Option<Box<LightOutcome>>,
}
