//! # liveness-light
//!
//! The screen-light reflection check, the same code on the device and on the server. While
//! the phone's screen shows the session's colours (drawn from the nonce and a device salt,
//! see `liveness_protocol::light`), each frame gives a small face tile ([`cut_tile`]); the
//! check fits the colour change of the tile's regions to what the screen showed
//! ([`fit_response`]) and judges it ([`Thresholds::judge`]):
//!
//! - **fit**: a live face reflects the colours; a replayed recording or an injected stream
//!   was made before they were drawn;
//! - **lag**: the reflection arrives with the light; a re-lighting attacker after its own
//!   capture-render-display delay;
//! - **shape**: the middle of a convex face catches more of the screen's light than its
//!   sides, and the room behind it almost none; a print or a screen answers uniformly.
//!
//! Its limits are physical and written in the README: sunlight swamps a phone screen, a far
//! face is barely lit, and an attacker who re-lights a replay faster than the lag bound
//! passes the check.

#![forbid(unsafe_code)]

mod analysis;
mod codec;
mod tile;

pub use analysis::{MAX_LAG_MS, MIN_LAG_MS, Response, Schedule, fit_response};
pub use codec::{
    MOSAIC_COLUMNS, MOSAIC_QUALITY, MosaicError, as_received, decode_mosaic, encode_mosaic,
};
pub use tile::{RegionMeans, TILE_SIDE, cut_tile, mosaic, region_means, split_mosaic};

/// The name the check carries in outcomes and verdicts.
pub const CHECK: &str = "light_reflection";

/// Why the check failed, as stable codes.
pub mod reasons {
    /// Too few frames with a face during the sequence.
    pub const NO_FACE: &str = "light_no_face";
    /// The face's colour did not follow the screen: a recording, or light too strong or too
    /// far for the screen to show (the user is guided and the step runs once more).
    pub const NO_REFLECTION: &str = "light_no_reflection";
    /// The colour followed the screen, but too late for a reflection.
    pub const LATE: &str = "light_late";
    /// The colour followed the screen uniformly, as a flat sheet or a screen does.
    pub const FLAT: &str = "light_flat";
}

/// Decision bounds; see the README for how each was measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    pub min_frames: usize,
    pub min_fit: f32,
    pub min_gain: f32,
    pub max_lag_ms: i32,
    pub max_periphery_ratio: f32,
    pub max_ring_ratio: f32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            min_frames: 24,
            min_fit: 0.5,
            min_gain: 0.008,
            max_lag_ms: 100,
            max_periphery_ratio: 0.75,
            max_ring_ratio: 0.45,
        }
    }
}

/// The check's result: passed, a score in 0..=1, the failure reason, and what was measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    pub passed: bool,
    pub score: f32,
    pub reason: Option<&'static str>,
    pub response: Option<Response>,
}

impl Judgement {
    /// A human-readable summary of the measurement, for verdict reasons and reports.
    pub fn detail(&self) -> String {
        match &self.response {
            Some(r) => format!(
                "fit {:.2}, lag {} ms, gain {:.3}, sides/centre {:.2}, background/centre {:.2} over {} frames",
                r.fit, r.lag_ms, r.gain, r.periphery_ratio, r.ring_ratio, r.frames
            ),
            None if self.reason == Some(reasons::NO_REFLECTION) => {
                "the face's colour did not follow the screen at all".into()
            }
            None => "too few frames with a face".into(),
        }
    }
}

impl Thresholds {
    pub fn judge(&self, samples: &[(u64, RegionMeans)], schedule: &Schedule) -> Judgement {
        let Some(r) = fit_response(samples, schedule, self.min_frames) else {
            // Enough frames but no positive answer at any lag is no reflection, not no face.
            let reason = if samples.len() >= self.min_frames {
                reasons::NO_REFLECTION
            } else {
                reasons::NO_FACE
            };
            return Judgement {
                passed: false,
                score: 0.0,
                reason: Some(reason),
                response: None,
            };
        };
        let reason = if r.fit < self.min_fit || r.gain < self.min_gain {
            Some(reasons::NO_REFLECTION)
        } else if r.lag_ms > self.max_lag_ms {
            Some(reasons::LATE)
        } else if r.periphery_ratio > self.max_periphery_ratio || r.ring_ratio > self.max_ring_ratio
        {
            Some(reasons::FLAT)
        } else {
            None
        };
        Judgement {
            passed: reason.is_none(),
            score: r.fit.clamp(0.0, 1.0),
            reason,
            response: Some(r),
        }
    }
}
