//! The one error type the bindings see. Each case carries the SDK's stable `code`, a
//! `detail` for logs and a `recovery` hint for the UI, so Kotlin and Swift need no tables
//! of their own (`catch (e: LivenessException.TokenExpired)` / `catch LivenessError.TokenExpired`).

use liveness_session::SdkError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum LivenessError {
    #[error("{detail}")]
    CameraUnavailable {
        code: String,
        detail: String,
        recovery: String,
    },
    #[error("{detail}")]
    PermissionDenied {
        code: String,
        detail: String,
        recovery: String,
    },
    #[error("{detail}")]
    TokenExpired {
        code: String,
        detail: String,
        recovery: String,
    },
    #[error("{detail}")]
    Network {
        code: String,
        detail: String,
        recovery: String,
    },
    /// The server answered with an error; `http_status` and `server_code` are its own.
    #[error("{detail}")]
    ServerRejected {
        code: String,
        detail: String,
        recovery: String,
        http_status: u16,
        server_code: String,
    },
    #[error("{detail}")]
    Cancelled {
        code: String,
        detail: String,
        recovery: String,
    },
    #[error("{detail}")]
    Timeout {
        code: String,
        detail: String,
        recovery: String,
    },
    #[error("{detail}")]
    ModelLoad {
        code: String,
        detail: String,
        recovery: String,
    },
    #[error("{detail}")]
    InvalidFrame {
        code: String,
        detail: String,
        recovery: String,
    },
    #[error("{detail}")]
    InvalidInput {
        code: String,
        detail: String,
        recovery: String,
    },
    #[error("{detail}")]
    NoEvidence {
        code: String,
        detail: String,
        recovery: String,
    },
    #[error("{detail}")]
    KeyStore {
        code: String,
        detail: String,
        recovery: String,
    },
    /// A bug: a panic caught at the boundary, or a host callback that threw something the
    /// SDK did not expect.
    #[error("{detail}")]
    Internal {
        code: String,
        detail: String,
        recovery: String,
    },
}

impl From<SdkError> for LivenessError {
    fn from(e: SdkError) -> Self {
        let code = e.code().to_owned();
        let detail = e.to_string();
        let recovery = e.recovery().to_owned();
        match e {
            SdkError::CameraUnavailable(_) => Self::CameraUnavailable {
                code,
                detail,
                recovery,
            },
            SdkError::PermissionDenied => Self::PermissionDenied {
                code,
                detail,
                recovery,
            },
            SdkError::TokenExpired => Self::TokenExpired {
                code,
                detail,
                recovery,
            },
            SdkError::Network(_) => Self::Network {
                code,
                detail,
                recovery,
            },
            SdkError::ServerRejected {
                status,
                code: server_code,
                ..
            } => Self::ServerRejected {
                code,
                detail,
                recovery,
                http_status: status,
                server_code,
            },
            SdkError::Cancelled => Self::Cancelled {
                code,
                detail,
                recovery,
            },
            SdkError::Timeout(_) => Self::Timeout {
                code,
                detail,
                recovery,
            },
            SdkError::ModelLoad(_) => Self::ModelLoad {
                code,
                detail,
                recovery,
            },
            SdkError::InvalidFrame(_) => Self::InvalidFrame {
                code,
                detail,
                recovery,
            },
            SdkError::InvalidInput(_) => Self::InvalidInput {
                code,
                detail,
                recovery,
            },
            SdkError::NoEvidence(_) => Self::NoEvidence {
                code,
                detail,
                recovery,
            },
            SdkError::KeyStore(_) => Self::KeyStore {
                code,
                detail,
                recovery,
            },
            // SdkError is non_exhaustive: a case added later is still reported, as internal.
            _ => Self::Internal {
                code: "internal".into(),
                detail,
                recovery: SdkError::Internal(String::new()).recovery().into(),
            },
        }
    }
}

impl LivenessError {
    pub fn internal(detail: impl Into<String>) -> Self {
        SdkError::Internal(detail.into()).into()
    }

    pub fn invalid_frame(detail: impl Into<String>) -> Self {
        SdkError::InvalidFrame(detail.into()).into()
    }

    pub fn invalid_input(detail: impl Into<String>) -> Self {
        SdkError::InvalidInput(detail.into()).into()
    }

    /// The stable code (`token_expired`, `network`, …).
    pub fn code(&self) -> &str {
        match self {
            Self::CameraUnavailable { code, .. }
            | Self::PermissionDenied { code, .. }
            | Self::TokenExpired { code, .. }
            | Self::Network { code, .. }
            | Self::ServerRejected { code, .. }
            | Self::Cancelled { code, .. }
            | Self::Timeout { code, .. }
            | Self::ModelLoad { code, .. }
            | Self::InvalidFrame { code, .. }
            | Self::InvalidInput { code, .. }
            | Self::NoEvidence { code, .. }
            | Self::KeyStore { code, .. }
            | Self::Internal { code, .. } => code,
        }
    }

    /// Back to the session crate's error, for host implementations of SDK traits (a key
    /// store or frame provider that fails with one of ours).
    pub(crate) fn into_sdk(self) -> SdkError {
        match self {
            Self::CameraUnavailable { detail, .. } => SdkError::CameraUnavailable(detail),
            Self::PermissionDenied { .. } => SdkError::PermissionDenied,
            Self::TokenExpired { .. } => SdkError::TokenExpired,
            Self::Network { detail, .. } => SdkError::Network(detail),
            Self::ServerRejected {
                detail,
                http_status,
                server_code,
                ..
            } => SdkError::ServerRejected {
                status: http_status,
                code: server_code,
                message: detail,
            },
            Self::Cancelled { .. } => SdkError::Cancelled,
            Self::Timeout { detail, .. } => SdkError::Timeout(detail),
            Self::ModelLoad { detail, .. } => SdkError::ModelLoad(detail),
            Self::InvalidFrame { detail, .. } => SdkError::InvalidFrame(detail),
            Self::InvalidInput { detail, .. } => SdkError::InvalidInput(detail),
            Self::NoEvidence { detail, .. } => SdkError::NoEvidence(detail),
            Self::KeyStore { detail, .. } => SdkError::KeyStore(detail),
            Self::Internal { detail, .. } => SdkError::Internal(detail),
        }
    }
}

/// A host callback threw something that is not a `LivenessError`: report it, do not crash.
impl From<uniffi::UnexpectedUniFFICallbackError> for LivenessError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        Self::internal(format!("a host callback failed: {}", e.reason))
    }
}

/// The payload of a caught panic, as text.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

/// Runs `f`, turning a panic into [`LivenessError::Internal`]: nothing unwinds into the host.
pub(crate) fn guard<T>(f: impl FnOnce() -> Result<T, LivenessError>) -> Result<T, LivenessError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|p| {
        Err(LivenessError::internal(format!(
            "the SDK panicked: {}",
            panic_message(&*p)
        )))
    })
}
