//! What the session tells the host while it runs.

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

/// Receives events, from the session's worker threads: implementations must be thread-safe
/// and return quickly.
pub trait Observer: Send + Sync {
    fn on_event(&self, event: SessionEvent);
}

/// Drops every event.
#[derive(Debug, Default)]
pub struct NoObserver;

impl Observer for NoObserver {
    fn on_event(&self, _event: SessionEvent) {}
}

impl<F: Fn(SessionEvent) + Send + Sync> Observer for F {
    fn on_event(&self, event: SessionEvent) {
        self(event)
    }
}

/// Where the host reports when each light colour reached the screen (its presentation time,
/// in the clock of the frames it pushes: `CADisplayLink`/`CMSampleBuffer` host time on iOS,
/// `Choreographer`/`ImageProxy` `CLOCK_MONOTONIC`-based times on Android). Cheap to clone;
/// callable from any thread.
#[derive(Debug, Clone, Default)]
pub struct ScreenReports(std::sync::Arc<std::sync::Mutex<Vec<(u8, u64)>>>);

impl ScreenReports {
    /// Colour `index` (from [`SessionEvent::Screen`]) was on the screen from `t_ms`.
    pub fn presented(&self, index: u8, t_ms: u64) {
        if let Ok(mut v) = self.0.lock() {
            v.push((index, t_ms));
        }
    }

    pub(crate) fn drain(&self) -> Vec<(u8, u64)> {
        self.0
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }
}
