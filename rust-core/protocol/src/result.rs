//! The result body integrators read (`GET …/result`, webhooks, signed responses).

use serde::{Deserialize, Serialize};

use crate::encoding::parse_strict_json;
use crate::error::Result;
use crate::verdict::SignedVerdict;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResultStatus {
    /// Not submitted yet, or verification still running.
    Pending,
    /// Verified; `live` says whether the person was live.
    Success,
    /// The user did not finish (cancelled, timed out, left the frame).
    Incompleted,
    /// The submission could not be verified (tampered, expired, malformed).
    Failed,
    /// The integrator erased the session (`DELETE /v1/sessions/{id}`): its images, options
    /// and verdict are gone; only this answer remains.
    Erased,
}

/// Why a session ended the way it did: a stable code plus the default English message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResultMessage {
    Live,
    NoFace,
    MultipleFaces,
    FaceOccluded,
    ChallengeFailed,
    ChallengeOrderMismatch,
    SpoofSuspected,
    /// The screen's colours did not show on the face (strong room light, a far face, or a
    /// recording): not live, and the user can try again somewhere dimmer.
    LightNotSeen,
    TimedOut,
    Cancelled,
    EvidenceRejected,
    TokenExpired,
    /// The session was erased at the integrator's request.
    Erased,
}

impl ResultMessage {
    pub fn text(self) -> &'static str {
        match self {
            Self::Live => "Liveness confirmed",
            Self::NoFace => "No face detected",
            Self::MultipleFaces => "Multiple faces are detected",
            Self::FaceOccluded => "the face is most likely occluded",
            Self::ChallengeFailed => "The requested action was not performed",
            Self::ChallengeOrderMismatch => "The actions were not performed in the requested order",
            Self::SpoofSuspected => "The face is most likely not live",
            Self::LightNotSeen => "The screen's light could not be seen on the face",
            Self::TimedOut => "The session timed out",
            Self::Cancelled => "The user cancelled the session",
            Self::EvidenceRejected => "The submitted evidence failed verification",
            Self::TokenExpired => "The submission token has expired",
            Self::Erased => "The session's data was erased at the integrator's request",
        }
    }
}

/// The outcome of one named check, with its score where it has one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckReason {
    pub check: String,
    pub passed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultBody {
    pub session_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    pub status: ResultStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_code: Option<ResultMessage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    #[serde(default)]
    pub reasons: Vec<CheckReason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay_state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<SignedVerdict>,
}

impl ResultBody {
    /// A pending result for a session that has not been decided yet.
    pub fn pending(session_id: impl Into<String>) -> Self {
        Self {
            session_id: session_id.into(),
            job_id: None,
            status: ResultStatus::Pending,
            message_code: None,
            message: None,
            live: None,
            score: None,
            reasons: Vec::new(),
            relay_state: None,
            verdict: None,
        }
    }

    /// Sets the message code and its default English text together.
    pub fn with_message(mut self, code: ResultMessage) -> Self {
        self.message_code = Some(code);
        self.message = Some(code.text().to_owned());
        self
    }

    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        parse_strict_json("result body", bytes, 64 * 1024)
    }
}
