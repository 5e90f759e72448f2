//! # liveness-session
//!
//! The SDK's main object, as apps use it (the uniffi bindings wrap it). A
//! [`LivenessSession`] takes the session descriptor the integrator's backend got from the
//! server (session id, nonce, plan, one-time submission token) and runs:
//!
//! [`FrameSource`] (camera, frames pushed by the host app, a recorded or rendered sequence) →
//! vision pipeline → challenge engine (guidance, prompts, progress as [`SessionEvent`]s) →
//! evidence store → manifest signed with the device key ([`keystore`]) → upload with retries
//! ([`client`], rustls, optional SPKI pinning) → job polling → [`LivenessResult`].
//!
//! Everything that can go wrong is one [`SdkError`] with a stable code and a recovery hint;
//! cancelling at any point stops the source (releasing the camera) and uploads nothing.

#![forbid(unsafe_code)]

#[cfg(feature = "camera")]
pub mod camera;
pub mod client;
pub mod error;
pub mod events;
pub mod keystore;
pub mod session;
pub mod source;

pub use client::{PinSet, ServerClient};
pub use error::SdkError;
pub use events::{Observer, ScreenReports, SessionEvent};
pub use keystore::{FileKeyStore, KeyStore, MemoryKeyStore, device_key};
pub use liveness_challenge::ScreenRequest;
pub use session::{
    AttestationProvider, CancelHandle, LivenessResult, LivenessSession, Recorded, SessionConfig,
    SessionDescriptor, cancel_reason, prompt_codes,
};
pub use source::{FramePusher, FrameSource, PushOutcome, PushSource, SourceFrame, VecSource};
