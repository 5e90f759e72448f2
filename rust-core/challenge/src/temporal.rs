//! Temporal continuity: whether the frames form one live stream.
//!
//! Real capture is irregular: cheap webcams and phones in low light deliver 15–25 fps, repeat
//! frames (a 30 fps stream of 10 fps exposures repeats each frame three times) and stamp them
//! unevenly, sometimes twice with the same time. None of that is an attack. What is: a picture
//! that stops changing for a long time (a paused video, a still injected as a stream), time
//! running backwards, the face teleporting across the frame (a cut), or long holes in the
//! stream. Repeats are therefore measured in *time*, not counted: a frozen stretch must last
//! [`FROZEN_MS`] to count.

use crate::observation::Observation;
use crate::session::CheckOutcome;

/// Identical frames for this long are a frozen picture, not a slow camera.
pub const FROZEN_MS: u64 = 1000;
/// A hole in the stream longer than this counts as a gap; more than [`MAX_GAPS`] fail.
pub const GAP_MS: u64 = 500;
pub const MAX_GAPS: u32 = 2;

/// Running statistics for the temporal-continuity check.
#[derive(Debug, Default)]
pub(crate) struct Temporal {
    pub last_t: Option<u64>,
    last_signature: Option<[u8; 64]>,
    last_center: Option<[f32; 3]>,
    /// When the current run of identical frames started.
    frozen_since: Option<u64>,
    pub frames: u32,
    non_monotonic: u32,
    gaps: u32,
    repeats: u32,
    longest_frozen_ms: u64,
    jumps: u32,
}

impl Temporal {
    pub fn observe(&mut self, o: &Observation) {
        self.frames += 1;
        let repeat = self.last_signature == Some(o.signature);
        if let Some(last) = self.last_t {
            if o.t_ms < last {
                self.non_monotonic += 1;
            } else if o.t_ms - last > GAP_MS {
                self.gaps += 1;
            }
        }
        if repeat {
            self.repeats += 1;
            let since = *self
                .frozen_since
                .get_or_insert(self.last_t.unwrap_or(o.t_ms));
            self.longest_frozen_ms = self.longest_frozen_ms.max(o.t_ms.saturating_sub(since));
        } else {
            self.frozen_since = None;
        }
        let center = o.face.as_ref().map(|f| {
            [
                f.face_box[0] + f.face_box[2] / 2.0,
                f.face_box[1] + f.face_box[3] / 2.0,
                f.face_box[2],
            ]
        });
        // A repeated frame cannot jump; comparing across it would skip a real frame.
        if !repeat
            && let (Some(a), Some(b)) = (self.last_center, center)
            && (a[0] - b[0]).hypot(a[1] - b[1]) > 0.6 * a[2].max(b[2])
        {
            self.jumps += 1;
        }
        if center.is_some() || !repeat {
            self.last_center = center;
        }
        self.last_t = Some(self.last_t.map_or(o.t_ms, |l| l.max(o.t_ms)));
        self.last_signature = Some(o.signature);
    }

    pub fn outcome(&self) -> CheckOutcome {
        let reason = if self.non_monotonic > 0 {
            Some("timestamps go backwards".to_owned())
        } else if self.longest_frozen_ms >= FROZEN_MS {
            Some(format!(
                "the picture froze for {} ms (identical frames)",
                self.longest_frozen_ms
            ))
        } else if self.jumps > 1 {
            Some("the face jumps between frames".to_owned())
        } else if self.gaps > MAX_GAPS {
            Some("frames missing for long stretches".to_owned())
        } else {
            None
        };
        // Repeats lower the score (a poorer stream) but do not fail it.
        let bad = self.non_monotonic + self.jumps + self.gaps;
        let frames = self.frames.max(1) as f32;
        CheckOutcome {
            check: "temporal_continuity",
            passed: reason.is_none(),
            score: (1.0 - bad as f32 / frames - 0.25 * self.repeats as f32 / frames)
                .clamp(0.0, 1.0),
            reason,
        }
    }
}
