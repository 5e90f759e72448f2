//! The engine's error type.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EngineError {
    #[error("invalid engine configuration: {0}")]
    Config(String),
    #[error("invalid challenge plan: {0}")]
    Plan(String),
    #[error("the session has already ended")]
    Ended,
}

impl EngineError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Config(_) => "invalid_config",
            Self::Plan(_) => "invalid_plan",
            Self::Ended => "session_ended",
        }
    }
}
