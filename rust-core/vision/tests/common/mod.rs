//! Test helpers: the astronaut photo and ways to pose it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::OnceLock;

use liveness_frame::{Affine2, Frame};
use liveness_vision::{ModelSet, Pipeline, PipelineConfig, Precision};

pub struct Image {
    pub rgb: Vec<u8>,
    pub w: u32,
    pub h: u32,
}

impl Image {
    pub fn frame(&self) -> Frame<'_> {
        Frame::rgb8(&self.rgb, self.w, self.h, self.w as usize * 3).unwrap()
    }

    /// A new `w × h` image showing this one through `to_src` (output pixel -> this image),
    /// `fill` where it falls outside.
    pub fn warped(&self, to_src: Affine2, w: u32, h: u32, fill: u8) -> Image {
        let mut out = vec![0.0f32; (w * h * 3) as usize];
        // warp_into paints outside black; shift by `fill` so outside becomes `fill`.
        self.frame()
            .warp_into(&to_src, w as usize, h as usize, 1.0, 0.0, &mut out)
            .unwrap();
        let mut mask = vec![0.0f32; (w * h * 3) as usize];
        let white = Image {
            rgb: vec![255; self.rgb.len()],
            w: self.w,
            h: self.h,
        };
        white
            .frame()
            .warp_into(&to_src, w as usize, h as usize, 1.0 / 255.0, 0.0, &mut mask)
            .unwrap();
        let rgb = out
            .iter()
            .zip(&mask)
            .map(|(v, m)| (v + (1.0 - m) * fill as f32).round().clamp(0.0, 255.0) as u8)
            .collect();
        Image { rgb, w, h }
    }

    /// Pastes `other` at (x, y).
    pub fn paste(&mut self, other: &Image, x: u32, y: u32) {
        for row in 0..other.h {
            for col in 0..other.w {
                let (tx, ty) = (x + col, y + row);
                if tx >= self.w || ty >= self.h {
                    continue;
                }
                let s = ((row * other.w + col) * 3) as usize;
                let d = ((ty * self.w + tx) * 3) as usize;
                self.rgb[d..d + 3].copy_from_slice(&other.rgb[s..s + 3]);
            }
        }
    }

    pub fn blank(w: u32, h: u32, value: u8) -> Image {
        Image {
            rgb: vec![value; (w * h * 3) as usize],
            w,
            h,
        }
    }
}

pub fn astronaut() -> &'static Image {
    static IMG: OnceLock<Image> = OnceLock::new();
    IMG.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/astronaut.png");
        let img = image::open(path).unwrap().to_rgb8();
        Image {
            w: img.width(),
            h: img.height(),
            rgb: img.into_raw(),
        }
    })
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
    Pipeline::new(models(Precision::Fp32), PipelineConfig::default()).unwrap()
}

pub fn pipeline_with(config: PipelineConfig) -> Pipeline {
    Pipeline::new(models(Precision::Fp32), config).unwrap()
}

/// The astronaut's pupil centres (subject's right eye, left eye) in photo pixels, read off a
/// 4× magnified crop of the photo.
pub const RIGHT_EYE: [f32; 2] = [203.5, 101.5];
pub const LEFT_EYE: [f32; 2] = [246.5, 103.0];
