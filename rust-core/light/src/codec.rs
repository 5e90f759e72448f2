//! The tiles' trip to the server: one JPEG mosaic at a fixed quality. The device judges the
//! tiles as they come back out of that JPEG ([`as_received`]), so its decision and the
//! server's are made on the same pixels; JPEG's rounding is a noise comparable to a far
//! face's reflection, and a device that judged the raw tiles passed runs the server then
//! failed.

use crate::tile::{TILE_SIDE, mosaic, split_mosaic};

/// The mosaic's JPEG quality. Fixed, whatever the evidence budget does to the other frames:
/// at 85 the server's fit on a small face in a bright room fell from 0.88 to 0.77, at 95 to
/// 0.80 (`a_weak_reflection_survives_the_mosaic`), about 2 KB a tile.
pub const MOSAIC_QUALITY: u8 = 95;
/// Tiles per mosaic row (10 × 48 px: 480 px wide).
pub const MOSAIC_COLUMNS: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MosaicError {
    Encode(String),
    Decode(String),
    /// The picture does not hold the tiles the record lists.
    Shape {
        width: u32,
        height: u32,
        tiles: usize,
    },
}

impl std::fmt::Display for MosaicError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Encode(e) => write!(f, "the light mosaic could not be encoded: {e}"),
            Self::Decode(e) => write!(f, "the light mosaic is not a decodable JPEG: {e}"),
            Self::Shape {
                width,
                height,
                tiles,
            } => write!(
                f,
                "a {width}×{height} mosaic does not hold {tiles} tiles of {TILE_SIDE} px"
            ),
        }
    }
}

impl std::error::Error for MosaicError {}

/// The tiles as one JPEG: (width, height, bytes).
pub fn encode_mosaic(tiles: &[Vec<u8>]) -> Result<(u32, u32, Vec<u8>), MosaicError> {
    let (w, h, rgb) = mosaic(tiles, MOSAIC_COLUMNS);
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, MOSAIC_QUALITY)
        .encode(&rgb, w as u32, h as u32, image::ExtendedColorType::Rgb8)
        .map_err(|e| MosaicError::Encode(e.to_string()))?;
    Ok((w as u32, h as u32, out))
}

/// The `count` tiles of a mosaic JPEG.
pub fn decode_mosaic(bytes: &[u8], count: usize) -> Result<Vec<Vec<u8>>, MosaicError> {
    // The decoder may allocate only what `count` tiles need: the bytes come from a device,
    // and a JPEG header can claim any size.
    let rows = count.div_ceil(MOSAIC_COLUMNS).max(1);
    let (max_w, max_h) = (TILE_SIDE * MOSAIC_COLUMNS, TILE_SIDE * rows);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(max_w as u32);
    limits.max_image_height = Some(max_h as u32);
    limits.max_alloc = Some((max_w * max_h * 4) as u64 + (1 << 20));
    let mut reader =
        image::ImageReader::with_format(std::io::Cursor::new(bytes), image::ImageFormat::Jpeg);
    reader.limits(limits);
    let image = reader
        .decode()
        .map_err(|e| MosaicError::Decode(e.to_string()))?
        .to_rgb8();
    split_mosaic(image.as_raw(), image.width() as usize, count).ok_or(MosaicError::Shape {
        width: image.width(),
        height: image.height(),
        tiles: count,
    })
}

/// The tiles as the server will decode them.
pub fn as_received(tiles: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, MosaicError> {
    let (_, _, bytes) = encode_mosaic(tiles)?;
    decode_mosaic(&bytes, tiles.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_come_back_close_and_garbage_is_a_typed_error() {
        let tiles: Vec<Vec<u8>> = (0..13u8)
            .map(|i| {
                (0..TILE_SIDE * TILE_SIDE * 3)
                    .map(|p| (p % 97) as u8 + i * 9)
                    .collect()
            })
            .collect();
        let back = as_received(&tiles).unwrap();
        assert_eq!(back.len(), 13);
        let mean = |t: &[u8]| t.iter().map(|&v| f64::from(v)).sum::<f64>() / t.len() as f64;
        for (a, b) in tiles.iter().zip(&back) {
            assert!((mean(a) - mean(b)).abs() < 0.5);
        }
        let (w, h, bytes) = encode_mosaic(&tiles).unwrap();
        assert_eq!((w, h), (480, 96));
        assert!(matches!(
            decode_mosaic(&bytes, 21),
            Err(MosaicError::Shape { tiles: 21, .. })
        ));
        assert!(matches!(
            decode_mosaic(b"not a jpeg", 1),
            Err(MosaicError::Decode(_))
        ));
    }
}
