//! The vision crate's error type.

use liveness_frame::FrameError;
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum VisionError {
    #[error(
        "model file {model} is not the one this SDK was built with (sha256 {actual}, expected {expected})"
    )]
    ModelHashMismatch {
        model: String,
        expected: String,
        actual: String,
    },
    #[error("model {model} could not be loaded: {reason}")]
    ModelLoad { model: String, reason: String },
    #[error("cannot read model file {path}: {reason}")]
    ModelIo { path: String, reason: String },
    #[error("model {model} failed to run: {reason}")]
    Inference { model: &'static str, reason: String },
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Frame(#[from] FrameError),
}

impl VisionError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::ModelHashMismatch { .. } => "model_hash_mismatch",
            Self::ModelLoad { .. } => "model_load",
            Self::ModelIo { .. } => "model_io",
            Self::Inference { .. } => "inference",
            Self::Config(_) => "invalid_config",
            Self::Frame(_) => "invalid_frame",
        }
    }
}

pub type Result<T, E = VisionError> = std::result::Result<T, E>;
