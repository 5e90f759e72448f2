//! The screen-light step: which colours the device's screen shows, for how long, and what the
//! evidence reports about it.
//!
//! # Derivation (light version 1)
//! The plan only says that the step runs ([`LightSpec`]); the colours are drawn on the device
//! from the nonce **and a 16-byte salt the device picks when the step starts**, and the salt
//! is revealed in the signed evidence. With the nonce alone, anyone who reads the plan (a user
//! intercepting their own phone's traffic) would know the whole sequence in advance and
//! could pre-light a replayed face; with the salt the sequence is unknown until each colour
//! is on the screen.
//!
//! 1. A stream of 32-bit words: block `i` is
//!    `SHA-256("liveness-light/v1" ‖ 0x00 ‖ nonce ‖ salt ‖ u32_be(i))`, eight big-endian
//!    words each, and `uniform(n)` as in the plan (rejection sampling, no modulo bias).
//! 2. Colour 0 is `PALETTE[uniform(6)]`; colour `k > 0` is
//!    `PALETTE[(c_{k−1} + 1 + uniform(5)) mod 6]`, so consecutive colours always differ.
//! 3. Each colour's duration is `350 + 50·uniform(3)` ms, drawn right after its colour.
//!
//! Six colours of 350–450 ms: at most 2.7 s of flashing. Every colour lasts over 1/3 s, so
//! the screen changes at most three times in any second (WCAG 2.3.1), and the palette has no
//! saturated red.

use serde::{Deserialize, Serialize};

use crate::encoding::Nonce;
use crate::error::{ProtocolError, Result};
use crate::plan::WordStream;

pub const LIGHT_VERSION: u32 = 1;
const DOMAIN: &[u8] = b"liveness-light/v1";
pub const COLOURS: u8 = 6;
pub const SALT_BYTES: usize = 16;
/// The light step's fixed length on the device (lead-in, the colours, then frames until this
/// much time has passed), whatever the drawn durations: the longest sequence is 2.7 s.
pub const STEP_MS: u32 = 3000;
/// The longest a run waits for a face it can use (one close enough for the screen to light),
/// and the pause before the second run while its guidance shows.
pub const MAX_WAIT_MS: u32 = 5000;
pub const RETRY_PAUSE_MS: u32 = 1500;
/// The longest the light step may take on the device: two runs, each after its wait, and the
/// pause between. A capture with the step may last this much longer than its challenges.
pub const MAX_STEP_MS: u32 = 2 * (STEP_MS + MAX_WAIT_MS) + RETRY_PAUSE_MS;
/// Most light tiles one evidence may carry.
pub const MAX_TILES: usize = 120;

/// The safe palette (sRGB): white, blue, cyan, green, yellow, violet.
pub const PALETTE: [[u8; 3]; 6] = [
    [255, 255, 255],
    [40, 90, 255],
    [0, 220, 255],
    [40, 230, 80],
    [255, 220, 40],
    [200, 60, 255],
];

/// What the plan says about the light step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LightSpec {
    pub version: u32,
    pub colours: u8,
}

impl LightSpec {
    pub fn current() -> Self {
        Self {
            version: LIGHT_VERSION,
            colours: COLOURS,
        }
    }

    pub fn validate(&self) -> Result<()> {
        if self.version != LIGHT_VERSION {
            return Err(ProtocolError::UnsupportedFormatVersion {
                found: self.version.to_string(),
                supported: LIGHT_VERSION,
            });
        }
        if self.colours != COLOURS {
            return Err(ProtocolError::invalid("light.colours", "must be 6"));
        }
        Ok(())
    }
}

/// One colour of the sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LightColour {
    pub rgb: [u8; 3],
    pub duration_ms: u32,
}

/// The sequence for `nonce` and the device's `salt` (see the module documentation).
pub fn derive_light(nonce: &Nonce, salt: &[u8; SALT_BYTES]) -> Vec<LightColour> {
    let mut stream = WordStream::new(DOMAIN, nonce, salt);
    let mut out = Vec::with_capacity(usize::from(COLOURS));
    let mut prev: Option<u32> = None;
    for _ in 0..COLOURS {
        let c = match prev {
            None => stream.uniform(6),
            Some(p) => (p + 1 + stream.uniform(5)) % 6,
        };
        let duration_ms = 350 + 50 * stream.uniform(3);
        out.push(LightColour {
            rgb: PALETTE[c as usize],
            duration_ms,
        });
        prev = Some(c);
    }
    out
}

/// What the evidence says about the light step that was judged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LightRecord {
    pub version: u32,
    /// The salt the colours were drawn with, 32 lowercase hex digits.
    pub salt: String,
    /// 1 for the first run of the step, 2 after a retry (each run draws a new salt).
    pub attempt: u8,
    /// When each colour reached the screen, in ms since capture start: the host's
    /// presentation report, or the time the colour was asked for when the host sent none.
    pub presented_ms: Vec<u32>,
    /// When the screen went back to the normal view.
    pub restored_ms: u32,
    /// Whether `presented_ms` came from the host's display reports.
    pub reported: bool,
    /// Capture time of each tile, in ms since capture start, in mosaic order.
    pub tiles_ms: Vec<u32>,
    /// Side of one square tile and tiles per mosaic row.
    pub tile_side: u16,
    pub columns: u16,
    /// Position of the mosaic JPEG in the upload.
    pub frame_index: u16,
}

impl LightRecord {
    pub fn salt_bytes(&self) -> Result<[u8; SALT_BYTES]> {
        let bad = || ProtocolError::invalid("light.salt", "must be 32 lowercase hex digits");
        if self.salt.len() != SALT_BYTES * 2 || self.salt.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(bad());
        }
        let mut out = [0u8; SALT_BYTES];
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(&self.salt[i * 2..i * 2 + 2], 16).map_err(|_| bad())?;
        }
        Ok(out)
    }

    pub fn validate(&self) -> Result<()> {
        if self.version != LIGHT_VERSION {
            return Err(ProtocolError::UnsupportedFormatVersion {
                found: self.version.to_string(),
                supported: LIGHT_VERSION,
            });
        }
        self.salt_bytes()?;
        if !(1..=2).contains(&self.attempt) {
            return Err(ProtocolError::invalid("light.attempt", "must be 1 or 2"));
        }
        if self.presented_ms.len() != usize::from(COLOURS)
            || self.presented_ms.windows(2).any(|w| w[0] >= w[1])
            || self
                .presented_ms
                .last()
                .is_some_and(|&l| l >= self.restored_ms)
        {
            return Err(ProtocolError::invalid(
                "light.presented_ms",
                "six increasing times before restored_ms",
            ));
        }
        if self.tiles_ms.is_empty() || self.tiles_ms.len() > MAX_TILES {
            return Err(ProtocolError::TooManyItems {
                field: "light.tiles_ms",
                max: MAX_TILES,
                actual: self.tiles_ms.len(),
            });
        }
        if self.tiles_ms.windows(2).any(|w| w[0] > w[1]) {
            return Err(ProtocolError::invalid(
                "light.tiles_ms",
                "must not decrease",
            ));
        }
        if !(16..=128).contains(&self.tile_side) || !(1..=32).contains(&self.columns) {
            return Err(ProtocolError::invalid(
                "light.tile_side",
                "tiles are 16..=128 px, 1..=32 a row",
            ));
        }
        Ok(())
    }
}

/// Hex of a salt, as [`LightRecord::salt`] writes it.
pub fn salt_hex(salt: &[u8; SALT_BYTES]) -> String {
    salt.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_follow_the_rules_and_depend_on_nonce_and_salt() {
        let mut distinct = std::collections::HashSet::new();
        for b in 0..64u8 {
            let seq = derive_light(&Nonce([b; 32]), &[b / 2; SALT_BYTES]);
            assert_eq!(seq.len(), 6);
            assert_eq!(seq, derive_light(&Nonce([b; 32]), &[b / 2; SALT_BYTES]));
            for w in seq.windows(2) {
                assert_ne!(w[0].rgb, w[1].rgb);
            }
            for c in &seq {
                assert!((350..=450).contains(&c.duration_ms));
                assert!(PALETTE.contains(&c.rgb));
            }
            // Never more than three changes in a second.
            assert!(seq.iter().all(|c| c.duration_ms > 1000 / 3));
            distinct.insert(seq);
        }
        assert!(distinct.len() > 60);
        let n = Nonce([1; 32]);
        assert_ne!(derive_light(&n, &[0; 16]), derive_light(&n, &[1; 16]));
    }

    #[test]
    fn no_saturated_red_in_the_palette() {
        for [r, g, b] in PALETTE {
            assert!(!(r > 180 && g < 80 && b < 80), "{r} {g} {b}");
        }
    }

    #[test]
    fn records_are_checked() {
        let good = LightRecord {
            version: 1,
            salt: salt_hex(&[0xab; 16]),
            attempt: 1,
            presented_ms: vec![100, 500, 900, 1300, 1700, 2100],
            restored_ms: 2500,
            reported: true,
            tiles_ms: vec![100, 133, 166],
            tile_side: 48,
            columns: 10,
            frame_index: 3,
        };
        good.validate().unwrap();
        assert_eq!(good.salt_bytes().unwrap(), [0xab; 16]);
        let mut bad = good.clone();
        bad.salt = "AB".repeat(16);
        assert!(bad.validate().is_err());
        let mut bad = good.clone();
        bad.presented_ms.swap(0, 1);
        assert!(bad.validate().is_err());
        let mut bad = good.clone();
        bad.tiles_ms = vec![0; 121];
        assert!(bad.validate().is_err());
        let mut bad = good;
        bad.restored_ms = 2000;
        assert!(bad.validate().is_err());
    }
}
