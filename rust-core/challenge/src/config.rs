//! Engine configuration: thresholds relative to the user's own baseline, time limits, which
//! checks run.

use crate::error::EngineError;

#[derive(Debug, Clone, PartialEq)]
pub struct EngineConfig {
    /// Neutral time needed before the first challenge (one face, centred, eyes open, still).
    pub baseline_ms: u32,
    /// The whole session, baseline included, must end within this.
    pub session_time_limit_ms: u32,
    /// A blink: eye openness below `closed_ratio` × baseline, back above `open_ratio` ×
    /// baseline, closed for `blink_min_ms..=blink_max_ms`.
    pub closed_ratio: f32,
    pub open_ratio: f32,
    pub blink_min_ms: u32,
    pub blink_max_ms: u32,
    /// Head turns: degrees from the baseline, held, then back within `return_ratio` of the peak.
    pub yaw_deg: f32,
    pub pitch_deg: f32,
    pub hold_ms: u32,
    pub return_ratio: f32,
    /// Distance: face size over baseline.
    pub closer_ratio: f32,
    pub farther_ratio: f32,
    /// Smile: mouth width over baseline at least `smile_ratio` and the corner-to-nose
    /// distance shrunk by `smile_lift_ratio` (baseline over now), both held `smile_hold_ms`.
    pub smile_ratio: f32,
    pub smile_lift_ratio: f32,
    pub smile_hold_ms: u32,
    /// FollowText: correlation of the head with the text, at a lag up to `follow_max_lag_ms`.
    pub follow_min_correlation: f32,
    pub follow_max_lag_ms: u32,
    /// A step that is not a head movement fails if the head turns this far (a recording of
    /// other challenges replayed).
    pub unexpected_turn_deg: f32,
    /// Guidance limits.
    pub min_face_size: f32,
    pub max_face_size: f32,
    pub max_center_offset: f32,
    pub min_brightness: f32,
    pub max_brightness: f32,
    pub min_sharpness: f32,
    pub max_occlusion: f32,
    /// A guidance message must hold this long before it shows or clears (no flicker).
    pub debounce_ms: u32,
    pub checks: Checks,
    /// The light step: the face must be at least this large (fraction of the frame) to be
    /// lit enough by the screen, and the reflection's decision bounds.
    pub light_min_face_size: f32,
    /// A run too weak to judge on a face smaller than this runs again once the user came
    /// closer, to at least this size.
    pub light_retry_face_size: f32,
    pub light: liveness_light::Thresholds,
}

/// Checks that need no anti-spoofing model, each on or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checks {
    /// Parallax during head turns: a flat print or screen fits one homography.
    pub three_d: bool,
    /// Timestamps, frame rate, duplicated or frozen frames, face jumps.
    pub temporal: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            baseline_ms: 500,
            session_time_limit_ms: 60_000,
            closed_ratio: 0.78,
            open_ratio: 0.9,
            blink_min_ms: 80,
            blink_max_ms: 500,
            yaw_deg: 12.0,
            pitch_deg: 10.0,
            hold_ms: 150,
            return_ratio: 0.5,
            closer_ratio: 1.25,
            farther_ratio: 0.8,
            smile_ratio: 1.06,
            smile_lift_ratio: 1.15,
            smile_hold_ms: 300,
            follow_min_correlation: 0.7,
            follow_max_lag_ms: 600,
            unexpected_turn_deg: 22.0,
            min_face_size: 0.15,
            max_face_size: 0.75,
            max_center_offset: 0.22,
            min_brightness: 0.22,
            max_brightness: 0.9,
            // Real 400×300 webcams read 0.00009–0.0003 on a sharp face (Laplacian variance of
            // an upscaled crop); below this the landmarks themselves become unreliable.
            min_sharpness: 0.00004,
            // Clear faces read 0–0.17 on the rendered set; a hand over nose and mouth 0.33–0.67.
            max_occlusion: 0.3,
            debounce_ms: 250,
            checks: Checks {
                three_d: true,
                temporal: true,
            },
            light_min_face_size: 0.15,
            light_retry_face_size: 0.3,
            light: liveness_light::Thresholds::default(),
        }
    }
}

impl EngineConfig {
    pub fn validate(&self) -> Result<(), EngineError> {
        let bad = |m: &str| Err(EngineError::Config(m.to_owned()));
        let ratios = [
            self.closed_ratio,
            self.open_ratio,
            self.return_ratio,
            self.farther_ratio,
        ];
        if !ratios.iter().all(|r| r.is_finite() && *r > 0.0 && *r < 1.0)
            || self.closed_ratio >= self.open_ratio
        {
            return bad(
                "closed_ratio < open_ratio, return_ratio and farther_ratio must lie in (0, 1)",
            );
        }
        if !(self.closer_ratio > 1.0 && self.smile_ratio > 1.0 && self.smile_lift_ratio > 1.0) {
            return bad("closer_ratio, smile_ratio and smile_lift_ratio must exceed 1");
        }
        if self.blink_min_ms >= self.blink_max_ms
            || self.baseline_ms == 0
            || self.session_time_limit_ms < self.baseline_ms
        {
            return bad(
                "blink_min_ms < blink_max_ms, baseline_ms > 0 and a session limit above the baseline are needed",
            );
        }
        if !(self.yaw_deg > 0.0
            && self.pitch_deg > 0.0
            && self.unexpected_turn_deg > self.yaw_deg.min(self.pitch_deg))
        {
            return bad("turn thresholds must be positive, unexpected_turn_deg above them");
        }
        if !(0.0..=1.0).contains(&self.follow_min_correlation)
            || self.min_face_size.partial_cmp(&self.max_face_size) != Some(std::cmp::Ordering::Less)
        {
            return bad("follow_min_correlation in 0..=1 and min_face_size < max_face_size");
        }
        Ok(())
    }
}
