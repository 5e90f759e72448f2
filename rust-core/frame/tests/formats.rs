//! Every format, rotation and mirroring reads the same upright picture.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use liveness_frame::{
    Affine2, Frame, FrameError, OwnedFrame, PixelFormat, Plane, Rotation, YuvRange,
};

const W: u32 = 64;
const H: u32 = 48;

/// A smooth colourful image (smooth so 4:2:0 chroma subsampling loses little) with one sharp
/// marker so orientation mistakes cannot cancel out.
fn upright() -> Vec<u8> {
    let mut rgb = Vec::new();
    for y in 0..H {
        for x in 0..W {
            let marker = x < 8 && y < 6;
            rgb.extend_from_slice(&[
                if marker { 255 } else { (x * 3) as u8 },
                if marker { 255 } else { (y * 4) as u8 },
                if marker { 255 } else { 100 + ((x + y) as u8) },
            ]);
        }
    }
    rgb
}

fn warp(frame: &Frame) -> Vec<f32> {
    let (w, h) = frame.size();
    let t = Affine2::letterbox(w as f32, h as f32, 32);
    let mut out = vec![0.0; 32 * 32 * 3];
    frame.warp_into(&t, 32, 32, 1.0, 0.0, &mut out).unwrap();
    out
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn mean_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f32>() / a.len() as f32
}

#[test]
fn every_format_reads_like_rgb() {
    let rgb = upright();
    let reference = warp(&Frame::rgb8(&rgb, W, H, W as usize * 3).unwrap());
    for format in [
        PixelFormat::Rgba8,
        PixelFormat::Bgra8,
        PixelFormat::Nv21,
        PixelFormat::Nv12,
        PixelFormat::I420,
        PixelFormat::Yuv420,
    ] {
        let owned = OwnedFrame::from_rgb(&rgb, W, H, format).unwrap();
        let got = warp(&owned.as_frame().unwrap());
        let (mean, max) = (mean_diff(&reference, &got), max_diff(&reference, &got));
        match format {
            PixelFormat::Rgba8 | PixelFormat::Bgra8 => assert_eq!(max, 0.0, "{format:?}"),
            // YUV rounding and 2×2 chroma: small on average, larger only at the sharp marker.
            _ => assert!(
                mean < 1.5 && max < 60.0,
                "{format:?}: mean {mean}, max {max}"
            ),
        }
    }
}

/// iOS 420v: the NV12 layout of 420f with Y squeezed into 16–235 and chroma into 16–240.
#[test]
fn video_range_yuv_reads_like_the_full_range_picture() {
    let rgb = upright();
    let reference = warp(&Frame::rgb8(&rgb, W, H, W as usize * 3).unwrap());
    let full = OwnedFrame::from_rgb(&rgb, W, H, PixelFormat::Nv12).unwrap();
    let y: Vec<u8> = full.planes[0]
        .iter()
        .map(|&v| (16.0 + v as f32 * 219.0 / 255.0).round() as u8)
        .collect();
    let uv: Vec<u8> = full.planes[1]
        .iter()
        .map(|&v| (128.0 + (v as f32 - 128.0) * 224.0 / 255.0).round() as u8)
        .collect();
    let cw = (W as usize).div_ceil(2) * 2;
    let video = Frame::nv12(&y, W as usize, &uv, cw, W, H)
        .unwrap()
        .with_yuv_range(YuvRange::Video);
    assert_eq!(video.yuv_range(), YuvRange::Video);
    let got = warp(&video);
    let (mean, max) = (mean_diff(&reference, &got), max_diff(&reference, &got));
    assert!(
        mean < 2.0 && max < 60.0,
        "video range: mean {mean}, max {max}"
    );
    // The same bytes taken for full range: the washed-out picture 420v used to give.
    let wrong = warp(&Frame::nv12(&y, W as usize, &uv, cw, W, H).unwrap());
    assert!(
        mean_diff(&reference, &wrong) > 3.0 * mean.max(1.0),
        "full-range reading of video-range bytes should be visibly off"
    );
}

#[test]
fn video_range_black_and_white_are_the_ends_of_the_scale() {
    let (w, h) = (4u32, 2u32);
    for (luma, want) in [(16u8, 0.0f32), (235, 255.0), (126, 128.0)] {
        let y = vec![luma; 8];
        let uv = vec![128u8; 4];
        let frame = Frame::nv12(&y, 4, &uv, 4, w, h)
            .unwrap()
            .with_yuv_range(YuvRange::Video);
        let got = frame.mean_luma(4);
        assert!(
            (got - want).abs() < 1.0,
            "Y={luma}: luma {got}, want {want}"
        );
        // Below black and above white (camera overshoot) clamp instead of wrapping.
        let full = Frame::nv12(&y, 4, &uv, 4, w, h).unwrap();
        assert!((full.mean_luma(4) - luma as f32).abs() < 1.0);
    }
    let frame = Frame::nv12(&[0u8; 8], 4, &[128u8; 4], 4, w, h)
        .unwrap()
        .with_yuv_range(YuvRange::Video);
    assert_eq!(frame.mean_luma(4), 0.0);
    // Saturated video-range chroma (240) is full blue, as 255 is in full range.
    let blue = Frame::nv12(&[41u8; 8], 4, &[240, 110, 240, 110], 4, w, h)
        .unwrap()
        .with_yuv_range(YuvRange::Video);
    let mut out = vec![0.0; 3];
    blue.warp_into(&Affine2::letterbox(4.0, 2.0, 1), 1, 1, 1.0, 0.0, &mut out)
        .unwrap();
    assert!(out[2] > 200.0 && out[0] < 60.0, "{out:?}");
}

/// Builds the buffer a camera would deliver for `upright` with `rotation`.
fn rotated_buffer(rgb: &[u8], rotation: Rotation) -> (Vec<u8>, u32, u32) {
    let (w, h) = (W as usize, H as usize);
    let (bw, bh) = match rotation {
        Rotation::R0 | Rotation::R180 => (w, h),
        _ => (h, w),
    };
    let mut out = vec![0u8; bw * bh * 3];
    for sy in 0..bh {
        for sx in 0..bw {
            let (x, y) = match rotation {
                Rotation::R0 => (sx, sy),
                Rotation::R90 => (w - 1 - sy, sx),
                Rotation::R180 => (w - 1 - sx, h - 1 - sy),
                Rotation::R270 => (sy, h - 1 - sx),
            };
            let (i, o) = ((y * w + x) * 3, (sy * bw + sx) * 3);
            out[o..o + 3].copy_from_slice(&rgb[i..i + 3]);
        }
    }
    (out, bw as u32, bh as u32)
}

#[test]
fn rotation_makes_buffers_upright() {
    let rgb = upright();
    let reference = warp(&Frame::rgb8(&rgb, W, H, W as usize * 3).unwrap());
    for rotation in [Rotation::R90, Rotation::R180, Rotation::R270] {
        let (buf, bw, bh) = rotated_buffer(&rgb, rotation);
        let frame = Frame::rgb8(&buf, bw, bh, bw as usize * 3)
            .unwrap()
            .with_rotation(rotation);
        assert_eq!(frame.size(), (W, H));
        let got = warp(&frame);
        assert!(max_diff(&reference, &got) < 1e-3, "{rotation:?}");
        // The same buffer in NV21 (Android's usual case) also comes out upright.
        let nv21 = OwnedFrame::from_rgb(&buf, bw, bh, PixelFormat::Nv21).unwrap();
        let got = warp(&nv21.as_frame().unwrap().with_rotation(rotation));
        assert!(mean_diff(&reference, &got) < 1.5, "{rotation:?} NV21");
    }
}

#[test]
fn mirroring_flips_left_and_right() {
    let rgb = upright();
    let mut flipped = rgb.clone();
    for y in 0..H as usize {
        for x in 0..W as usize {
            let (i, o) = (
                (y * W as usize + x) * 3,
                (y * W as usize + (W as usize - 1 - x)) * 3,
            );
            flipped[o..o + 3].copy_from_slice(&rgb[i..i + 3]);
        }
    }
    let a = warp(&Frame::rgb8(&flipped, W, H, W as usize * 3).unwrap());
    let b = warp(
        &Frame::rgb8(&rgb, W, H, W as usize * 3)
            .unwrap()
            .with_mirroring(true),
    );
    assert!(max_diff(&a, &b) < 1e-3);
}

#[test]
fn padded_rows_and_unpadded_last_row_are_read() {
    let rgb = upright();
    let stride = W as usize * 3 + 13;
    let mut padded = vec![7u8; stride * (H as usize - 1) + W as usize * 3];
    for y in 0..H as usize {
        let row = &rgb[y * W as usize * 3..(y + 1) * W as usize * 3];
        padded[y * stride..y * stride + row.len()].copy_from_slice(row);
    }
    let a = warp(&Frame::rgb8(&rgb, W, H, W as usize * 3).unwrap());
    let b = warp(&Frame::rgb8(&padded, W, H, stride).unwrap());
    assert_eq!(max_diff(&a, &b), 0.0);
}

#[test]
fn bad_buffers_are_typed_errors() {
    let buf = vec![0u8; 100];
    assert_eq!(
        Frame::rgb8(&buf, 0, 4, 0).unwrap_err(),
        FrameError::InvalidSize {
            width: 0,
            height: 4
        }
    );
    assert!(matches!(
        Frame::rgb8(&buf, 100_000, 1, 300_000),
        Err(FrameError::InvalidSize { .. })
    ));
    assert_eq!(
        Frame::rgb8(&buf, 10, 2, 20).unwrap_err(),
        FrameError::StrideTooSmall {
            plane: "packed",
            stride: 20,
            min: 30
        }
    );
    assert_eq!(
        Frame::rgb8(&buf, 10, 4, 30).unwrap_err(),
        FrameError::BufferTooSmall {
            plane: "packed",
            len: 100,
            needed: 120
        }
    );
    let y = vec![0u8; 16];
    assert!(matches!(
        Frame::nv21(&y, 4, &[0u8; 7], 4, 4, 4),
        Err(FrameError::BufferTooSmall {
            plane: "V" | "U",
            ..
        })
    ));
    assert!(matches!(
        Frame::nv21(&y, 4, &[], 4, 4, 4),
        Err(FrameError::BufferTooSmall { .. })
    ));
    assert!(matches!(
        Frame::yuv420(
            Plane::new(&y, 4, 1),
            Plane::new(&y, 2, 0),
            Plane::new(&y, 2, 1),
            4,
            4
        ),
        Err(FrameError::InvalidPixelStride { plane: "U", .. })
    ));
    assert!(matches!(
        Frame::i420(&y, 3, &y, 2, &y, 2, 4, 4),
        Err(FrameError::StrideTooSmall { plane: "Y", .. })
    ));
    assert_eq!(
        Rotation::from_degrees(45),
        Err(FrameError::InvalidRotation { degrees: 45 })
    );
    assert_eq!(Rotation::from_degrees(-90), Ok(Rotation::R270));
    let frame = Frame::rgb8(&buf, 4, 4, 12).unwrap();
    let mut small = vec![0.0; 5];
    assert!(matches!(
        frame.warp_into(&Affine2::IDENTITY, 2, 2, 1.0, 0.0, &mut small),
        Err(FrameError::OutputSize { len: 5, needed: 12 })
    ));
    // Odd sizes are fine: chroma planes round up.
    OwnedFrame::from_rgb(&[0u8; 5 * 3 * 3], 5, 3, PixelFormat::I420)
        .unwrap()
        .as_frame()
        .unwrap();
}
