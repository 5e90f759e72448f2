//! The evidence manifest: what the device says happened during capture. It is signed by the
//! device key as exact bytes (see [`crate::device`]) and binds every uploaded frame by its
//! SHA-256, so the frames themselves need no signature of their own.

use serde::{Deserialize, Serialize};

use crate::encoding::{Nonce, Sha256Digest, check_json, from_checked_json};
use crate::error::{ProtocolError, Result};
use crate::options::ChallengeKind;
use crate::plan::ChallengePlan;

pub const MANIFEST_FORMAT_VERSION: u32 = 1;

/// Bounds on a manifest; public so the server can document and enforce them before parsing.
pub mod limits {
    pub const MAX_MANIFEST_BYTES: usize = 256 * 1024;
    pub const MAX_FRAMES: usize = 64;
    pub const MAX_STEPS: usize = 16;
    pub const MAX_CHECKS: usize = 32;
    pub const MAX_MODELS: usize = 16;
    pub const MAX_SHORT_TEXT: usize = 128;
    pub const MAX_REASON_TEXT: usize = 512;
    pub const MAX_ATTESTATION_BYTES: usize = 16 * 1024;
    /// Frame timestamps are relative to capture start and a capture lasts at most this long.
    pub const MAX_CAPTURE_MS: u32 = 10 * 60 * 1000;
    pub const MAX_FRAME_SIDE: u16 = 8192;
    /// Capture start must lie between 2020-01-01 and 2100-01-01 (Unix milliseconds).
    pub const MIN_CAPTURE_START_MS: i64 = 1_577_836_800_000;
    pub const MAX_CAPTURE_START_MS: i64 = 4_102_444_800_000;
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceManifest {
    pub format_version: u32,
    pub session_id: String,
    pub nonce: Nonce,
    /// SHA-256 of the submission token, binding the evidence to one upload authorisation
    /// without putting the token itself in a document that is stored and shown.
    pub submission_token_sha256: Sha256Digest,
    pub sdk: SdkInfo,
    pub models: Vec<ModelInfo>,
    pub device: DeviceInfo,
    /// Unix milliseconds at the first frame.
    pub capture_started_at_ms: i64,
    pub frames: Vec<FrameRecord>,
    pub timeline: Vec<StepRecord>,
    pub local_checks: Vec<CheckScore>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation: Option<Attestation>,
    /// The screen-light step, when the plan had it and the capture reached it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub light: Option<crate::light::LightRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SdkInfo {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelInfo {
    pub name: String,
    pub version: String,
    pub sha256: Sha256Digest,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceInfo {
    /// `ios`, `android`, `linux`, `macos`, …
    pub platform: String,
    pub os_version: String,
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    /// Where the device key lives, when the platform leaves a choice: in a browser `webcrypto`
    /// (a non-extractable WebCrypto Ed25519 key) or `wasm` (generated in the core, held only
    /// for the page's life, because the browser lacks WebCrypto Ed25519). Absent on the
    /// phones, whose keys are always in the platform key store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_storage: Option<String>,
}

/// Platform attestation (App Attest, Play Integrity) passed through for the server to check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attestation {
    pub kind: String,
    pub token: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FrameRole {
    /// The best neutral frame: the photo the integrator gets.
    Photo,
    /// A neutral frame before a challenge step.
    Baseline,
    /// The frame where a challenge step reached its peak (eyes closed, head turned, …).
    ChallengePeak,
    /// The light step's face tiles, as one mosaic (see [`crate::light::LightRecord`]).
    LightTiles,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrameRecord {
    /// Position of the JPEG in the upload.
    pub index: u16,
    /// Milliseconds since capture start.
    pub timestamp_ms: u32,
    pub sha256: Sha256Digest,
    pub role: FrameRole,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge_index: Option<u8>,
    pub width: u16,
    pub height: u16,
    pub landmarks: LandmarkSummary,
}

/// What the device measured on a frame; the server re-measures and compares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LandmarkSummary {
    pub face_count: u8,
    /// Face box as fractions of the frame: x, y, width, height.
    pub face_box: [f32; 4],
    pub yaw_deg: f32,
    pub pitch_deg: f32,
    pub roll_deg: f32,
    pub left_eye_openness: f32,
    pub right_eye_openness: f32,
    pub mouth_openness: f32,
    pub smile: f32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepResult {
    Passed,
    Failed,
    TimedOut,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepRecord {
    pub index: u8,
    pub kind: ChallengeKind,
    pub started_ms: u32,
    pub ended_ms: u32,
    pub result: StepResult,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A check's score in 0..=1 and whether it passed, with a named reason when it did not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckScore {
    pub name: String,
    pub score: f32,
    pub passed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Reads only `format_version`, so a future version is reported as such rather than as
/// whatever field it happened to add.
#[derive(Deserialize)]
struct VersionProbe {
    format_version: Option<serde_json::Value>,
}

impl EvidenceManifest {
    /// Parses and validates manifest bytes: size cap, no duplicate keys, known version, no
    /// unknown fields, every bound checked.
    pub fn from_json_bytes(bytes: &[u8]) -> Result<Self> {
        const CONTEXT: &str = "evidence manifest";
        check_json(CONTEXT, bytes, limits::MAX_MANIFEST_BYTES)?;
        let probe: VersionProbe = from_checked_json(CONTEXT, bytes)?;
        match probe.format_version {
            None => return Err(ProtocolError::invalid("format_version", "missing")),
            Some(v) if v.as_u64() == Some(u64::from(MANIFEST_FORMAT_VERSION)) => {}
            Some(v) => {
                return Err(ProtocolError::UnsupportedFormatVersion {
                    found: v.to_string(),
                    supported: MANIFEST_FORMAT_VERSION,
                });
            }
        }
        let manifest: Self = from_checked_json(CONTEXT, bytes)?;
        manifest.validate()?;
        Ok(manifest)
    }

    /// The bytes to sign and send. Validates first so a device never signs what the server
    /// would refuse.
    pub fn to_json_bytes(&self) -> Result<Vec<u8>> {
        self.validate()?;
        let bytes = serde_json::to_vec(self).map_err(|e| ProtocolError::Json {
            context: "evidence manifest",
            message: e.to_string(),
        })?;
        if bytes.len() > limits::MAX_MANIFEST_BYTES {
            return Err(ProtocolError::TooLarge {
                what: "evidence manifest",
                max: limits::MAX_MANIFEST_BYTES,
                actual: bytes.len(),
            });
        }
        Ok(bytes)
    }

    pub fn validate(&self) -> Result<()> {
        use limits::*;
        if self.format_version != MANIFEST_FORMAT_VERSION {
            return Err(ProtocolError::UnsupportedFormatVersion {
                found: self.format_version.to_string(),
                supported: MANIFEST_FORMAT_VERSION,
            });
        }
        check_session_id(&self.session_id)?;
        short("sdk.name", &self.sdk.name, false)?;
        short("sdk.version", &self.sdk.version, false)?;
        short("device.platform", &self.device.platform, false)?;
        short("device.os_version", &self.device.os_version, true)?;
        short("device.model", &self.device.model, true)?;
        if let Some(app) = &self.device.app_id {
            short("device.app_id", app, false)?;
        }
        count("models", self.models.len(), MAX_MODELS)?;
        for m in &self.models {
            short("models.name", &m.name, false)?;
            short("models.version", &m.version, false)?;
        }
        if let Some(att) = &self.attestation {
            short("attestation.kind", &att.kind, false)?;
            bounded("attestation.token", &att.token, MAX_ATTESTATION_BYTES)?;
        }
        if !(MIN_CAPTURE_START_MS..=MAX_CAPTURE_START_MS).contains(&self.capture_started_at_ms) {
            return Err(ProtocolError::TimestampOutOfRange {
                field: "capture_started_at_ms",
                value: self.capture_started_at_ms,
            });
        }

        count("frames", self.frames.len(), MAX_FRAMES)?;
        if self.frames.is_empty() {
            return Err(ProtocolError::invalid(
                "frames",
                "at least one frame is needed",
            ));
        }
        count("timeline", self.timeline.len(), MAX_STEPS)?;
        count("local_checks", self.local_checks.len(), MAX_CHECKS)?;
        let steps = self.timeline.len();
        for (i, f) in self.frames.iter().enumerate() {
            if usize::from(f.index) != i {
                return Err(ProtocolError::invalid("frames.index", "must be 0, 1, 2, …"));
            }
            if f.timestamp_ms > MAX_CAPTURE_MS {
                return Err(ProtocolError::TimestampOutOfRange {
                    field: "frames.timestamp_ms",
                    value: i64::from(f.timestamp_ms),
                });
            }
            if f.width == 0
                || f.height == 0
                || f.width > MAX_FRAME_SIDE
                || f.height > MAX_FRAME_SIDE
            {
                return Err(ProtocolError::invalid(
                    "frames.width/height",
                    format!("must be 1..={MAX_FRAME_SIDE}"),
                ));
            }
            match (f.role, f.challenge_index) {
                (FrameRole::Photo | FrameRole::LightTiles, None) => {}
                (FrameRole::Photo | FrameRole::LightTiles, Some(_)) => {
                    return Err(ProtocolError::invalid(
                        "frames.challenge_index",
                        "the photo and the light tiles belong to no challenge",
                    ));
                }
                (_, Some(c)) if usize::from(c) < steps => {}
                (_, _) => {
                    return Err(ProtocolError::invalid(
                        "frames.challenge_index",
                        "baseline and peak frames name a step of the timeline",
                    ));
                }
            }
            check_landmarks(&f.landmarks)?;
        }
        if self
            .frames
            .iter()
            .filter(|f| f.role == FrameRole::Photo)
            .count()
            > 1
        {
            return Err(ProtocolError::invalid("frames.role", "at most one photo"));
        }
        let mosaics: Vec<usize> = (0..self.frames.len())
            .filter(|&i| self.frames[i].role == FrameRole::LightTiles)
            .collect();
        match (&self.light, mosaics.as_slice()) {
            (None, []) => {}
            (Some(light), [i]) if usize::from(light.frame_index) == *i => {
                light.validate()?;
                let f = &self.frames[*i];
                let rows = light.tiles_ms.len().div_ceil(usize::from(light.columns));
                if usize::from(f.width) != usize::from(light.tile_side) * usize::from(light.columns)
                    || usize::from(f.height) != usize::from(light.tile_side) * rows
                {
                    return Err(ProtocolError::invalid(
                        "light.tile_side",
                        "the mosaic's size does not match its tiles",
                    ));
                }
            }
            _ => {
                return Err(ProtocolError::invalid(
                    "light",
                    "a light record goes with exactly one light-tiles frame, at its frame_index",
                ));
            }
        }
        for (i, s) in self.timeline.iter().enumerate() {
            if usize::from(s.index) != i {
                return Err(ProtocolError::invalid(
                    "timeline.index",
                    "must be 0, 1, 2, …",
                ));
            }
            if s.ended_ms < s.started_ms || s.ended_ms > MAX_CAPTURE_MS {
                return Err(ProtocolError::TimestampOutOfRange {
                    field: "timeline.ended_ms",
                    value: i64::from(s.ended_ms),
                });
            }
            if let Some(r) = &s.reason {
                bounded("timeline.reason", r, MAX_REASON_TEXT)?;
            }
        }
        for c in &self.local_checks {
            short("local_checks.name", &c.name, false)?;
            if !(0.0..=1.0).contains(&c.score) {
                return Err(ProtocolError::invalid(
                    "local_checks.score",
                    "must be in 0..=1",
                ));
            }
            if let Some(r) = &c.reason {
                bounded("local_checks.reason", r, MAX_REASON_TEXT)?;
            }
        }
        Ok(())
    }

    /// Checks that this evidence was made for the session the verifier holds: same session id
    /// and nonce, the submission token it was uploaded with, and the plan's challenges in the
    /// plan's order, as many as the session got through (a session that ended early is still
    /// this session's). A genuine recording made for another session fails here.
    pub fn check_binding(
        &self,
        session_id: &str,
        plan: &ChallengePlan,
        submission_token: &[u8],
    ) -> Result<()> {
        let mismatch = |what| Err(ProtocolError::SessionMismatch { what });
        if self.session_id != session_id {
            return mismatch("session_id");
        }
        if self.nonce != plan.nonce {
            return mismatch("nonce");
        }
        if self.submission_token_sha256 != Sha256Digest::of(submission_token) {
            return mismatch("submission token");
        }
        // The plan's steps in order, as far as the session got: one that ended early (a
        // failed step, a timeout, no face ever seen) is judged, not refused — completeness
        // is the verdict's business (a step without frames fails there). A recording made
        // for another plan names other kinds and is refused here.
        let kinds_match = self.timeline.len() <= plan.steps.len()
            && self
                .timeline
                .iter()
                .zip(&plan.steps)
                .all(|(done, planned)| done.kind == planned.kind);
        if !kinds_match {
            return mismatch("challenge order");
        }
        Ok(())
    }

    /// Checks that `frames` are exactly the frames this manifest declares, in order: each
    /// one's SHA-256, and that each is a JPEG whose header claims the declared size, so a
    /// decoder later allocates only what the (size-capped) manifest allows.
    pub fn verify_frames<B: AsRef<[u8]>>(&self, frames: &[B]) -> Result<()> {
        if frames.len() != self.frames.len() {
            return Err(ProtocolError::FrameCountMismatch {
                expected: self.frames.len(),
                actual: frames.len(),
            });
        }
        for (index, (record, bytes)) in self.frames.iter().zip(frames).enumerate() {
            if Sha256Digest::of(bytes.as_ref()) != record.sha256 {
                return Err(ProtocolError::FrameHashMismatch { index });
            }
            let (width, height) = crate::jpeg::dimensions(bytes.as_ref())
                .ok_or(ProtocolError::FrameNotJpeg { index })?;
            if (width, height) != (record.width, record.height) {
                return Err(ProtocolError::FrameSizeMismatch {
                    index,
                    declared_width: record.width,
                    declared_height: record.height,
                    width,
                    height,
                });
            }
        }
        Ok(())
    }
}

/// Session ids are 1–64 characters of `[A-Za-z0-9_-]`: safe in URLs, logs and in the
/// newline-separated canonical verdict.
pub fn check_session_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ProtocolError::invalid(
            "session_id",
            "must be 1..=64 characters of A-Z a-z 0-9 - _",
        ))
    }
}

fn short(field: &'static str, value: &str, may_be_empty: bool) -> Result<()> {
    if value.is_empty() && !may_be_empty {
        return Err(ProtocolError::invalid(field, "must not be empty"));
    }
    bounded(field, value, limits::MAX_SHORT_TEXT)
}

fn bounded(field: &'static str, value: &str, max: usize) -> Result<()> {
    if value.len() > max {
        return Err(ProtocolError::FieldTooLong {
            field,
            max,
            actual: value.len(),
        });
    }
    if value.chars().any(char::is_control) {
        return Err(ProtocolError::invalid(
            field,
            "control characters are not allowed",
        ));
    }
    Ok(())
}

fn count(field: &'static str, actual: usize, max: usize) -> Result<()> {
    if actual > max {
        return Err(ProtocolError::TooManyItems { field, max, actual });
    }
    Ok(())
}

fn check_landmarks(l: &LandmarkSummary) -> Result<()> {
    let fractions = l.face_box.iter().all(|v| (-1.0..=2.0).contains(v))
        && [
            l.left_eye_openness,
            l.right_eye_openness,
            l.mouth_openness,
            l.smile,
        ]
        .iter()
        .all(|v| (0.0..=10.0).contains(v));
    let angles = [l.yaw_deg, l.pitch_deg, l.roll_deg]
        .iter()
        .all(|v| (-180.0..=180.0).contains(v));
    if fractions && angles {
        Ok(())
    } else {
        Err(ProtocolError::invalid(
            "frames.landmarks",
            "a measure is out of range",
        ))
    }
}
