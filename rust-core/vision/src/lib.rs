//! # liveness-vision
//!
//! On-device face vision with tract-onnx on the CPU: BlazeFace detection, tracking across
//! frames, FaceMesh (468 landmarks with depth), optional iris refinement, and the signals the
//! challenge engine reads (eye openness, head pose, mouth and smile, face size and position,
//! exposure, sharpness, occlusion).
//!
//! Models load from `models/` or from bytes (apps bundle them as assets), each checked against
//! the SHA-256 this crate was built with. [`Pipeline::process`] takes any
//! [`liveness_frame::Frame`] and returns a [`FrameAnalysis`].
//!
//! Passive anti-spoofing (PAD): no model with clean provenance exists on the package
//! registries, so none ships. A PAD stage plugs in through [`PadStage`]: it receives the frame
//! and the face result and returns a score the engine can use.

#![forbid(unsafe_code)]

#[cfg(all(feature = "onnxruntime", feature = "bundled-models"))]
pub mod compare;
pub mod detector;
pub mod error;
pub mod landmarks;
pub mod mesh;
pub mod models;
pub mod pipeline;
pub mod pose;
pub mod signals;

pub use detector::Detection;
pub use error::{Result, VisionError};
pub use mesh::{EyeDetail, FaceMesh, Roi};
pub use models::{Model, ModelKind, ModelSet, Precision};
pub use pipeline::{FaceResult, FrameAnalysis, Pipeline, PipelineConfig, StageTimings};
pub use pose::HeadPose;
pub use signals::FaceSignals;

/// A passive anti-spoofing stage: given a frame and the face found in it, the probability
/// that the face is a live person rather than a print, screen or mask. None ships (see the
/// crate documentation); integrators with a licensed model implement this.
pub trait PadStage: Send {
    /// A stable name for reports and the evidence manifest.
    fn name(&self) -> &str;
    /// Live probability in 0..=1.
    fn score(&mut self, frame: &liveness_frame::Frame, face: &FaceResult) -> Result<f32>;
}
