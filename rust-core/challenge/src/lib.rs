//! # liveness-challenge
//!
//! The active-liveness engine, pure Rust with no I/O: it turns per-frame vision signals into
//! what the user sees (guidance, the prompt, progress) and into a local outcome the server can
//! re-check. A session takes a neutral baseline of the user's own face, runs the screen-light
//! step when the plan has one (the host paints colours, the face must reflect them:
//! [`light_step`], judged by `liveness-light`), then detects each
//! planned challenge *relative to that baseline* (blink, head turns, distance, smile, following
//! a moving text), with hysteresis, hold times and time limits; then it runs the checks that
//! need no anti-spoofing model: parallax during head turns (a print or screen fits one
//! homography) and temporal continuity (timestamps, frozen or duplicated frames, jumps).
//! Left and right are the user's, whatever the camera mirroring.

#![forbid(unsafe_code)]

pub mod config;
mod detectors;
pub mod error;
pub mod geometry;
pub mod guidance;
pub mod light_step;
pub mod observation;
pub mod session;
mod temporal;
pub mod update;

pub use config::{Checks, EngineConfig};
pub use error::EngineError;
pub use guidance::Guidance;
pub use light_step::{LightOutcome, ScreenRequest};
pub use observation::{FaceObservation, Observation};
pub use session::{Capture, CheckOutcome, Event, Outcome, Prompt, Session, Update};
