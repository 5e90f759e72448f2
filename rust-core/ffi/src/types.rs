//! Records and enums as the bindings see them, and their conversions from the session crate.

use std::time::Duration;

use liveness_protocol::manifest::DeviceInfo;
use liveness_protocol::{ChallengeKind, FrameRole};
use liveness_session::{PinSet, SessionConfig, SessionEvent};
use liveness_vision::Precision;

use crate::error::LivenessError;

/// A challenge the user performs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum Challenge {
    HeadLeft,
    HeadRight,
    HeadUp,
    HeadDown,
    MoveCloser,
    MoveAway,
    FollowText,
    Blink,
    Smile,
}

impl From<ChallengeKind> for Challenge {
    fn from(k: ChallengeKind) -> Self {
        match k {
            ChallengeKind::HeadLeft => Self::HeadLeft,
            ChallengeKind::HeadRight => Self::HeadRight,
            ChallengeKind::HeadUp => Self::HeadUp,
            ChallengeKind::HeadDown => Self::HeadDown,
            ChallengeKind::MoveTowardsCamera => Self::MoveCloser,
            ChallengeKind::MoveAwayFromCamera => Self::MoveAway,
            ChallengeKind::FollowText => Self::FollowText,
            ChallengeKind::BlinkEyes => Self::Blink,
            ChallengeKind::Smile => Self::Smile,
        }
    }
}

impl From<Challenge> for ChallengeKind {
    fn from(c: Challenge) -> Self {
        match c {
            Challenge::HeadLeft => Self::HeadLeft,
            Challenge::HeadRight => Self::HeadRight,
            Challenge::HeadUp => Self::HeadUp,
            Challenge::HeadDown => Self::HeadDown,
            Challenge::MoveCloser => Self::MoveTowardsCamera,
            Challenge::MoveAway => Self::MoveAwayFromCamera,
            Challenge::FollowText => Self::FollowText,
            Challenge::Blink => Self::BlinkEyes,
            Challenge::Smile => Self::Smile,
        }
    }
}

/// What the session tells the UI while it runs. Codes are stable (the bindings' string
/// tables are keyed by them); `text` is the default English.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum LivenessEvent {
    /// A problem the user must fix; both `None` when the last one cleared.
    Guidance {
        code: Option<String>,
        text: Option<String>,
    },
    /// What to ask of the user now. For `follow_text`, where the text is, in 0..1 of the
    /// preview (x right, y down).
    Prompt {
        code: String,
        text: String,
        target_x: Option<f32>,
        target_y: Option<f32>,
    },
    /// 0..1 within the current challenge and over the whole session.
    Progress {
        step: f32,
        session: f32,
    },
    ChallengeStarted {
        index: u8,
        challenge: Challenge,
    },
    ChallengeFinished {
        index: u8,
        challenge: Challenge,
        passed: bool,
        reason: Option<String>,
    },
    /// A frame was kept as evidence (`photo`, `baseline`, `challenge_peak`).
    Captured {
        role: String,
        challenge_index: Option<u8>,
    },
    /// The on-device decision; the evidence is being signed.
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
    /// The server judged the evidence (`status` is `done`). The verdict is for the app's
    /// backend, read with the result token; the device is never told.
    Finished {
        job_id: String,
        status: String,
    },
    /// The session ended with this error (also thrown by `run`).
    Failed {
        code: String,
        detail: String,
    },
    /// The light step: paint colour `index` (`red`, `green`, `blue` 0..255) full screen
    /// around the preview at full brightness, then call `screenPresented(index, tMs)` when
    /// it is on the glass; all `None`: back to the normal view (restore the brightness).
    Screen {
        index: Option<u8>,
        red: Option<u8>,
        green: Option<u8>,
        blue: Option<u8>,
    },
}

impl From<SessionEvent> for LivenessEvent {
    fn from(e: SessionEvent) -> Self {
        match e {
            SessionEvent::Guidance { code, text } => Self::Guidance {
                code: code.map(str::to_owned),
                text: text.map(str::to_owned),
            },
            SessionEvent::Prompt { code, text, target } => Self::Prompt {
                code: code.to_owned(),
                text: text.to_owned(),
                target_x: target.map(|t| t[0] / 1000.0),
                target_y: target.map(|t| t[1] / 1000.0),
            },
            SessionEvent::Progress { step, session } => Self::Progress { step, session },
            SessionEvent::ChallengeStarted { index, kind } => Self::ChallengeStarted {
                index,
                challenge: kind.into(),
            },
            SessionEvent::ChallengeFinished {
                index,
                kind,
                passed,
                reason,
            } => Self::ChallengeFinished {
                index,
                challenge: kind.into(),
                passed,
                reason,
            },
            SessionEvent::Captured {
                role,
                challenge_index,
            } => Self::Captured {
                role: match role {
                    FrameRole::Photo => "photo",
                    FrameRole::Baseline => "baseline",
                    FrameRole::ChallengePeak => "challenge_peak",
                    FrameRole::LightTiles => "light_tiles",
                }
                .to_owned(),
                challenge_index,
            },
            SessionEvent::LocalOutcome { passed, failure } => {
                Self::LocalOutcome { passed, failure }
            }
            SessionEvent::Submitting { attempt } => Self::Submitting { attempt },
            SessionEvent::Submitted { job_id } => Self::Submitted { job_id },
            SessionEvent::Result { job_id, status } => Self::Finished { job_id, status },
            SessionEvent::Error { code, message } => Self::Failed {
                code: code.to_owned(),
                detail: message,
            },
            SessionEvent::Screen { index, rgb } => Self::Screen {
                index,
                red: rgb.map(|c| c[0]),
                green: rgb.map(|c| c[1]),
                blue: rgb.map(|c| c[2]),
            },
            // SessionEvent is non_exhaustive; a new kind of event is not worth failing over.
            other => Self::Failed {
                code: "internal".to_owned(),
                detail: format!("unknown event {other:?}"),
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ModelPrecision {
    /// Exact, and what the server re-runs by default (the default).
    Fp32,
    /// Quantised: 2–3× smaller files, for phones.
    Int8,
}

/// What the app says about the device, for the manifest.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DeviceDescription {
    /// `android`, `ios`, …
    pub platform: String,
    pub os_version: String,
    pub model: String,
    #[uniffi(default = None)]
    pub app_id: Option<String>,
}

/// Session options. `default_config()` gives working values for every field.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct LivenessConfig {
    pub precision: ModelPrecision,
    /// Load the models from this folder (laid out like the SDK's `models/`) instead of the
    /// copies compiled into the library.
    #[uniffi(default = None)]
    pub models_dir: Option<String>,
    /// Refine the eyes with the iris model (better blinks, two more small model runs a frame).
    #[uniffi(default = false)]
    pub iris: bool,
    /// Threads for the models' matrix kernels (1 keeps everything on the analysis thread).
    #[uniffi(default = 1)]
    pub threads: u32,
    /// Waiting longer than this for the next frame fails the session with `timeout`.
    #[uniffi(default = 5000)]
    pub frame_timeout_ms: u32,
    #[uniffi(default = 20000)]
    pub http_timeout_ms: u32,
    /// Upload attempts on network errors, 5xx and 429 (the same upload is safe to repeat).
    #[uniffi(default = 5)]
    pub upload_attempts: u32,
    #[uniffi(default = 60000)]
    pub result_timeout_ms: u32,
    /// SHA-256 of pinned SubjectPublicKeyInfo, hex; empty = WebPKI only.
    #[uniffi(default = [])]
    pub pinned_spki_sha256: Vec<String>,
    pub device: DeviceDescription,
}

impl LivenessConfig {
    pub(crate) fn to_session_config(&self) -> Result<(SessionConfig, Duration), LivenessError> {
        let mut c = SessionConfig {
            precision: match self.precision {
                ModelPrecision::Fp32 => Precision::Fp32,
                ModelPrecision::Int8 => Precision::Int8,
            },
            ..SessionConfig::default()
        };
        if let Some(dir) = &self.models_dir {
            let models =
                liveness_vision::ModelSet::from_dir(dir.as_ref(), c.precision).map_err(|e| {
                    LivenessError::from(liveness_session::SdkError::ModelLoad(e.to_string()))
                })?;
            c.models = Some(models);
        }
        c.pipeline.iris = self.iris;
        c.pipeline.threads = self.threads.clamp(1, 8) as usize;
        if self.upload_attempts == 0 {
            return Err(LivenessError::invalid_input(
                "upload_attempts must be at least 1",
            ));
        }
        c.retry.attempts = self.upload_attempts;
        c.http_timeout = Duration::from_millis(self.http_timeout_ms.max(1).into());
        c.poll_timeout = Duration::from_millis(self.result_timeout_ms.max(1).into());
        let mut pins = Vec::new();
        for pin in &self.pinned_spki_sha256 {
            let bytes = hex_32(pin).ok_or_else(|| {
                LivenessError::invalid_input(format!(
                    "pin {pin:?} is not 64 hex digits (a SHA-256)"
                ))
            })?;
            pins.push(bytes);
        }
        c.pins = PinSet(pins);
        c.device = DeviceInfo {
            platform: self.device.platform.clone(),
            os_version: self.device.os_version.clone(),
            model: self.device.model.clone(),
            app_id: self.device.app_id.clone(),
            key_storage: None,
        };
        c.sdk.version = env!("CARGO_PKG_VERSION").into();
        if self.frame_timeout_ms == 0 {
            return Err(LivenessError::invalid_input(
                "frame_timeout_ms must be at least 1",
            ));
        }
        Ok((c, Duration::from_millis(self.frame_timeout_ms.into())))
    }
}

fn hex_32(s: &str) -> Option<[u8; 32]> {
    let s = s.trim();
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// Working values for every option, for `device`.
#[uniffi::export]
pub fn default_config(device: DeviceDescription) -> LivenessConfig {
    LivenessConfig {
        precision: ModelPrecision::Fp32,
        models_dir: None,
        iris: false,
        threads: 1,
        frame_timeout_ms: 5000,
        http_timeout_ms: 20_000,
        upload_attempts: 5,
        result_timeout_ms: 60_000,
        pinned_spki_sha256: Vec::new(),
        device,
    }
}

/// What the app's backend asked for, read from the session descriptor.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SessionInfo {
    pub session_id: String,
    pub challenges: Vec<Challenge>,
    /// Unix seconds after which the submission token is refused.
    pub expires_at: i64,
    pub server_url: String,
}

/// How a session ended on the device and on the server.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LivenessResult {
    pub job_id: String,
    /// `done` once the server judged the evidence. Whether the person was live is for the
    /// app's backend to read with its result token: a device that learnt its verdict could
    /// tune a spoof against it.
    pub job_status: String,
    pub local_passed: bool,
    pub local_failure: Option<String>,
    /// The uploaded JPEGs, the photo first.
    pub images: Vec<Vec<u8>>,
    pub evidence_bytes: u64,
    pub frames_analysed: u64,
    pub frames_dropped: u64,
    pub capture_ms: u64,
    pub total_ms: u64,
}

impl From<liveness_session::LivenessResult> for LivenessResult {
    fn from(r: liveness_session::LivenessResult) -> Self {
        Self {
            job_id: r.job_id,
            job_status: r.job_status,
            local_passed: r.local_passed,
            local_failure: r.local_failure,
            images: r.images,
            evidence_bytes: r.evidence_bytes as u64,
            frames_analysed: r.frames_analysed,
            frames_dropped: r.frames_dropped,
            capture_ms: r.capture_ms,
            total_ms: r.total_ms,
        }
    }
}

/// The stable codes the SDK can send, for hosts to check their translations against.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct MessageCodes {
    pub guidance: Vec<String>,
    pub prompts: Vec<String>,
    pub errors: Vec<String>,
}

#[uniffi::export]
pub fn message_codes() -> MessageCodes {
    let own = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
    MessageCodes {
        guidance: liveness_challenge::Guidance::ALL
            .iter()
            .map(|g| g.code().to_owned())
            .collect(),
        prompts: own(&liveness_session::prompt_codes()),
        errors: own(&liveness_session::SdkError::CODES),
    }
}

/// The SDK's version (the crate version the library was built from).
#[uniffi::export]
pub fn sdk_version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}
