//! Frames that own their bytes, made from RGB in any supported format.

use crate::{Frame, FrameError, PixelFormat, Plane, rgb_to_yuv};

/// An owned frame in one pixel format, converted from tightly packed RGB. Used for recorded
/// sequences, tests and the synthetic subject; cameras hand the SDK borrowed [`Frame`]s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedFrame {
    pub format: PixelFormat,
    pub width: u32,
    pub height: u32,
    /// The planes, each tightly packed (row stride = width × bytes per pixel).
    pub planes: Vec<Vec<u8>>,
}

impl OwnedFrame {
    /// Converts tightly packed RGB (`width * height * 3` bytes).
    pub fn from_rgb(
        rgb: &[u8],
        width: u32,
        height: u32,
        format: PixelFormat,
    ) -> Result<Self, FrameError> {
        let (w, h) = (width as usize, height as usize);
        Frame::rgb8(rgb, width, height, w * 3)?;
        let px = |x: usize, y: usize| {
            let i = (y * w + x) * 3;
            [rgb[i], rgb[i + 1], rgb[i + 2]]
        };
        let planes = match format {
            PixelFormat::Rgb8 => vec![rgb[..w * h * 3].to_vec()],
            PixelFormat::Rgba8 | PixelFormat::Bgra8 => {
                let mut out = Vec::with_capacity(w * h * 4);
                for y in 0..h {
                    for x in 0..w {
                        let [r, g, b] = px(x, y);
                        if format == PixelFormat::Rgba8 {
                            out.extend_from_slice(&[r, g, b, 255]);
                        } else {
                            out.extend_from_slice(&[b, g, r, 255]);
                        }
                    }
                }
                vec![out]
            }
            PixelFormat::Nv21 | PixelFormat::Nv12 | PixelFormat::I420 | PixelFormat::Yuv420 => {
                let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
                let mut luma = Vec::with_capacity(w * h);
                for y in 0..h {
                    for x in 0..w {
                        let [r, g, b] = px(x, y);
                        luma.push(rgb_to_yuv(r as f32, g as f32, b as f32)[0]);
                    }
                }
                // Chroma from the mean colour of each 2×2 block.
                let mut u = Vec::with_capacity(cw * ch);
                let mut v = Vec::with_capacity(cw * ch);
                for cy in 0..ch {
                    for cx in 0..cw {
                        let mut acc = [0f32; 3];
                        let mut n = 0.0;
                        for y in (cy * 2)..(cy * 2 + 2).min(h) {
                            for x in (cx * 2)..(cx * 2 + 2).min(w) {
                                let p = px(x, y);
                                for k in 0..3 {
                                    acc[k] += p[k] as f32;
                                }
                                n += 1.0;
                            }
                        }
                        let [_, cb, cr] = rgb_to_yuv(acc[0] / n, acc[1] / n, acc[2] / n);
                        u.push(cb);
                        v.push(cr);
                    }
                }
                match format {
                    PixelFormat::Nv21 => vec![luma, interleave(&v, &u)],
                    PixelFormat::Nv12 => vec![luma, interleave(&u, &v)],
                    _ => vec![luma, u, v],
                }
            }
        };
        Ok(Self {
            format,
            width,
            height,
            planes,
        })
    }

    /// A borrowed view of this frame.
    pub fn as_frame(&self) -> Result<Frame<'_>, FrameError> {
        let (w, h) = (self.width, self.height);
        let wu = w as usize;
        let cw = wu.div_ceil(2);
        let plane = |i: usize| self.planes.get(i).map(Vec::as_slice).unwrap_or(&[]);
        match self.format {
            PixelFormat::Rgb8 => Frame::rgb8(plane(0), w, h, wu * 3),
            PixelFormat::Rgba8 => Frame::rgba8(plane(0), w, h, wu * 4),
            PixelFormat::Bgra8 => Frame::bgra8(plane(0), w, h, wu * 4),
            PixelFormat::Nv21 => Frame::nv21(plane(0), wu, plane(1), cw * 2, w, h),
            PixelFormat::Nv12 => Frame::nv12(plane(0), wu, plane(1), cw * 2, w, h),
            PixelFormat::I420 => Frame::i420(plane(0), wu, plane(1), cw, plane(2), cw, w, h),
            PixelFormat::Yuv420 => Frame::yuv420(
                Plane::new(plane(0), wu, 1),
                Plane::new(plane(1), cw, 1),
                Plane::new(plane(2), cw, 1),
                w,
                h,
            ),
        }
    }

    /// Total bytes over all planes.
    pub fn byte_len(&self) -> usize {
        self.planes.iter().map(Vec::len).sum()
    }
}

fn interleave(first: &[u8], second: &[u8]) -> Vec<u8> {
    first
        .iter()
        .zip(second)
        .flat_map(|(a, b)| [*a, *b])
        .collect()
}
