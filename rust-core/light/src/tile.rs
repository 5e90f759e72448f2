//! Face tiles: a small square around the face cut from each frame of the light step, and the
//! three regions the check compares in it. The tile is centred on the face box and twice its
//! width, so the face spans the middle half and the background shows at both sides.

use liveness_frame::{Affine2, Frame};

/// Side of a tile in pixels (a multiple of 16, so JPEG's chroma blocks never straddle two
/// tiles of a mosaic).
pub const TILE_SIDE: usize = 48;
/// Tile width over face-box width.
const TILE_OVER_FACE: f32 = 2.0;
/// Face-box height over width assumed by the region layout (FaceMesh boxes are ~1.2–1.3).
const FACE_ASPECT: f32 = 1.25;

/// Mean colour (sRGB values 0..255) of the regions of one tile.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RegionMeans {
    /// Nose, inner cheeks and lower forehead: facing the screen.
    pub centre: [f32; 3],
    /// The cheeks' sides next to the face's outline: turned away from the screen.
    pub periphery: [f32; 3],
    /// Beside the head, outside it: the room behind, or the medium of a print or screen.
    pub ring: [f32; 3],
}

/// Cuts the tile for a face box `[x, y, w, h]` (upright frame pixels) out of `frame`: RGB,
/// `TILE_SIDE`² pixels. `None` for an empty box.
pub fn cut_tile(frame: &Frame, face_box: [f32; 4]) -> Option<Vec<u8>> {
    let [x, y, w, h] = face_box;
    if !(w > 1.0 && h > 1.0 && x.is_finite() && y.is_finite()) {
        return None;
    }
    let side = w * TILE_OVER_FACE;
    let (cx, cy) = (x + w / 2.0, y + h / 2.0);
    let s = side / TILE_SIDE as f32;
    let t = Affine2::new(s, 0.0, cx - side / 2.0, 0.0, s, cy - side / 2.0);
    let mut px = vec![0f32; TILE_SIDE * TILE_SIDE * 3];
    frame
        .warp_into(&t, TILE_SIDE, TILE_SIDE, 1.0, 0.0, &mut px)
        .ok()?;
    Some(
        px.iter()
            .map(|v| v.round().clamp(0.0, 255.0) as u8)
            .collect(),
    )
}

#[derive(Clone, Copy, PartialEq)]
enum Region {
    Centre,
    Periphery,
    Ring,
}

/// Which region tile pixel (x, y) belongs to, if any.
fn region(x: usize, y: usize) -> Option<Region> {
    let half = 0.5 / TILE_OVER_FACE;
    let u = ((x as f32 + 0.5) / TILE_SIDE as f32 - 0.5) / half;
    let v = ((y as f32 + 0.5) / TILE_SIDE as f32 - 0.5) / (half * FACE_ASPECT);
    if (u / 0.45).powi(2) + (v / 0.55).powi(2) <= 1.0 {
        return Some(Region::Centre);
    }
    let au = u.abs();
    if (0.8..=1.05).contains(&au) && (-0.45..=0.45).contains(&v) {
        return Some(Region::Periphery);
    }
    if (1.3..=1.9).contains(&au) && v.abs() <= 0.6 {
        return Some(Region::Ring);
    }
    None
}

/// The regions' mean colours of a tile (`TILE_SIDE`² RGB pixels).
pub fn region_means(tile: &[u8]) -> Option<RegionMeans> {
    if tile.len() != TILE_SIDE * TILE_SIDE * 3 {
        return None;
    }
    let mut sums = [[0f64; 4]; 3];
    for y in 0..TILE_SIDE {
        for x in 0..TILE_SIDE {
            let Some(r) = region(x, y) else { continue };
            let k = (y * TILE_SIDE + x) * 3;
            let acc = &mut sums[r as usize];
            for c in 0..3 {
                acc[c] += f64::from(tile[k + c]);
            }
            acc[3] += 1.0;
        }
    }
    let mean = |s: [f64; 4]| [0, 1, 2].map(|c| (s[c] / s[3].max(1.0)) as f32);
    Some(RegionMeans {
        centre: mean(sums[Region::Centre as usize]),
        periphery: mean(sums[Region::Periphery as usize]),
        ring: mean(sums[Region::Ring as usize]),
    })
}

/// Tiles side by side, `columns` a row, as one RGB image (`width`, `height`, pixels); the
/// last row is padded with grey.
pub fn mosaic(tiles: &[Vec<u8>], columns: usize) -> (usize, usize, Vec<u8>) {
    let columns = columns.max(1);
    let rows = tiles.len().div_ceil(columns).max(1);
    let (w, h) = (columns * TILE_SIDE, rows * TILE_SIDE);
    let mut out = vec![128u8; w * h * 3];
    for (i, tile) in tiles.iter().enumerate() {
        let (tx, ty) = ((i % columns) * TILE_SIDE, (i / columns) * TILE_SIDE);
        for y in 0..TILE_SIDE {
            let src = &tile[y * TILE_SIDE * 3..(y + 1) * TILE_SIDE * 3];
            let at = ((ty + y) * w + tx) * 3;
            out[at..at + TILE_SIDE * 3].copy_from_slice(src);
        }
    }
    (w, h, out)
}

/// The tiles back out of a mosaic made by [`mosaic`].
pub fn split_mosaic(rgb: &[u8], width: usize, count: usize) -> Option<Vec<Vec<u8>>> {
    let columns = width / TILE_SIDE;
    if columns == 0 || width % TILE_SIDE != 0 {
        return None;
    }
    let rows = count.div_ceil(columns);
    if rgb.len() < width * rows * TILE_SIDE * 3 {
        return None;
    }
    Some(
        (0..count)
            .map(|i| {
                let (tx, ty) = ((i % columns) * TILE_SIDE, (i / columns) * TILE_SIDE);
                let mut tile = Vec::with_capacity(TILE_SIDE * TILE_SIDE * 3);
                for y in 0..TILE_SIDE {
                    let at = ((ty + y) * width + tx) * 3;
                    tile.extend_from_slice(&rgb[at..at + TILE_SIDE * 3]);
                }
                tile
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_disjoint_symmetric_and_large_enough() {
        let mut counts = [0usize; 3];
        for y in 0..TILE_SIDE {
            for x in 0..TILE_SIDE {
                if let Some(r) = region(x, y) {
                    counts[r as usize] += 1;
                    assert!(region(TILE_SIDE - 1 - x, y) == Some(r));
                }
            }
        }
        assert!(counts.iter().all(|&c| c >= 60), "{counts:?}");
    }

    #[test]
    fn mosaics_round_trip() {
        let tiles: Vec<Vec<u8>> = (0..7u8)
            .map(|i| vec![i * 30; TILE_SIDE * TILE_SIDE * 3])
            .collect();
        let (w, h, rgb) = mosaic(&tiles, 3);
        assert_eq!((w, h), (3 * TILE_SIDE, 3 * TILE_SIDE));
        assert_eq!(split_mosaic(&rgb, w, 7).unwrap(), tiles);
        assert!(split_mosaic(&rgb, w, 10).is_none());
        let m = region_means(&tiles[2]).unwrap();
        assert_eq!(m.centre, [60.0; 3]);
    }
}
