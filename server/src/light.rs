//! The light step's re-check: the colours re-derived from the nonce and the salt the device
//! revealed, the schedule from the presentation times it reported, the tiles decoded from
//! the mosaic, and the same judgement the device made (`liveness-light`) made again from
//! the pixels.

use liveness_light::{RegionMeans, Schedule, Thresholds, decode_mosaic, reasons, region_means};
use liveness_protocol::light::derive_light;
use liveness_protocol::{ChallengePlan, EvidenceManifest};

/// Slack on each colour's shown duration (one frame of a 30 Hz camera and display jitter).
const DURATION_SLACK_MS: u32 = 40;

/// What the re-check found: passed, a score, the stable reason code and a description.
#[derive(Debug, Clone, PartialEq)]
pub struct LightFinding {
    pub passed: bool,
    pub score: f64,
    pub code: Option<&'static str>,
    pub detail: String,
}

impl LightFinding {
    fn failed(code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            passed: false,
            score: 0.0,
            code: Some(code),
            detail: detail.into(),
        }
    }

    /// No reflection or no face: the light was not seen (not live, and no sign of an attack
    /// either: sunlight and far faces end here too).
    pub fn not_seen(&self) -> bool {
        matches!(self.code, Some(reasons::NO_REFLECTION | reasons::NO_FACE))
    }
}

/// `None` when the plan has no light step.
pub fn recheck_light(
    manifest: &EvidenceManifest,
    plan: &ChallengePlan,
    frames: &[Vec<u8>],
    thresholds: &Thresholds,
) -> Option<LightFinding> {
    plan.light?;
    let Some(record) = &manifest.light else {
        return Some(LightFinding::failed(
            "light_missing",
            "the plan has the light step and the evidence has none",
        ));
    };
    let Ok(salt) = record.salt_bytes() else {
        return Some(LightFinding::failed(
            "light_missing",
            "the salt is malformed",
        ));
    };
    let sequence = derive_light(&manifest.nonce, &salt);
    // The device must have shown each colour for its whole duration.
    let starts = &record.presented_ms;
    let ends = starts.iter().skip(1).copied().chain([record.restored_ms]);
    for (k, (start, end)) in starts.iter().zip(ends).enumerate() {
        if end.saturating_sub(*start) + DURATION_SLACK_MS < sequence[k].duration_ms {
            return Some(LightFinding::failed(
                reasons::LATE,
                format!(
                    "colour {k} showed {} ms; the sequence asks for {} ms",
                    end.saturating_sub(*start),
                    sequence[k].duration_ms
                ),
            ));
        }
    }
    let Some(bytes) = frames.get(usize::from(record.frame_index)) else {
        return Some(LightFinding::failed("light_missing", "no mosaic frame"));
    };
    let tiles = match decode_mosaic(bytes, record.tiles_ms.len()) {
        Ok(t) => t,
        Err(e) => return Some(LightFinding::failed("light_missing", e.to_string())),
    };
    let samples: Vec<(u64, RegionMeans)> = record
        .tiles_ms
        .iter()
        .zip(&tiles)
        .filter_map(|(t, tile)| Some((u64::from(*t), region_means(tile)?)))
        .collect();
    let schedule = Schedule {
        colours: starts
            .iter()
            .zip(&sequence)
            .map(|(p, c)| (u64::from(*p), c.rgb))
            .collect(),
        restored_ms: u64::from(record.restored_ms),
    };
    let j = thresholds.judge(&samples, &schedule);
    Some(LightFinding {
        passed: j.passed,
        score: f64::from(j.score),
        code: j.reason,
        detail: j.detail(),
    })
}
