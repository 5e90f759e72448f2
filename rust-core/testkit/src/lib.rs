//! # liveness-testkit
//!
//! Synthetic test subjects for the SDK. No registry ships videos of people blinking or turning
//! their heads, nor spoof recordings, so tests, benchmarks, the CLI and the demo render one real,
//! public-domain photo (`assets/astronaut.png`, NASA, from the scikit-image wheel) as a textured
//! 3-D head ([`HeadModel`]) that performs a timeline [`Script`] — poses, blinks, smiles,
//! distance, lighting, camera noise — or stages an attack (printed photo, screen replay, two
//! faces, occlusion). [`Renderer`] output goes to any `Frame` format, PNG folders or `.y4m`.
//! Never linked into the mobile library.

#![forbid(unsafe_code)]

pub mod head;
pub mod light;
pub mod output;
pub mod perform;
pub mod render;
pub mod respond;
pub mod script;

pub use head::{Expression, HeadModel};
pub use light::Illumination;
pub use perform::{hold_for_light, performing, performing_plan, performing_plan_steps};
pub use render::Renderer;
pub use script::{Script, ScriptError};

use std::sync::OnceLock;

use liveness_frame::{Affine2, Frame, FrameError};

/// A tightly packed RGB image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RgbImage {
    pub rgb: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

/// Centre of the astronaut's face in the photo, in photo pixels.
pub const ASTRONAUT_FACE_CENTER: [f32; 2] = [222.0, 118.0];
/// The astronaut's pupil centres (subject's right eye, left eye) in photo pixels, read off a
/// 4× magnified crop of the photo.
pub const ASTRONAUT_RIGHT_PUPIL: [f32; 2] = [203.5, 101.5];
pub const ASTRONAUT_LEFT_PUPIL: [f32; 2] = [246.5, 103.0];

static ASTRONAUT_PNG: &[u8] = include_bytes!("../assets/astronaut.png");

/// The astronaut photo (512×512).
pub fn astronaut() -> &'static RgbImage {
    static IMAGE: OnceLock<RgbImage> = OnceLock::new();
    IMAGE.get_or_init(|| {
        // The PNG is compiled in and checked by this crate's tests: decoding cannot fail.
        let img = image::load_from_memory(ASTRONAUT_PNG)
            .map(|i| i.to_rgb8())
            .unwrap_or_default();
        RgbImage {
            width: img.width(),
            height: img.height(),
            rgb: img.into_raw(),
        }
    })
}

impl RgbImage {
    pub fn blank(width: u32, height: u32, value: u8) -> Self {
        Self {
            rgb: vec![value; (width * height * 3) as usize],
            width,
            height,
        }
    }

    pub fn frame(&self) -> Result<Frame<'_>, FrameError> {
        Frame::rgb8(&self.rgb, self.width, self.height, self.width as usize * 3)
    }

    /// A `width × height` image showing this one through `to_src` (output pixel → this
    /// image's pixel), bilinear, `fill` where it falls outside.
    pub fn warped(
        &self,
        to_src: Affine2,
        width: u32,
        height: u32,
        fill: u8,
    ) -> Result<Self, FrameError> {
        let n = (width * height * 3) as usize;
        let mut out = vec![0.0f32; n];
        self.frame()?
            .warp_into(&to_src, width as usize, height as usize, 1.0, 0.0, &mut out)?;
        // Coverage: how much of each output pixel the source covers, to blend in `fill`.
        let white = Self::blank(self.width, self.height, 255);
        let mut cover = vec![0.0f32; n];
        white.frame()?.warp_into(
            &to_src,
            width as usize,
            height as usize,
            1.0 / 255.0,
            0.0,
            &mut cover,
        )?;
        let rgb = out
            .iter()
            .zip(&cover)
            .map(|(v, c)| (v + (1.0 - c) * f32::from(fill)).round().clamp(0.0, 255.0) as u8)
            .collect();
        Ok(Self { rgb, width, height })
    }

    /// The astronaut scaled by `scale` with her face centred at (`fx`, `fy`) on a
    /// `width × height` canvas of grey `fill`.
    pub fn astronaut_placed(
        scale: f32,
        fx: f32,
        fy: f32,
        width: u32,
        height: u32,
        fill: u8,
    ) -> Result<Self, FrameError> {
        let [cx, cy] = ASTRONAUT_FACE_CENTER;
        let to_src = Affine2::new(
            1.0 / scale,
            0.0,
            cx - fx / scale,
            0.0,
            1.0 / scale,
            cy - fy / scale,
        );
        astronaut().warped(to_src, width, height, fill)
    }

    /// Copies the columns `x0..x1` of `other` (same size) over this image.
    pub fn paste_columns(&mut self, other: &Self, x0: u32, x1: u32) {
        if other.width != self.width || other.height != self.height {
            return;
        }
        let (x0, x1) = (x0.min(self.width) as usize, x1.min(self.width) as usize);
        for y in 0..self.height as usize {
            let row = y * self.width as usize * 3;
            self.rgb[row + x0 * 3..row + x1 * 3]
                .copy_from_slice(&other.rgb[row + x0 * 3..row + x1 * 3]);
        }
    }

    /// The image with every channel scaled by `gain` (lighting changes).
    pub fn with_gain(&self, gain: f32) -> Self {
        Self {
            rgb: self
                .rgb
                .iter()
                .map(|&v| (f32::from(v) * gain).round().clamp(0.0, 255.0) as u8)
                .collect(),
            ..*self
        }
    }

    /// The image rotated by `degrees` (clockwise) about (`cx`, `cy`), same size, black corners.
    pub fn rotated(&self, degrees: f32, cx: f32, cy: f32) -> Result<Self, FrameError> {
        let (s, c) = degrees.to_radians().sin_cos();
        let to_src = Affine2::new(c, s, cx - c * cx - s * cy, -s, c, cy + s * cx - c * cy);
        self.warped(to_src, self.width, self.height, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_photo_decodes() {
        let a = astronaut();
        assert_eq!((a.width, a.height, a.rgb.len()), (512, 512, 512 * 512 * 3));
    }

    #[test]
    fn placing_keeps_the_face_where_asked() {
        let img = RgbImage::astronaut_placed(1.0, 100.0, 80.0, 200, 160, 7).unwrap();
        // The face centre pixel equals the photo's face centre pixel.
        let src = astronaut();
        let at = |im: &RgbImage, x: usize, y: usize| im.rgb[(y * im.width as usize + x) * 3];
        assert_eq!(at(&img, 100, 80), at(src, 222, 118));
        // Outside the photo is the fill.
        let far = RgbImage::astronaut_placed(0.1, 10.0, 10.0, 200, 160, 7).unwrap();
        assert_eq!(at(&far, 199, 159), 7);
    }
}

#[cfg(test)]
mod subject_tests {
    use super::*;

    /// Every shipped example script parses and renders.
    #[test]
    fn example_scripts_parse_and_render() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("subjects");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                let script =
                    Script::from_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                assert!(
                    !script.name.is_empty() && path.ends_with(format!("{}.toml", script.name)),
                    "{}",
                    path.display()
                );
                let last = Renderer::new(script).render(0);
                assert_eq!((last.width, last.height), (640, 480));
                n += 1;
            }
        }
        assert!(n >= 20, "{n} scripts");
    }
}
