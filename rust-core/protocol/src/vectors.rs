//! Reference vectors for other implementations: every signed artefact of the protocol,
//! produced from one 32-byte seed. The committed copy under `tests/vectors/` is checked to be
//! reproduced byte for byte, and an independent Python verifier (`scripts/interop/`) checks
//! both that copy and fresh random ones.

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::device::{DeviceSigningKey, SignedManifestWire};
use crate::encoding::{Nonce, Sha256Digest, b64url_encode};
use crate::error::Result;
use crate::jose::sign_response;
use crate::light::{LightColour, derive_light, salt_hex};
use crate::manifest::{
    CheckScore, DeviceInfo, EvidenceManifest, FrameRecord, FrameRole, LandmarkSummary,
    MANIFEST_FORMAT_VERSION, ModelInfo, SdkInfo, StepRecord, StepResult,
};
use crate::options::{Action, ChallengeKind, SessionOptions};
use crate::plan::{ChallengePlan, canonical_options, derive_plan};
use crate::result::{CheckReason, ResultBody, ResultMessage, ResultStatus};
use crate::verdict::{Jwks, SignedVerdict, Verdict, VerdictKind, VerdictSigningKey};
use crate::webhook::sign_webhook;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferenceVectors {
    pub description: String,
    pub plans: Vec<PlanVector>,
    /// Light sequences for (nonce, salt) pairs (see `crate::light`).
    #[serde(default)]
    pub lights: Vec<LightVector>,
    pub manifest: ManifestVector,
    pub verdict: VerdictVector,
    pub signed_response: SignedResponseVector,
    pub webhook: WebhookVector,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanVector {
    pub options: SessionOptions,
    pub canonical_options: String,
    pub plan: ChallengePlan,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LightVector {
    pub nonce: Nonce,
    pub salt: String,
    pub colours: Vec<LightColour>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestVector {
    pub signed: SignedManifestWire,
    /// The uploaded frames, base64url; their SHA-256 are in the manifest.
    pub frames: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerdictVector {
    pub jwks: Jwks,
    pub signed_verdict: SignedVerdict,
    /// The canonical bytes as text, for implementers to compare against.
    pub canonical: String,
    pub jws: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignedResponseVector {
    pub secret: String,
    pub body: ResultBody,
    pub iat: i64,
    pub token: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookVector {
    pub secret: String,
    pub timestamp: i64,
    pub body: String,
    pub header: String,
}

fn derive(seed: &[u8; 32], label: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"liveness-vectors/");
    h.update(label.as_bytes());
    h.update(seed);
    h.finalize().into()
}

/// Builds the full vector set from `seed`, stamped at Unix time `now` (seconds).
pub fn reference_vectors(seed: &[u8; 32], now: i64) -> Result<ReferenceVectors> {
    let nonce = Nonce(derive(seed, "nonce"));
    let session_id = format!("ses_{}", &hex::encode(derive(seed, "session"))[..20]);

    let plan_options = [
        SessionOptions::default(),
        SessionOptions {
            action: Action::FollowText,
            ..Default::default()
        },
        SessionOptions {
            available_actions: Some(vec![
                ChallengeKind::Smile,
                ChallengeKind::HeadLeft,
                ChallengeKind::FollowText,
                ChallengeKind::BlinkEyes,
                ChallengeKind::HeadUp,
            ]),
            challenge_count: Some(3),
            step_time_limit_ms: Some(6000),
            ..Default::default()
        },
        SessionOptions {
            challenge_count: Some(5),
            ..Default::default()
        },
        SessionOptions {
            light_challenge: Some(false),
            ..Default::default()
        },
    ];
    let mut plans = Vec::new();
    for (i, options) in plan_options.into_iter().enumerate() {
        let mut n = nonce;
        n.0[0] ^= i as u8;
        plans.push(PlanVector {
            canonical_options: canonical_options(&options)?,
            plan: derive_plan(&n, &options)?,
            options,
        });
    }

    let lights = (0..4u8)
        .map(|i| {
            let mut n = nonce;
            n.0[1] ^= i;
            let mut salt = [0u8; 16];
            salt.copy_from_slice(&derive(seed, &format!("light-salt-{i}"))[..16]);
            LightVector {
                nonce: n,
                salt: salt_hex(&salt),
                colours: derive_light(&n, &salt),
            }
        })
        .collect();

    let device = DeviceSigningKey::from_seed(&derive(seed, "device"));
    let frames: Vec<Vec<u8>> = (0..3)
        .map(|i| sample_frame(&format!("frame {i} of {session_id}")))
        .collect();
    let manifest = sample_manifest(&session_id, &nonce, &plans[0].plan, &frames, now)?;
    let signed = device.sign_manifest(&manifest)?;

    let old = VerdictSigningKey::from_seed("verdict-2026-01", &derive(seed, "verdict-old"))?;
    let current = VerdictSigningKey::from_seed("verdict-2026-07", &derive(seed, "verdict-new"))?;
    let jwks = Jwks {
        keys: vec![current.jwk(), old.jwk()],
    };
    let verdict = Verdict::new(
        session_id.clone(),
        VerdictKind::Live,
        0.97312,
        now,
        Some(Sha256Digest::of(&frames[0])),
    )?;
    let signed_verdict = current.sign(&verdict)?;
    let canonical = String::from_utf8_lossy(&verdict.canonical_bytes()?).into_owned();
    let jws = current.sign_jws(&verdict)?;

    let tenant_secret = derive(seed, "tenant");
    let mut body = ResultBody::pending(session_id.clone()).with_message(ResultMessage::Live);
    body.job_id = Some(format!("job_{}", &hex::encode(derive(seed, "job"))[..20]));
    body.status = ResultStatus::Success;
    body.live = Some(true);
    body.score = Some(0.9731);
    body.reasons = vec![CheckReason {
        check: "challenge_order".into(),
        passed: true,
        score: Some(1.0),
        reason: None,
    }];
    body.relay_state = Some("order-42 ✓".into());
    body.verdict = Some(signed_verdict.clone());
    let token = sign_response(&body, &tenant_secret, now)?;

    let webhook_secret = derive(seed, "webhook");
    let webhook_body = serde_json::to_string(&body).map_err(|e| crate::ProtocolError::Json {
        context: "webhook body",
        message: e.to_string(),
    })?;
    let header = sign_webhook(&[&webhook_secret], now, webhook_body.as_bytes())?;

    Ok(ReferenceVectors {
        description: "Liveness protocol reference vectors (format 1). All binary values are \
                      unpadded base64url. See rust-core/protocol for the rules."
            .into(),
        plans,
        lights,
        manifest: ManifestVector {
            signed: signed.to_wire(),
            frames: frames.iter().map(b64url_encode).collect(),
        },
        verdict: VerdictVector {
            jwks,
            signed_verdict,
            canonical,
            jws,
        },
        signed_response: SignedResponseVector {
            secret: b64url_encode(tenant_secret),
            body,
            iat: now,
            token,
        },
        webhook: WebhookVector {
            secret: b64url_encode(webhook_secret),
            timestamp: now,
            body: webhook_body,
            header,
        },
    })
}

/// A stand-in frame for [`sample_manifest`]: the headers of a 640×480 JPEG (`text` as its
/// comment) without image data. It passes the upload's checks (hash, declared size) and
/// decodes to nothing, which is all protocol vectors and demos need.
pub fn sample_frame(text: &str) -> Vec<u8> {
    let comment = text.as_bytes();
    let comment = &comment[..comment.len().min(usize::from(u16::MAX) - 2)];
    let mut b = vec![0xFF, 0xD8, 0xFF, 0xFE];
    b.extend(((comment.len() + 2) as u16).to_be_bytes());
    b.extend(comment);
    // SOF0: 8-bit, 480 rows, 640 columns, three components.
    b.extend([0xFF, 0xC0, 0x00, 0x11, 0x08, 0x01, 0xE0, 0x02, 0x80, 0x03]);
    b.extend([0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01]);
    b.extend([0xFF, 0xD9]);
    b
}

/// A plausible manifest for `plan`: a photo, then a baseline and a peak frame per step.
pub fn sample_manifest(
    session_id: &str,
    nonce: &Nonce,
    plan: &ChallengePlan,
    frames: &[Vec<u8>],
    now: i64,
) -> Result<EvidenceManifest> {
    let neutral = LandmarkSummary {
        face_count: 1,
        face_box: [0.3, 0.25, 0.4, 0.5],
        yaw_deg: 1.5,
        pitch_deg: -2.0,
        roll_deg: 0.5,
        left_eye_openness: 0.31,
        right_eye_openness: 0.3,
        mouth_openness: 0.05,
        smile: 0.1,
    };
    let steps = plan.steps.len().min(frames.len().saturating_sub(1));
    let records = frames
        .iter()
        .enumerate()
        .map(|(i, bytes)| FrameRecord {
            index: i as u16,
            timestamp_ms: 400 + 1500 * i as u32,
            sha256: Sha256Digest::of(bytes),
            role: if i == 0 {
                FrameRole::Photo
            } else {
                FrameRole::ChallengePeak
            },
            challenge_index: (i > 0).then(|| ((i - 1) % steps.max(1)) as u8),
            width: 640,
            height: 480,
            landmarks: neutral.clone(),
        })
        .collect();
    let timeline = plan
        .steps
        .iter()
        .map(|s| StepRecord {
            index: s.index,
            kind: s.kind,
            started_ms: 1000 + 2000 * u32::from(s.index),
            ended_ms: 2500 + 2000 * u32::from(s.index),
            result: StepResult::Passed,
            reason: None,
        })
        .collect();
    Ok(EvidenceManifest {
        format_version: MANIFEST_FORMAT_VERSION,
        session_id: session_id.into(),
        nonce: *nonce,
        submission_token_sha256: Sha256Digest::of(format!("submission token of {session_id}")),
        sdk: SdkInfo {
            name: "liveness-sdk".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        models: vec![ModelInfo {
            name: "face_landmark".into(),
            version: "mediapipe-0.10.21".into(),
            sha256: Sha256Digest::of(b"model bytes"),
        }],
        device: DeviceInfo {
            platform: "linux".into(),
            os_version: "Debian 12".into(),
            model: "reference".into(),
            app_id: None,
            key_storage: None,
        },
        capture_started_at_ms: now * 1000 - 10_000,
        frames: records,
        timeline,
        local_checks: vec![CheckScore {
            name: "temporal_continuity".into(),
            score: 0.98,
            passed: true,
            reason: None,
        }],
        attestation: None,
        light: None,
    })
}
