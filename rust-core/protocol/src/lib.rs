//! # liveness-protocol
//!
//! The wire protocol shared by the on-device SDK and the verification server: what the
//! integrator asks for ([`SessionOptions`]), what the device is told to do ([`ChallengePlan`],
//! derived from the server's nonce so both sides agree), what the device reports
//! ([`EvidenceManifest`], signed by the device key), and what the server answers
//! ([`ResultBody`], [`SignedVerdict`], signed responses and webhooks).
//!
//! No I/O and no clocks: every function that needs the time takes it as an argument, so the
//! same code runs on phones, servers and in tests. Every parser is strict (size caps,
//! duplicate JSON keys and unknown fields refused) and every failure is a typed
//! [`ProtocolError`]; nothing here panics on input.

#![forbid(unsafe_code)]

pub mod device;
pub mod encoding;
pub mod error;
pub mod jose;
pub mod jpeg;
pub mod light;
pub mod manifest;
pub mod options;
pub mod plan;
pub mod result;
pub mod vectors;
pub mod verdict;
pub mod webhook;

pub use device::{DeviceSigningKey, SignedManifest, SignedManifestWire};
pub use encoding::{Nonce, Sha256Digest};
pub use error::{ProtocolError, Result};
pub use jose::{sign_response, verify_response};
pub use light::{LightColour, LightRecord, LightSpec, derive_light};
pub use manifest::{EvidenceManifest, FrameRecord, FrameRole, LandmarkSummary};
pub use options::{Action, ChallengeKind, SessionOptions};
pub use plan::{ChallengePlan, PlannedStep, Waypoint, derive_plan};
pub use result::{CheckReason, ResultBody, ResultMessage, ResultStatus};
pub use verdict::{Jwk, Jwks, SignedVerdict, Verdict, VerdictKind, VerdictSigningKey};
pub use webhook::{WEBHOOK_SIGNATURE_HEADER, sign_webhook, verify_webhook};
