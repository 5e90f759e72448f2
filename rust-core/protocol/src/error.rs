//! The one error type of the protocol crate.

use thiserror::Error;

/// Everything that can go wrong when reading, checking or signing protocol data.
///
/// Every variant carries enough context to say which field was wrong; none carries secret
/// material. [`ProtocolError::code`] gives a stable machine-readable code for logs and APIs.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ProtocolError {
    #[error("malformed JSON in {context}: {message}")]
    Json {
        context: &'static str,
        message: String,
    },
    #[error("duplicate JSON key `{key}` in {context}")]
    DuplicateKey { context: &'static str, key: String },
    #[error("{what} is {actual} bytes; the limit is {max}")]
    TooLarge {
        what: &'static str,
        max: usize,
        actual: usize,
    },
    #[error("field `{field}` is {actual} bytes long; the limit is {max}")]
    FieldTooLong {
        field: &'static str,
        max: usize,
        actual: usize,
    },
    #[error("field `{field}` has {actual} items; the limit is {max}")]
    TooManyItems {
        field: &'static str,
        max: usize,
        actual: usize,
    },
    #[error("unsupported format version {found}; this build reads version {supported}")]
    UnsupportedFormatVersion { found: String, supported: u32 },
    #[error("field `{field}` is not valid unpadded base64url")]
    InvalidBase64 { field: &'static str },
    #[error("field `{field}` is not a lowercase hex SHA-256 digest")]
    InvalidDigest { field: &'static str },
    #[error("{what} must be {expected} bytes, got {actual}")]
    InvalidLength {
        what: &'static str,
        expected: usize,
        actual: usize,
    },
    #[error("the public key is not a valid Ed25519 point")]
    InvalidPublicKey,
    #[error("the {what} signature does not verify")]
    BadSignature { what: &'static str },
    #[error("timestamp `{field}` = {value} is out of range")]
    TimestampOutOfRange { field: &'static str, value: i64 },
    #[error("field `{field}` is invalid: {reason}")]
    InvalidField { field: &'static str, reason: String },
    #[error("invalid session options: {reason}")]
    InvalidOptions { reason: String },
    #[error("no key with kid `{kid}` in the key set")]
    UnknownKeyId { kid: String },
    #[error("malformed token: {reason}")]
    MalformedToken { reason: String },
    #[error("unsupported algorithm `{alg}`; expected `{expected}`")]
    UnsupportedAlgorithm { alg: String, expected: &'static str },
    #[error("malformed `{header}` header: {reason}")]
    MalformedHeader {
        header: &'static str,
        reason: String,
    },
    #[error("timestamp is {skew_seconds} s away from now; tolerance is {tolerance_seconds} s")]
    StaleTimestamp {
        skew_seconds: i64,
        tolerance_seconds: i64,
    },
    #[error("{expected} frames declared in the manifest, {actual} uploaded")]
    FrameCountMismatch { expected: usize, actual: usize },
    #[error("frame {index} does not match its SHA-256 in the manifest")]
    FrameHashMismatch { index: usize },
    #[error("frame {index} is not a JPEG with a readable frame header")]
    FrameNotJpeg { index: usize },
    #[error(
        "frame {index} is {width}×{height} by its JPEG header, the manifest says {declared_width}×{declared_height}"
    )]
    FrameSizeMismatch {
        index: usize,
        declared_width: u16,
        declared_height: u16,
        width: u16,
        height: u16,
    },
    #[error("the evidence does not belong to this session: {what} differs")]
    SessionMismatch { what: &'static str },
    #[error("a secret key is needed of at least {min} bytes, got {actual}")]
    WeakSecret { min: usize, actual: usize },
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
}

impl ProtocolError {
    /// A stable, machine-readable code. Codes never change meaning once published.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Json { .. } => "malformed_json",
            Self::DuplicateKey { .. } => "duplicate_key",
            Self::TooLarge { .. } => "too_large",
            Self::FieldTooLong { .. } => "field_too_long",
            Self::TooManyItems { .. } => "too_many_items",
            Self::UnsupportedFormatVersion { .. } => "unsupported_format_version",
            Self::InvalidBase64 { .. } => "invalid_base64",
            Self::InvalidDigest { .. } => "invalid_digest",
            Self::InvalidLength { .. } => "invalid_length",
            Self::InvalidPublicKey => "invalid_public_key",
            Self::BadSignature { .. } => "bad_signature",
            Self::TimestampOutOfRange { .. } => "timestamp_out_of_range",
            Self::InvalidField { .. } => "invalid_field",
            Self::InvalidOptions { .. } => "invalid_options",
            Self::UnknownKeyId { .. } => "unknown_key_id",
            Self::MalformedToken { .. } => "malformed_token",
            Self::UnsupportedAlgorithm { .. } => "unsupported_algorithm",
            Self::MalformedHeader { .. } => "malformed_header",
            Self::StaleTimestamp { .. } => "stale_timestamp",
            Self::FrameCountMismatch { .. } => "frame_count_mismatch",
            Self::FrameHashMismatch { .. } => "frame_hash_mismatch",
            Self::FrameNotJpeg { .. } => "frame_not_jpeg",
            Self::FrameSizeMismatch { .. } => "frame_size_mismatch",
            Self::SessionMismatch { .. } => "session_mismatch",
            Self::WeakSecret { .. } => "weak_secret",
            Self::Random(_) => "random_failure",
        }
    }

    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidField {
            field,
            reason: reason.into(),
        }
    }
}

/// Result alias used throughout the crate.
pub type Result<T, E = ProtocolError> = std::result::Result<T, E>;
