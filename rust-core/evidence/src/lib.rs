//! # liveness-evidence
//!
//! What a session sends as proof. The challenge engine says which frames matter (a
//! [`Capture`] per frame: the photo candidates, each challenge's baseline and peak); this crate
//! keeps the best frame per slot as it goes (no frame history is held), then encodes them as
//! JPEG — one downscaled full frame as the photo, face crops for the rest — within a size
//! budget (250 KB by default, lowering JPEG quality as needed), and builds the
//! [`EvidenceManifest`] that binds every frame by its SHA-256 and that the device signs.

#![forbid(unsafe_code)]

use std::collections::BTreeMap;

use liveness_challenge::{Capture, Outcome};
use liveness_frame::{Affine2, Frame, FrameError};
use liveness_protocol::light::{LightRecord, salt_hex};
use liveness_protocol::manifest::{
    Attestation, CheckScore, DeviceInfo, FrameRecord, LandmarkSummary, MANIFEST_FORMAT_VERSION,
    ModelInfo, SdkInfo,
};
use liveness_protocol::{EvidenceManifest, FrameRole, Nonce, ProtocolError, Sha256Digest};
use liveness_vision::FrameAnalysis;
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EvidenceError {
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error("JPEG encoding failed: {0}")]
    Encode(String),
    #[error("the evidence does not fit in {budget} bytes even at JPEG quality {quality}")]
    TooLarge { budget: usize, quality: u8 },
    #[error("no frame was seen: there is nothing to send")]
    NoFrames,
    #[error(transparent)]
    Manifest(#[from] ProtocolError),
}

#[derive(Debug, Clone, PartialEq)]
pub struct EvidenceConfig {
    pub max_total_bytes: usize,
    /// Side of the square face crops.
    pub crop_side: u32,
    /// Width of the downscaled full-frame photo.
    pub photo_width: u32,
    pub start_quality: u8,
    pub min_quality: u8,
}

impl Default for EvidenceConfig {
    fn default() -> Self {
        Self {
            max_total_bytes: 250_000,
            crop_side: 224,
            photo_width: 480,
            start_quality: 88,
            min_quality: 35,
        }
    }
}

/// Session facts the manifest carries besides the frames.
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestInfo {
    pub session_id: String,
    pub nonce: Nonce,
    /// Hashed into the manifest, never stored in it.
    pub submission_token: String,
    pub sdk: SdkInfo,
    pub models: Vec<ModelInfo>,
    pub device: DeviceInfo,
    /// Unix milliseconds of the first frame.
    pub capture_started_at_ms: i64,
    pub attestation: Option<Attestation>,
}

/// A kept frame: RGB pixels (a face crop or the downscaled photo) and what was measured.
#[derive(Debug, Clone)]
struct Kept {
    quality: f32,
    t_ms: u64,
    rgb: Vec<u8>,
    width: u32,
    height: u32,
    landmarks: LandmarkSummary,
}

/// Slots: photo first, then per challenge its baseline and its peak.
type Slot = (u8, u8, u8);

fn slot(c: &Capture) -> Slot {
    match c.role {
        FrameRole::Photo => (0, 0, 0),
        FrameRole::Baseline => (1, c.challenge_index.unwrap_or(0), 0),
        FrameRole::ChallengePeak => (1, c.challenge_index.unwrap_or(0), 1),
        // The light tiles come from the outcome, never from a capture.
        FrameRole::LightTiles => (2, 0, 0),
    }
}

/// The finished evidence: the manifest and the JPEGs in manifest order.
#[derive(Debug, Clone)]
pub struct Evidence {
    pub manifest: EvidenceManifest,
    pub frames: Vec<Vec<u8>>,
    pub jpeg_quality: u8,
}

impl Evidence {
    pub fn total_bytes(&self) -> usize {
        self.frames.iter().map(Vec::len).sum()
    }

    /// The photo's JPEG.
    pub fn photo(&self) -> Option<&[u8]> {
        self.manifest
            .frames
            .iter()
            .position(|f| f.role == FrameRole::Photo)
            .map(|i| self.frames[i].as_slice())
    }
}

/// Keeps the best frame per slot while the session runs.
#[derive(Debug, Clone, Default)]
pub struct EvidenceStore {
    config: EvidenceConfig,
    slots: BTreeMap<Slot, Kept>,
    first_t_ms: Option<u64>,
    /// The photo of a session that never reached its baseline (the face always covered, too
    /// far, or absent): the best face seen, else the first frame. Every session that ends
    /// sends evidence, so the server can judge it and the integrator can see what happened.
    fallback: Option<Kept>,
}

impl EvidenceStore {
    pub fn new(config: EvidenceConfig) -> Self {
        Self {
            config,
            slots: BTreeMap::new(),
            first_t_ms: None,
            fallback: None,
        }
    }

    /// Sees every analysed frame, to keep a fallback photo while no baseline photo exists.
    /// Cheap: it only copies pixels when the frame beats the fallback by a clear margin.
    pub fn observe(
        &mut self,
        t_ms: u64,
        frame: &Frame,
        analysis: &FrameAnalysis,
    ) -> Result<(), EvidenceError> {
        self.first_t_ms.get_or_insert(t_ms);
        if self.slots.contains_key(&(0, 0, 0)) {
            self.fallback = None;
            return Ok(());
        }
        // Faces rank above faceless frames (quality ≥ 1), sharper and less covered first.
        let quality = analysis.face.as_ref().map_or(0.0, |f| {
            1.0 + f.signals.sharpness * (1.0 - f.signals.occlusion) * 1e3
        });
        let better = match &self.fallback {
            None => true,
            Some(k) => quality >= 1.0 && quality > k.quality * 1.2,
        };
        if better {
            self.fallback = Some(self.keep(quality, t_ms, FrameRole::Photo, frame, analysis)?);
        }
        Ok(())
    }

    /// Offers a frame the engine asked to capture; it is kept if it beats the slot's current
    /// frame. `t_ms` is the frame's capture time.
    pub fn offer(
        &mut self,
        capture: &Capture,
        t_ms: u64,
        frame: &Frame,
        analysis: &FrameAnalysis,
    ) -> Result<(), EvidenceError> {
        self.first_t_ms.get_or_insert(t_ms);
        if analysis.face.is_none() {
            return Ok(());
        }
        let key = slot(capture);
        if self
            .slots
            .get(&key)
            .is_some_and(|k| k.quality >= capture.quality)
        {
            return Ok(());
        }
        let kept = self.keep(capture.quality, t_ms, capture.role, frame, analysis)?;
        self.slots.insert(key, kept);
        Ok(())
    }

    /// The pixels a slot keeps: the downscaled full frame for the photo, a square face crop
    /// otherwise (the photo of a faceless frame is the whole frame too).
    fn keep(
        &self,
        quality: f32,
        t_ms: u64,
        role: FrameRole,
        frame: &Frame,
        analysis: &FrameAnalysis,
    ) -> Result<Kept, EvidenceError> {
        let signals = analysis.face.as_ref().map(|f| &f.signals);
        let (fw, fh) = frame.size();
        let (w, h, transform) = match (role, signals) {
            (FrameRole::Photo, _) | (_, None) => {
                let w = self.config.photo_width.min(fw);
                let h = (fh as f32 * w as f32 / fw as f32).round().max(1.0) as u32;
                let k = fw as f32 / w as f32;
                (w, h, Affine2::new(k, 0.0, 0.0, 0.0, k, 0.0))
            }
            (_, Some(s)) => {
                let [x, y, bw, bh] = s.face_box;
                let side = bw.max(bh) * 1.4;
                let n = self.config.crop_side;
                (
                    n,
                    n,
                    Affine2::square_crop(x + bw / 2.0, y + bh / 2.0, side, 0.0, n as usize),
                )
            }
        };
        let mut px = vec![0f32; (w * h * 3) as usize];
        frame.warp_into(&transform, w as usize, h as usize, 1.0, 0.0, &mut px)?;
        let landmarks = match signals {
            Some(s) => {
                let [bx, by, bw, bh] = s.face_box;
                LandmarkSummary {
                    face_count: analysis.face_count.min(255) as u8,
                    face_box: [
                        bx / fw as f32,
                        by / fh as f32,
                        bw / fw as f32,
                        bh / fh as f32,
                    ],
                    yaw_deg: s.pose.yaw,
                    pitch_deg: s.pose.pitch,
                    roll_deg: s.pose.roll,
                    left_eye_openness: s.left_eye_lid.unwrap_or(s.left_eye_openness),
                    right_eye_openness: s.right_eye_lid.unwrap_or(s.right_eye_openness),
                    mouth_openness: s.mouth_openness,
                    smile: s.smile,
                }
            }
            None => empty_landmarks(),
        };
        Ok(Kept {
            quality,
            t_ms,
            rgb: px
                .iter()
                .map(|v| v.round().clamp(0.0, 255.0) as u8)
                .collect(),
            width: w,
            height: h,
            landmarks,
        })
    }

    /// Encodes the kept frames within the budget and builds the manifest.
    pub fn finish(
        &self,
        info: &ManifestInfo,
        outcome: &Outcome,
    ) -> Result<Evidence, EvidenceError> {
        // Frames of a step the timeline does not name cannot be judged: they are not sent.
        let steps = outcome.timeline.len();
        let mut slots: BTreeMap<Slot, &Kept> = self
            .slots
            .iter()
            .filter(|(k, _)| k.0 == 0 || usize::from(k.1) < steps)
            .map(|(k, v)| (*k, v))
            .collect();
        if let std::collections::btree_map::Entry::Vacant(e) = slots.entry((0, 0, 0)) {
            e.insert(self.fallback.as_ref().ok_or(EvidenceError::NoFrames)?);
        }
        let first = self.first_t_ms.unwrap_or(0);
        let rel = |t: u64| t.saturating_sub(first).min(u64::from(u32::MAX)) as u32;
        // The light tiles as one mosaic, encoded as the device's judgement saw them.
        let light = outcome
            .light
            .as_deref()
            .filter(|l| l.presented_ms.len() == usize::from(liveness_protocol::light::COLOURS))
            .filter(|l| !l.tiles.is_empty())
            .map(|l| {
                let tiles: Vec<Vec<u8>> = l
                    .tiles
                    .iter()
                    .take(liveness_protocol::light::MAX_TILES)
                    .map(|(_, t)| t.to_vec())
                    .collect();
                let (width, height, bytes) = liveness_light::encode_mosaic(&tiles)
                    .map_err(|e| EvidenceError::Encode(e.to_string()))?;
                let kept = Kept {
                    quality: 1.0,
                    t_ms: l.tiles[0].0,
                    rgb: Vec::new(),
                    width,
                    height,
                    landmarks: empty_landmarks(),
                };
                let record = LightRecord {
                    version: liveness_protocol::light::LIGHT_VERSION,
                    salt: salt_hex(&l.salt),
                    attempt: l.attempt,
                    presented_ms: l.presented_ms.iter().map(|&t| rel(t)).collect(),
                    restored_ms: rel(l.restored_ms),
                    reported: l.reported,
                    tiles_ms: l
                        .tiles
                        .iter()
                        .take(tiles.len())
                        .map(|(t, _)| rel(*t))
                        .collect(),
                    tile_side: liveness_light::TILE_SIDE as u16,
                    columns: liveness_light::MOSAIC_COLUMNS as u16,
                    frame_index: 0,
                };
                Ok::<_, EvidenceError>((kept, bytes, record))
            })
            .transpose()?;
        let mut quality = self.config.start_quality;
        let (mut frames, light) = loop {
            let encoded = slots
                .values()
                .map(|k| jpeg(k, quality))
                .collect::<Result<Vec<_>, _>>()?;
            // The mosaic keeps its own fixed quality: the device judged those very pixels.
            let total = encoded.iter().map(Vec::len).sum::<usize>()
                + light.as_ref().map_or(0, |(_, bytes, _)| bytes.len());
            if total <= self.config.max_total_bytes {
                break (encoded, light);
            }
            if quality <= self.config.min_quality {
                return Err(EvidenceError::TooLarge {
                    budget: self.config.max_total_bytes,
                    quality,
                });
            }
            quality = quality.saturating_sub(10).max(self.config.min_quality);
        };
        let mut records: Vec<FrameRecord> = slots
            .iter()
            .zip(&frames)
            .enumerate()
            .map(|(index, ((key, kept), bytes))| FrameRecord {
                index: index as u16,
                timestamp_ms: rel(kept.t_ms),
                sha256: Sha256Digest::of(bytes),
                role: match key {
                    (0, _, _) => FrameRole::Photo,
                    (_, _, 0) => FrameRole::Baseline,
                    _ => FrameRole::ChallengePeak,
                },
                challenge_index: (key.0 == 1).then_some(key.1),
                width: kept.width as u16,
                height: kept.height as u16,
                landmarks: kept.landmarks.clone(),
            })
            .collect();
        let light = light.map(|(kept, bytes, mut record)| {
            record.frame_index = records.len() as u16;
            records.push(FrameRecord {
                index: records.len() as u16,
                timestamp_ms: rel(kept.t_ms),
                sha256: Sha256Digest::of(&bytes),
                role: FrameRole::LightTiles,
                challenge_index: None,
                width: kept.width as u16,
                height: kept.height as u16,
                landmarks: kept.landmarks,
            });
            frames.push(bytes);
            record
        });
        let manifest = EvidenceManifest {
            format_version: MANIFEST_FORMAT_VERSION,
            session_id: info.session_id.clone(),
            nonce: info.nonce,
            submission_token_sha256: Sha256Digest::of(info.submission_token.as_bytes()),
            sdk: info.sdk.clone(),
            models: info.models.clone(),
            device: info.device.clone(),
            capture_started_at_ms: info.capture_started_at_ms,
            frames: records,
            timeline: outcome.timeline.clone(),
            local_checks: outcome
                .checks
                .iter()
                .map(|c| CheckScore {
                    name: c.check.to_owned(),
                    score: c.score.clamp(0.0, 1.0),
                    passed: c.passed,
                    reason: c.reason.clone(),
                })
                .collect(),
            attestation: info.attestation.clone(),
            light,
        };
        manifest.validate()?;
        Ok(Evidence {
            manifest,
            frames,
            jpeg_quality: quality,
        })
    }
}

fn empty_landmarks() -> LandmarkSummary {
    LandmarkSummary {
        face_count: 0,
        face_box: [0.0; 4],
        yaw_deg: 0.0,
        pitch_deg: 0.0,
        roll_deg: 0.0,
        left_eye_openness: 0.0,
        right_eye_openness: 0.0,
        mouth_openness: 0.0,
        smile: 0.0,
    }
}

fn jpeg(k: &Kept, quality: u8) -> Result<Vec<u8>, EvidenceError> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode(&k.rgb, k.width, k.height, image::ExtendedColorType::Rgb8)
        .map_err(|e| EvidenceError::Encode(e.to_string()))?;
    Ok(out)
}
