//! # liveness-frame
//!
//! Camera frames as the SDK receives them, in every pixel format the platforms deliver
//! (RGB8, RGBA8, BGRA8 from iOS; NV21, NV12, I420 and CameraX's general YUV_420_888 with row
//! and pixel strides), with the rotation that makes them upright and optional mirroring. YUV
//! comes in full range (JFIF: Android cameras, iOS 420f) or video range (Y 16–235, chroma
//! 16–240: iOS 420v), see [`YuvRange`]; both decode to the same RGB.
//!
//! A [`Frame`] borrows the camera's buffers: nothing is copied when it is made. Models read
//! it through [`Frame::warp_into`], which crops, rotates, resizes and converts colour in one
//! pass straight into a model's input tensor, so no full-frame RGB copy is ever made.
//! [`OwnedFrame`] converts RGB into any format (for tests, recorded sequences and the
//! synthetic subject).

#![forbid(unsafe_code)]

mod affine;
pub mod homography;
mod owned;

pub use affine::Affine2;
pub use homography::Homography;
pub use owned::OwnedFrame;

use thiserror::Error;

/// Largest accepted side, in pixels. Guards size arithmetic and absurd allocations.
pub const MAX_SIDE: u32 = 16_384;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PixelFormat {
    Rgb8,
    Rgba8,
    Bgra8,
    /// Y plane, then interleaved V/U (Android's default camera format).
    Nv21,
    /// Y plane, then interleaved U/V.
    Nv12,
    /// Y, U and V planes.
    I420,
    /// Y, U, V planes with arbitrary row and pixel strides (Android `YUV_420_888`).
    Yuv420,
}

/// How a YUV frame's 8-bit samples span the signal (BT.601 coefficients either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum YuvRange {
    /// Y and chroma use 0–255 (JFIF): Android's `YUV_420_888`, iOS
    /// `kCVPixelFormatType_420YpCbCr8BiPlanarFullRange` (420f).
    #[default]
    Full,
    /// Y uses 16–235 and chroma 16–240 (studio swing): iOS
    /// `kCVPixelFormatType_420YpCbCr8BiPlanarVideoRange` (420v). Read as full range, its
    /// black is 16 and its white 235: a washed-out, low-contrast image that skews exposure
    /// guidance and the evidence.
    Video,
}

/// The clockwise rotation to apply to the buffer to see it upright (Android's
/// `ImageInfo.rotationDegrees`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Rotation {
    #[default]
    R0,
    R90,
    R180,
    R270,
}

impl Rotation {
    pub fn from_degrees(degrees: i32) -> Result<Self, FrameError> {
        match degrees.rem_euclid(360) {
            0 => Ok(Self::R0),
            90 => Ok(Self::R90),
            180 => Ok(Self::R180),
            270 => Ok(Self::R270),
            _ => Err(FrameError::InvalidRotation { degrees }),
        }
    }

    pub fn degrees(self) -> u32 {
        match self {
            Self::R0 => 0,
            Self::R90 => 90,
            Self::R180 => 180,
            Self::R270 => 270,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum FrameError {
    #[error("frame size {width}x{height} is invalid (each side must be 1..={MAX_SIDE})")]
    InvalidSize { width: u32, height: u32 },
    #[error("{plane} plane: row stride {stride} is smaller than the {min} bytes a row needs")]
    StrideTooSmall {
        plane: &'static str,
        stride: usize,
        min: usize,
    },
    #[error("{plane} plane: pixel stride {stride} is invalid")]
    InvalidPixelStride { plane: &'static str, stride: usize },
    #[error("{plane} plane: buffer has {len} bytes, the frame needs {needed}")]
    BufferTooSmall {
        plane: &'static str,
        len: usize,
        needed: usize,
    },
    #[error("rotation {degrees} is not a multiple of 90 degrees")]
    InvalidRotation { degrees: i32 },
    #[error("output tensor has {len} values, {needed} are needed")]
    OutputSize { len: usize, needed: usize },
}

/// One plane of a frame: its bytes, the distance between rows and between pixels.
#[derive(Debug, Clone, Copy)]
pub struct Plane<'a> {
    pub data: &'a [u8],
    pub row_stride: usize,
    pub pixel_stride: usize,
}

impl<'a> Plane<'a> {
    pub fn new(data: &'a [u8], row_stride: usize, pixel_stride: usize) -> Self {
        Self {
            data,
            row_stride,
            pixel_stride,
        }
    }

    fn check(
        &self,
        plane: &'static str,
        cols: usize,
        rows: usize,
        bytes_per_pixel: usize,
    ) -> Result<(), FrameError> {
        if self.pixel_stride < bytes_per_pixel || self.pixel_stride > 16 {
            return Err(FrameError::InvalidPixelStride {
                plane,
                stride: self.pixel_stride,
            });
        }
        let min = (cols - 1) * self.pixel_stride + bytes_per_pixel;
        if self.row_stride < min {
            return Err(FrameError::StrideTooSmall {
                plane,
                stride: self.row_stride,
                min,
            });
        }
        // The last row need not be padded to the full stride (Android often omits it).
        let needed = (rows - 1) * self.row_stride + min;
        if self.data.len() < needed {
            return Err(FrameError::BufferTooSmall {
                plane,
                len: self.data.len(),
                needed,
            });
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy)]
enum Layout<'a> {
    /// Interleaved 8-bit pixels; `rgb` holds the byte offsets of R, G and B in a pixel.
    Packed { plane: Plane<'a>, rgb: [usize; 3] },
    Yuv {
        y: Plane<'a>,
        u: Plane<'a>,
        v: Plane<'a>,
    },
}

/// A borrowed camera frame. See the crate documentation.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    width: u32,
    height: u32,
    format: PixelFormat,
    layout: Layout<'a>,
    rotation: Rotation,
    mirrored: bool,
    range: YuvRange,
}

fn check_size(width: u32, height: u32) -> Result<(usize, usize), FrameError> {
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
        return Err(FrameError::InvalidSize { width, height });
    }
    Ok((width as usize, height as usize))
}

impl<'a> Frame<'a> {
    fn packed(
        data: &'a [u8],
        width: u32,
        height: u32,
        row_stride: usize,
        format: PixelFormat,
    ) -> Result<Self, FrameError> {
        let (w, h) = check_size(width, height)?;
        let (bpp, rgb) = match format {
            PixelFormat::Rgb8 => (3, [0, 1, 2]),
            PixelFormat::Rgba8 => (4, [0, 1, 2]),
            _ => (4, [2, 1, 0]),
        };
        let plane = Plane::new(data, row_stride, bpp);
        plane.check("packed", w, h, bpp)?;
        Ok(Self {
            width,
            height,
            format,
            layout: Layout::Packed { plane, rgb },
            rotation: Rotation::R0,
            mirrored: false,
            range: YuvRange::Full,
        })
    }

    /// Tightly or loosely packed RGB, 3 bytes per pixel.
    pub fn rgb8(
        data: &'a [u8],
        width: u32,
        height: u32,
        row_stride: usize,
    ) -> Result<Self, FrameError> {
        Self::packed(data, width, height, row_stride, PixelFormat::Rgb8)
    }

    /// RGBA, 4 bytes per pixel; alpha is ignored.
    pub fn rgba8(
        data: &'a [u8],
        width: u32,
        height: u32,
        row_stride: usize,
    ) -> Result<Self, FrameError> {
        Self::packed(data, width, height, row_stride, PixelFormat::Rgba8)
    }

    /// BGRA, 4 bytes per pixel (iOS `kCVPixelFormatType_32BGRA`); alpha is ignored.
    pub fn bgra8(
        data: &'a [u8],
        width: u32,
        height: u32,
        row_stride: usize,
    ) -> Result<Self, FrameError> {
        Self::packed(data, width, height, row_stride, PixelFormat::Bgra8)
    }

    /// YUV 4:2:0 with arbitrary strides: the general form behind every other YUV constructor
    /// and what CameraX's `ImageProxy` planes give directly.
    pub fn yuv420(
        y: Plane<'a>,
        u: Plane<'a>,
        v: Plane<'a>,
        width: u32,
        height: u32,
    ) -> Result<Self, FrameError> {
        Self::yuv(y, u, v, width, height, PixelFormat::Yuv420)
    }

    fn yuv(
        y: Plane<'a>,
        u: Plane<'a>,
        v: Plane<'a>,
        width: u32,
        height: u32,
        format: PixelFormat,
    ) -> Result<Self, FrameError> {
        let (w, h) = check_size(width, height)?;
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        y.check("Y", w, h, 1)?;
        u.check("U", cw, ch, 1)?;
        v.check("V", cw, ch, 1)?;
        Ok(Self {
            width,
            height,
            format,
            layout: Layout::Yuv { y, u, v },
            rotation: Rotation::R0,
            mirrored: false,
            range: YuvRange::Full,
        })
    }

    /// NV21: `y` then `vu` (interleaved V, U), each with its row stride.
    pub fn nv21(
        y: &'a [u8],
        y_stride: usize,
        vu: &'a [u8],
        vu_stride: usize,
        width: u32,
        height: u32,
    ) -> Result<Self, FrameError> {
        let u = vu.get(1..).unwrap_or(&[]);
        Self::yuv(
            Plane::new(y, y_stride, 1),
            Plane::new(u, vu_stride, 2),
            Plane::new(vu, vu_stride, 2),
            width,
            height,
            PixelFormat::Nv21,
        )
    }

    /// NV12: `y` then `uv` (interleaved U, V), each with its row stride.
    pub fn nv12(
        y: &'a [u8],
        y_stride: usize,
        uv: &'a [u8],
        uv_stride: usize,
        width: u32,
        height: u32,
    ) -> Result<Self, FrameError> {
        let v = uv.get(1..).unwrap_or(&[]);
        Self::yuv(
            Plane::new(y, y_stride, 1),
            Plane::new(uv, uv_stride, 2),
            Plane::new(v, uv_stride, 2),
            width,
            height,
            PixelFormat::Nv12,
        )
    }

    /// I420: three planes.
    #[allow(clippy::too_many_arguments)]
    pub fn i420(
        y: &'a [u8],
        y_stride: usize,
        u: &'a [u8],
        u_stride: usize,
        v: &'a [u8],
        v_stride: usize,
        width: u32,
        height: u32,
    ) -> Result<Self, FrameError> {
        Self::yuv(
            Plane::new(y, y_stride, 1),
            Plane::new(u, u_stride, 1),
            Plane::new(v, v_stride, 1),
            width,
            height,
            PixelFormat::I420,
        )
    }

    /// The same frame, to be rotated clockwise by `rotation` to be upright.
    pub fn with_rotation(mut self, rotation: Rotation) -> Self {
        self.rotation = rotation;
        self
    }

    /// The same frame, mirrored left-right after rotation (a front camera's selfie view).
    pub fn with_mirroring(mut self, mirrored: bool) -> Self {
        self.mirrored = mirrored;
        self
    }

    /// The same frame with its YUV samples in `range` (packed RGB frames ignore it).
    pub fn with_yuv_range(mut self, range: YuvRange) -> Self {
        self.range = range;
        self
    }

    pub fn format(&self) -> PixelFormat {
        self.format
    }

    pub fn yuv_range(&self) -> YuvRange {
        self.range
    }

    pub fn rotation(&self) -> Rotation {
        self.rotation
    }

    pub fn mirrored(&self) -> bool {
        self.mirrored
    }

    /// Width and height of the buffer as stored.
    pub fn buffer_size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// Width and height once rotated upright: the coordinate space every result uses.
    pub fn size(&self) -> (u32, u32) {
        match self.rotation {
            Rotation::R0 | Rotation::R180 => (self.width, self.height),
            Rotation::R90 | Rotation::R270 => (self.height, self.width),
        }
    }

    /// Maps upright (continuous) coordinates to buffer coordinates.
    pub fn upright_to_buffer(&self) -> Affine2 {
        let (w, h) = (self.width as f32, self.height as f32);
        let (uw, _) = self.size();
        // Undo the mirroring (in upright space), then the rotation.
        let unmirror = if self.mirrored {
            Affine2::new(-1.0, 0.0, uw as f32, 0.0, 1.0, 0.0)
        } else {
            Affine2::IDENTITY
        };
        let unrotate = match self.rotation {
            Rotation::R0 => Affine2::IDENTITY,
            // Clockwise 90: buffer (sx, sy) is shown at (h - sy, sx).
            Rotation::R90 => Affine2::new(0.0, 1.0, 0.0, -1.0, 0.0, h),
            Rotation::R180 => Affine2::new(-1.0, 0.0, w, 0.0, -1.0, h),
            Rotation::R270 => Affine2::new(0.0, -1.0, w, 1.0, 0.0, 0.0),
        };
        unrotate.after(&unmirror)
    }

    /// RGB of buffer pixel (`x`, `y`), which must be in range.
    #[inline]
    fn rgb_at(&self, x: usize, y: usize) -> [f32; 3] {
        match &self.layout {
            Layout::Packed { plane, rgb } => {
                let i = y * plane.row_stride + x * plane.pixel_stride;
                let px = &plane.data[i..i + 3];
                [px[rgb[0]] as f32, px[rgb[1]] as f32, px[rgb[2]] as f32]
            }
            Layout::Yuv { y: yp, u, v } => {
                let luma = yp.data[y * yp.row_stride + x * yp.pixel_stride] as f32;
                let (cx, cy) = (x / 2, y / 2);
                let cb = u.data[cy * u.row_stride + cx * u.pixel_stride] as f32 - 128.0;
                let cr = v.data[cy * v.row_stride + cx * v.pixel_stride] as f32 - 128.0;
                match self.range {
                    YuvRange::Full => yuv_to_rgb(luma, cb, cr),
                    // Stretch studio swing to full swing, then the same BT.601 matrix.
                    YuvRange::Video => yuv_to_rgb(
                        (luma - 16.0) * (255.0 / 219.0),
                        cb * (255.0 / 224.0),
                        cr * (255.0 / 224.0),
                    ),
                }
            }
        }
    }

    /// Fills `out` (`out_w * out_h * 3` floats, HWC, RGB) with the frame seen through
    /// `transform`, which maps output pixel coordinates (pixel centres at +0.5) to upright
    /// frame coordinates. Bilinear sampling; outside the frame is black. Each value is
    /// `channel * scale + offset` (e.g. `1/255, 0` for [0, 1] or `2/255, -1` for [-1, 1]).
    pub fn warp_into(
        &self,
        transform: &Affine2,
        out_w: usize,
        out_h: usize,
        scale: f32,
        offset: f32,
        out: &mut [f32],
    ) -> Result<(), FrameError> {
        let needed = out_w * out_h * 3;
        if out.len() != needed {
            return Err(FrameError::OutputSize {
                len: out.len(),
                needed,
            });
        }
        let m = self.upright_to_buffer().after(transform);
        let (w, h) = (self.width as usize, self.height as usize);
        let black = offset;
        for oy in 0..out_h {
            let v = oy as f32 + 0.5;
            for ox in 0..out_w {
                let u = ox as f32 + 0.5;
                let (sx, sy) = m.apply(u, v);
                // Pixel centres sit at +0.5: shift to index space.
                let (fx, fy) = (sx - 0.5, sy - 0.5);
                let o = (oy * out_w + ox) * 3;
                let px = &mut out[o..o + 3];
                if !(fx > -1.0 && fy > -1.0 && fx < w as f32 && fy < h as f32) {
                    px.fill(black);
                    continue;
                }
                let (x0, y0) = (fx.floor(), fy.floor());
                let (ax, ay) = (fx - x0, fy - y0);
                let (x0, y0) = (x0 as isize, y0 as isize);
                let mut acc = [0f32; 3];
                for (dy, wy) in [(0, 1.0 - ay), (1, ay)] {
                    let yy = y0 + dy;
                    if wy == 0.0 || yy < 0 || yy >= h as isize {
                        continue;
                    }
                    for (dx, wx) in [(0, 1.0 - ax), (1, ax)] {
                        let xx = x0 + dx;
                        if wx == 0.0 || xx < 0 || xx >= w as isize {
                            continue;
                        }
                        let c = self.rgb_at(xx as usize, yy as usize);
                        let wgt = wx * wy;
                        acc[0] += c[0] * wgt;
                        acc[1] += c[1] * wgt;
                        acc[2] += c[2] * wgt;
                    }
                }
                for (p, a) in px.iter_mut().zip(acc) {
                    *p = a * scale + offset;
                }
            }
        }
        Ok(())
    }

    /// Mean luma (0..255) over a grid of up to `samples × samples` points of the upright
    /// frame: a cheap exposure reading that never touches every pixel.
    pub fn mean_luma(&self, samples: usize) -> f32 {
        let (uw, uh) = self.size();
        let n = samples.clamp(1, 256);
        let m = self.upright_to_buffer();
        let mut sum = 0.0;
        for j in 0..n {
            for i in 0..n {
                let x = (i as f32 + 0.5) / n as f32 * uw as f32;
                let y = (j as f32 + 0.5) / n as f32 * uh as f32;
                let (sx, sy) = m.apply(x, y);
                let sx = (sx.max(0.0) as usize).min(self.width as usize - 1);
                let sy = (sy.max(0.0) as usize).min(self.height as usize - 1);
                let [r, g, b] = self.rgb_at(sx, sy);
                sum += 0.299 * r + 0.587 * g + 0.114 * b;
            }
        }
        sum / (n * n) as f32
    }
}

/// BT.601 full range (JFIF), what Android cameras and `kCVPixelFormatType_420YpCbCr8BiPlanarFullRange` use.
#[inline]
pub fn yuv_to_rgb(y: f32, cb: f32, cr: f32) -> [f32; 3] {
    [
        (y + 1.402 * cr).clamp(0.0, 255.0),
        (y - 0.344_136 * cb - 0.714_136 * cr).clamp(0.0, 255.0),
        (y + 1.772 * cb).clamp(0.0, 255.0),
    ]
}

/// The inverse of [`yuv_to_rgb`], rounded to bytes.
#[inline]
pub fn rgb_to_yuv(r: f32, g: f32, b: f32) -> [u8; 3] {
    let y = 0.299 * r + 0.587 * g + 0.114 * b;
    let cb = 128.0 - 0.168_736 * r - 0.331_264 * g + 0.5 * b;
    let cr = 128.0 + 0.5 * r - 0.418_688 * g - 0.081_312 * b;
    [
        y.round().clamp(0.0, 255.0) as u8,
        cb.round().clamp(0.0, 255.0) as u8,
        cr.round().clamp(0.0, 255.0) as u8,
    ]
}
