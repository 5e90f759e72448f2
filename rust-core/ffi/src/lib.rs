//! # liveness-ffi
//!
//! The SDK as iOS and Android see it, and the only crate that knows uniffi. It wraps
//! `liveness-session` in objects, records and foreign traits that uniffi turns into Swift
//! (`LivenessSDK`, C module `LivenessFFI`) and Kotlin (`io.openliveness.liveness.ffi`):
//!
//! - [`session::LivenessSession`]: created from the backend's session JSON; frames in by
//!   copy ([`session::LivenessSession::push_frame`]), from a host [`host::FrameProvider`], or
//!   on Android through the zero-copy JNI path ([`jni_frames`]); `run` / `record` / `submit`
//!   are async (the SDK's own tokio runtime; cancelling the caller cancels the session).
//! - Host-implemented traits: [`host::LivenessObserver`] (events, from SDK threads),
//!   [`host::DeviceKeyStore`] (Keychain / Keystore), [`host::AttestationProvider`].
//! - [`error::LivenessError`]: the session's error with its stable code and recovery hint.
//!
//! Nothing unwinds into the host: exported calls catch panics and report them as
//! `LivenessError::Internal`; the JNI entry point throws a Java exception instead.

pub mod error;
pub mod host;
pub mod jni_frames;
pub mod session;
mod sinks;
pub mod types;

pub use error::LivenessError;
pub use host::{
    AttestationProvider, AttestationToken, DeviceKeyStore, FrameImage, FramePlane, FrameProvider,
    HostFrame, LivenessObserver, PackedFormat, file_key_store, memory_key_store,
};
pub use session::{LivenessSession, PushResult, RecordedEvidence};
pub use types::{
    Challenge, DeviceDescription, LivenessConfig, LivenessEvent, LivenessResult, MessageCodes,
    ModelPrecision, SessionInfo, default_config, message_codes, sdk_version,
};

uniffi::setup_scaffolding!();

#[cfg(test)]
mod tests;
