//! The SDK's one public error: a stable code for programs, a message for logs and a recovery
//! hint for the app's UI.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SdkError {
    #[error("no camera is available: {0}")]
    CameraUnavailable(String),
    #[error("camera permission was denied")]
    PermissionDenied,
    #[error("the submission token has expired")]
    TokenExpired,
    #[error("network error: {0}")]
    Network(String),
    #[error("the server rejected the request ({status} {code}): {message}")]
    ServerRejected {
        status: u16,
        code: String,
        message: String,
    },
    #[error("the session was cancelled")]
    Cancelled,
    #[error("timed out: {0}")]
    Timeout(String),
    #[error("the face models could not be loaded: {0}")]
    ModelLoad(String),
    #[error("a frame could not be used: {0}")]
    InvalidFrame(String),
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error("nothing to submit: {0}")]
    NoEvidence(String),
    #[error("the device key store failed: {0}")]
    KeyStore(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<liveness_capture::CaptureError> for SdkError {
    fn from(e: liveness_capture::CaptureError) -> Self {
        use liveness_capture::CaptureError as C;
        match e {
            C::ModelLoad(m) => Self::ModelLoad(m),
            C::InvalidInput(m) => Self::InvalidInput(m),
            C::InvalidFrame(m) => Self::InvalidFrame(m),
            C::NoFrames => Self::NoEvidence("the camera delivered no frame".into()),
            C::Internal(m) => Self::Internal(m),
        }
    }
}

impl SdkError {
    /// Every code [`SdkError::code`] returns.
    pub const CODES: [&'static str; 13] = [
        "camera_unavailable",
        "permission_denied",
        "token_expired",
        "network",
        "server_rejected",
        "cancelled",
        "timeout",
        "model_load",
        "invalid_frame",
        "invalid_input",
        "no_evidence",
        "key_store",
        "internal",
    ];

    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::CameraUnavailable(_) => "camera_unavailable",
            Self::PermissionDenied => "permission_denied",
            Self::TokenExpired => "token_expired",
            Self::Network(_) => "network",
            Self::ServerRejected { .. } => "server_rejected",
            Self::Cancelled => "cancelled",
            Self::Timeout(_) => "timeout",
            Self::ModelLoad(_) => "model_load",
            Self::InvalidFrame(_) => "invalid_frame",
            Self::InvalidInput(_) => "invalid_input",
            Self::NoEvidence(_) => "no_evidence",
            Self::KeyStore(_) => "key_store",
            Self::Internal(_) => "internal",
        }
    }

    /// What the app (or its user) can do about it.
    pub fn recovery(&self) -> &'static str {
        match self {
            Self::CameraUnavailable(_) => {
                "Check that a camera is connected and not used by another app."
            }
            Self::PermissionDenied => "Ask the user to allow camera access in the system settings.",
            Self::TokenExpired => "Ask your backend for a new session and start again.",
            Self::Network(_) => {
                "Check the connection and try again; the same upload is safe to retry."
            }
            Self::ServerRejected { .. } => "Start a new session; report the code if it persists.",
            Self::Cancelled => "Start a new session when the user is ready.",
            Self::Timeout(_) => {
                "Try again; if the server is slow, poll the result from your backend."
            }
            Self::ModelLoad(_) => "Reinstall or update the app: its model files are damaged.",
            Self::InvalidFrame(_) => "Check the camera configuration (format, size, strides).",
            Self::InvalidInput(_) => {
                "Check the session descriptor and configuration passed to the SDK."
            }
            Self::NoEvidence(_) => {
                "The camera sent no picture: check that no other app holds it, then try again."
            }
            Self::KeyStore(_) => {
                "Check the app's storage permissions; the device key could not be kept."
            }
            Self::Internal(_) => "Report this error with its message.",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SdkError;

    #[test]
    fn every_error_has_a_listed_code_and_a_hint() {
        let all = [
            SdkError::CameraUnavailable(String::new()),
            SdkError::PermissionDenied,
            SdkError::TokenExpired,
            SdkError::Network(String::new()),
            SdkError::ServerRejected {
                status: 400,
                code: String::new(),
                message: String::new(),
            },
            SdkError::Cancelled,
            SdkError::Timeout(String::new()),
            SdkError::ModelLoad(String::new()),
            SdkError::InvalidFrame(String::new()),
            SdkError::InvalidInput(String::new()),
            SdkError::NoEvidence(String::new()),
            SdkError::KeyStore(String::new()),
            SdkError::Internal(String::new()),
        ];
        let codes: Vec<&str> = all.iter().map(SdkError::code).collect();
        assert_eq!(codes, SdkError::CODES);
        assert!(all.iter().all(|e| !e.recovery().is_empty()));
    }
}
