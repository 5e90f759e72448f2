//! What a session tells the host while it runs: the capture's events and the upload's.

use liveness_protocol::{ChallengeKind, FrameRole};

#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SessionEvent {
    /// A problem the user must fix (`code` is stable, `text` the default English), or `None`
    /// when the last one cleared.
    Guidance {
        code: Option<&'static str>,
        text: Option<&'static str>,
    },
    /// What to ask of the user now (stable code and default English); for FollowText, where
    /// the text is (thousandths of the preview, x right and y down).
    Prompt {
        code: &'static str,
        text: &'static str,
        target: Option<[f32; 2]>,
    },
    /// 0..1 within the current challenge and over the session.
    Progress {
        step: f32,
        session: f32,
    },
    ChallengeStarted {
        index: u8,
        kind: ChallengeKind,
    },
    ChallengeFinished {
        index: u8,
        kind: ChallengeKind,
        passed: bool,
        reason: Option<String>,
    },
    Captured {
        role: FrameRole,
        challenge_index: Option<u8>,
    },
    /// The engine decided; evidence is being signed.
    LocalOutcome {
        passed: bool,
        failure: Option<String>,
    },
    Submitting {
        attempt: u32,
    },
    Submitted {
        job_id: String,
    },
    /// The server's job ended (`status` is `done`; the verdict is not the device's to see).
    Result {
        job_id: String,
        status: String,
    },
    Error {
        code: &'static str,
        message: String,
    },
    /// The light step: paint `rgb` full screen around the preview (at full brightness) and
    /// report when it showed through [`ScreenReports`]; `None` = back to the normal view.
    Screen {
        index: Option<u8>,
        rgb: Option<[u8; 3]>,
    },
}
