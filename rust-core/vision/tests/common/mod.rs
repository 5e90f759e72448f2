//! Shared set-up: models loaded once per test binary.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::OnceLock;

use liveness_frame::Frame;
pub use liveness_testkit::RgbImage;
#[allow(unused_imports)]
pub use liveness_testkit::{ASTRONAUT_LEFT_PUPIL as LEFT_EYE, ASTRONAUT_RIGHT_PUPIL as RIGHT_EYE};
use liveness_vision::{ModelSet, Pipeline, PipelineConfig, Precision};

pub fn astronaut() -> &'static RgbImage {
    liveness_testkit::astronaut()
}

pub fn frame(img: &RgbImage) -> Frame<'_> {
    img.frame().unwrap()
}

/// The astronaut scaled by `scale` with her face at (`fx`, `fy`) on a 640×480 grey canvas.
pub fn placed(scale: f32, fx: f32, fy: f32) -> RgbImage {
    RgbImage::astronaut_placed(scale, fx, fy, 640, 480, 110).unwrap()
}

pub fn models(precision: Precision) -> ModelSet {
    static FP32: OnceLock<ModelSet> = OnceLock::new();
    static INT8: OnceLock<ModelSet> = OnceLock::new();
    let cell = match precision {
        Precision::Fp32 => &FP32,
        Precision::Int8 => &INT8,
    };
    cell.get_or_init(|| ModelSet::bundled(precision).unwrap())
        .clone()
}

pub fn pipeline() -> Pipeline {
    pipeline_with(PipelineConfig::default())
}

pub fn pipeline_with(config: PipelineConfig) -> Pipeline {
    Pipeline::new(models(Precision::Fp32), config).unwrap()
}

/// Largest x-y distance between corresponding landmarks.
pub fn worst_landmark(a: &[[f32; 3]], b: &[[f32; 3]]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(p, q)| (p[0] - q[0]).hypot(p[1] - q[1]))
        .fold(0.0, f32::max)
}
