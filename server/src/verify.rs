//! Evidence verification, in two stages.
//!
//! [`check_upload`] runs while the device waits (milliseconds): the device signature over the
//! exact manifest bytes, the session binding (session id, nonce, submission token, challenge
//! order) and every frame's SHA-256. A failure here is answered at once and nothing is stored.
//!
//! [`recheck`] runs in the background job: timing against the plan and the session's life,
//! then the vision models again on every uploaded frame, to confirm from the pixels that each
//! challenge happened (the head really turned, the eyes really closed), that the landmarks the
//! device reported are the ones in the frames, and that a head movement shows the parallax of
//! a real 3-D face. The outcome is a verdict (live / spoof / inconclusive) with a confidence,
//! a reason per check and a message.

use liveness_challenge::geometry::homography_residual;
use liveness_challenge::session::FLAT_RESIDUAL;
use liveness_challenge::{EngineConfig, Guidance};
use liveness_frame::Frame;
use liveness_protocol::manifest::StepResult;
use liveness_protocol::{
    ChallengeKind, ChallengePlan, CheckReason, EvidenceManifest, FrameRole, ProtocolError,
    ResultMessage, ResultStatus, SignedManifest, VerdictKind,
};
use liveness_vision::{FaceSignals, Pipeline, PipelineConfig};

/// Stage one: the cheap checks made before anything is stored.
pub fn check_upload<B: AsRef<[u8]>>(
    signed: &SignedManifest,
    session_id: &str,
    plan: &ChallengePlan,
    submission_token: &str,
    frames: &[B],
) -> Result<EvidenceManifest, ProtocolError> {
    let manifest = signed.verify()?;
    manifest.check_binding(session_id, plan, submission_token.as_bytes())?;
    manifest.verify_frames(frames)?;
    let photos = manifest
        .frames
        .iter()
        .filter(|f| f.role == FrameRole::Photo)
        .count();
    if photos != 1 {
        return Err(ProtocolError::InvalidField {
            field: "frames",
            reason: format!("exactly one photo frame is needed, found {photos}"),
        });
    }
    Ok(manifest)
}

/// The pipeline settings of the re-check: every frame is an independent image, so the
/// detector runs on each; the iris model refines the eyes for the blink check.
pub fn pipeline_config() -> PipelineConfig {
    PipelineConfig {
        redetect_every: 1,
        iris: true,
        ..PipelineConfig::default()
    }
}

/// Thresholds of the re-check. They are looser than the device's (its decisions were made
/// on full-rate video; the server sees two JPEG crops per challenge) but of the same kind.
#[derive(Debug, Clone, PartialEq)]
pub struct RecheckConfig {
    pub yaw_deg: f32,
    pub pitch_deg: f32,
    pub follow_deg: f32,
    /// Peak over baseline eye openness at most this for a blink.
    pub blink_ratio: f32,
    /// Smile: mouth width and corner lift (baseline corner drop over peak) at least these.
    pub smile_ratio: f32,
    pub smile_lift_ratio: f32,
    pub closer_ratio: f32,
    pub farther_ratio: f32,
    /// Device-reported and re-measured head angles may differ by this much.
    pub pose_tolerance_deg: f32,
    pub max_occlusion: f32,
    /// Slack on each step's time limit and on frame timestamps.
    pub timing_slack_ms: u32,
    pub flat_residual: f32,
    /// The light step's bounds: the device's own, applied to the tiles it sent.
    pub light: liveness_light::Thresholds,
}

impl Default for RecheckConfig {
    fn default() -> Self {
        let e = EngineConfig::default();
        Self {
            yaw_deg: 0.6 * e.yaw_deg,
            pitch_deg: 0.6 * e.pitch_deg,
            follow_deg: 6.0,
            blink_ratio: 0.85,
            smile_ratio: 1.0 + 0.5 * (e.smile_ratio - 1.0),
            smile_lift_ratio: 1.0 + 0.5 * (e.smile_lift_ratio - 1.0),
            // Sizes re-measured on two JPEG frames scatter by a few per cent: a device
            // that saw 1.25× may leave frames that read 1.24×.
            closer_ratio: 1.0 + 0.8 * (e.closer_ratio - 1.0),
            farther_ratio: 1.0 - 0.8 * (1.0 - e.farther_ratio),
            pose_tolerance_deg: 10.0,
            max_occlusion: e.max_occlusion + 0.05,
            timing_slack_ms: 1000,
            flat_residual: FLAT_RESIDUAL,
            light: e.light,
        }
    }
}

/// Session facts the timing check needs (Unix milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimes {
    pub created_at_ms: i64,
    pub submitted_at_ms: i64,
    pub skew_ms: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub status: ResultStatus,
    pub verdict: VerdictKind,
    pub confidence: f64,
    pub message: ResultMessage,
    pub reasons: Vec<CheckReason>,
}

/// What the models see in one uploaded frame.
#[derive(Debug, Clone)]
struct Measured {
    face_count: usize,
    signals: Option<FaceSignals>,
    points: Vec<[f32; 2]>,
}

fn measure(
    pipeline: &mut Pipeline,
    jpeg: &[u8],
    width: u16,
    height: u16,
) -> Result<Measured, String> {
    // The upload check held the header to the manifest's size; the decoder is held to it
    // too, so no byte pattern can make it allocate more than that picture needs.
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(u32::from(width));
    limits.max_image_height = Some(u32::from(height));
    limits.max_alloc = Some(u64::from(width) * u64::from(height) * 4 + (1 << 20));
    let mut reader =
        image::ImageReader::with_format(std::io::Cursor::new(jpeg), image::ImageFormat::Jpeg);
    reader.limits(limits);
    let image = reader
        .decode()
        .map_err(|e| format!("not a decodable JPEG: {e}"))?
        .to_rgb8();
    let (w, h) = image.dimensions();
    if (w, h) != (u32::from(width), u32::from(height)) {
        return Err(format!("is {w}×{h}, the manifest says {width}×{height}"));
    }
    let frame = Frame::rgb8(image.as_raw(), w, h, w as usize * 3).map_err(|e| e.to_string())?;
    pipeline.reset();
    let analysis = pipeline.process(&frame).map_err(|e| e.to_string())?;
    Ok(Measured {
        face_count: analysis.face_count,
        points: analysis
            .face
            .as_ref()
            .map(|f| f.mesh.points.iter().map(|p| [p[0], p[1]]).collect())
            .unwrap_or_default(),
        signals: analysis.face.map(|f| f.signals),
    })
}

fn reason(
    check: impl Into<String>,
    passed: bool,
    score: Option<f64>,
    why: Option<String>,
) -> CheckReason {
    CheckReason {
        check: check.into(),
        passed,
        score: score.map(|s| (s.clamp(0.0, 1.0) * 1e4).round() / 1e4),
        reason: why,
    }
}

/// Margin score of `value` against a `threshold` it must reach: 0.5 at the threshold, 1 at
/// twice the threshold.
fn margin(value: f32, threshold: f32) -> f64 {
    if threshold <= 0.0 {
        return 0.0;
    }
    f64::from((value / threshold) * 0.5).clamp(0.0, 1.0)
}

/// Stage two: timing, then the models on every frame.
pub fn recheck(
    pipeline: &mut Pipeline,
    config: &RecheckConfig,
    manifest: &EvidenceManifest,
    plan: &ChallengePlan,
    frames: &[Vec<u8>],
    times: SessionTimes,
) -> Report {
    let mut reasons = vec![
        reason("device_signature", true, None, None),
        reason("session_binding", true, None, None),
        reason("frame_integrity", true, None, None),
    ];

    // What the device itself concluded.
    let failed_step = manifest
        .timeline
        .iter()
        .find(|s| s.result != StepResult::Passed);
    let failed_local = manifest.local_checks.iter().find(|c| !c.passed);
    let device_reason = failed_step
        .and_then(|s| s.reason.clone())
        .or_else(|| failed_local.map(|c| c.reason.clone().unwrap_or_else(|| c.name.clone())));
    let device_ok = failed_step.is_none() && failed_local.is_none();
    reasons.push(reason(
        "device_outcome",
        device_ok,
        None,
        (!device_ok).then(|| {
            device_reason
                .clone()
                .unwrap_or_else(|| "the device did not complete the plan".into())
        }),
    ));
    // A user who could not finish (out of time, the picture never good enough, the face
    // gone) is not live, and it is not an attack either: the session is incomplete, with
    // the reason. Claiming this gains an attacker nothing.
    if let Some(message) = device_reason.as_deref().and_then(incomplete_message) {
        return finish(
            reasons,
            ResultStatus::Incompleted,
            VerdictKind::Inconclusive,
            0.5,
            message,
        );
    }

    if let Err(why) = check_timing(config, manifest, plan, times) {
        reasons.push(reason("timing", false, None, Some(why)));
        return finish(
            reasons,
            ResultStatus::Failed,
            VerdictKind::Spoof,
            0.9,
            ResultMessage::EvidenceRejected,
        );
    }
    reasons.push(reason("timing", true, None, None));

    // The light step, from the tiles: a face that did not reflect the colours, or reflected
    // them late or flat, decides the verdict before anything else. Without it the verdict says
    // which path the session took.
    if plan.light.is_none() {
        reasons.push(reason(
            "light_path",
            true,
            None,
            Some("no-flash path: the session was created with light_challenge false".into()),
        ));
    }
    if let Some(light) = crate::light::recheck_light(manifest, plan, frames, &config.light) {
        // The measurement is named even when it passed: it is what the verdict rests on.
        let why = Some(match light.code {
            Some(c) => format!("{c}: {}", light.detail),
            None => light.detail.clone(),
        });
        reasons.push(reason(
            liveness_light::CHECK,
            light.passed,
            Some(light.score),
            why,
        ));
        if !light.passed {
            let (verdict, message) = if light.not_seen() {
                (VerdictKind::Inconclusive, ResultMessage::LightNotSeen)
            } else {
                (VerdictKind::Spoof, ResultMessage::SpoofSuspected)
            };
            let confidence = spoof_confidence(&reasons);
            return finish(reasons, ResultStatus::Success, verdict, confidence, message);
        }
    }

    // The models on every frame (the light mosaic is not a picture of a face).
    let mut measured = Vec::with_capacity(frames.len());
    for (record, bytes) in manifest.frames.iter().zip(frames) {
        if record.role == FrameRole::LightTiles {
            measured.push(Measured {
                face_count: 0,
                signals: None,
                points: Vec::new(),
            });
            continue;
        }
        match measure(pipeline, bytes, record.width, record.height) {
            Ok(m) => measured.push(m),
            Err(why) => {
                reasons.push(reason(
                    "frames_decodable",
                    false,
                    None,
                    Some(format!("frame {} {why}", record.index)),
                ));
                return finish(
                    reasons,
                    ResultStatus::Failed,
                    VerdictKind::Spoof,
                    0.9,
                    ResultMessage::EvidenceRejected,
                );
            }
        }
    }
    let photo_index = manifest
        .frames
        .iter()
        .position(|f| f.role == FrameRole::Photo)
        .unwrap_or(0);
    let photo = &measured[photo_index];

    // Faces: one in the photo, a face in every crop, nothing covering it.
    let faceless: Vec<u16> = manifest
        .frames
        .iter()
        .zip(&measured)
        .filter(|(r, m)| r.role != FrameRole::LightTiles && m.signals.is_none())
        .map(|(r, _)| r.index)
        .collect();
    if !faceless.is_empty() {
        reasons.push(reason(
            "face_present",
            false,
            None,
            Some(format!("no face found in frame(s) {faceless:?}")),
        ));
        return finish(
            reasons,
            ResultStatus::Success,
            VerdictKind::Inconclusive,
            0.5,
            ResultMessage::NoFace,
        );
    }
    reasons.push(reason("face_present", true, None, None));
    if photo.face_count > 1 {
        reasons.push(reason(
            "single_face",
            false,
            None,
            Some(format!("{} faces in the photo", photo.face_count)),
        ));
        return finish(
            reasons,
            ResultStatus::Success,
            VerdictKind::Inconclusive,
            0.5,
            ResultMessage::MultipleFaces,
        );
    }
    reasons.push(reason("single_face", true, None, None));
    let occlusion = photo.signals.as_ref().map_or(0.0, |s| s.occlusion);
    if occlusion > config.max_occlusion {
        reasons.push(reason(
            "face_visible",
            false,
            Some(f64::from(1.0 - occlusion)),
            Some(format!(
                "an estimated {:.0}% of the face is covered",
                occlusion * 100.0
            )),
        ));
        return finish(
            reasons,
            ResultStatus::Success,
            VerdictKind::Inconclusive,
            0.5,
            ResultMessage::FaceOccluded,
        );
    }
    reasons.push(reason(
        "face_visible",
        true,
        Some(f64::from(1.0 - occlusion)),
        None,
    ));

    // The device's landmark claims against the pixels.
    let worst = manifest
        .frames
        .iter()
        .zip(&measured)
        .filter_map(|(r, m)| {
            let s = m.signals.as_ref()?;
            Some((
                r.index,
                (r.landmarks.yaw_deg - s.pose.yaw)
                    .abs()
                    .max((r.landmarks.pitch_deg - s.pose.pitch).abs()),
            ))
        })
        .fold((0u16, 0f32), |a, b| if b.1 > a.1 { b } else { a });
    let consistent = worst.1 <= config.pose_tolerance_deg;
    reasons.push(reason(
        "landmark_consistency",
        consistent,
        Some(f64::from(1.0 - worst.1 / (2.0 * config.pose_tolerance_deg))),
        (!consistent).then(|| {
            format!(
                "frame {}: the head pose the device reported is {:.1}° from the one in the frame",
                worst.0, worst.1
            )
        }),
    ));

    // Each challenge, from its baseline and peak frames.
    let mut challenge_failed = failed_step.is_some();
    let mut yaw_turns: Vec<(ChallengeKind, f32)> = Vec::new();
    let mut residuals: Vec<f32> = Vec::new();
    for step in &plan.steps {
        let pick = |role| {
            manifest
                .frames
                .iter()
                .position(|f| f.role == role && f.challenge_index == Some(step.index))
        };
        let name = format!("challenge_{}_{}", step.index, step.kind.name());
        let (Some(b), Some(p)) = (pick(FrameRole::Baseline), pick(FrameRole::ChallengePeak)) else {
            challenge_failed = true;
            reasons.push(reason(
                name,
                false,
                None,
                Some("no baseline and peak frames for this challenge".into()),
            ));
            continue;
        };
        let (Some(bs), Some(ps)) = (measured[b].signals.as_ref(), measured[p].signals.as_ref())
        else {
            continue;
        };
        let (passed, score, why) = confirm(
            config,
            step.kind,
            bs,
            ps,
            &manifest.frames[b].landmarks,
            &manifest.frames[p].landmarks,
        );
        if matches!(
            step.kind,
            ChallengeKind::HeadLeft | ChallengeKind::HeadRight
        ) {
            yaw_turns.push((step.kind, ps.pose.yaw - bs.pose.yaw));
        }
        if is_head_movement(step.kind)
            && let Some(r) = homography_residual(&measured[b].points, &measured[p].points)
        {
            residuals.push(r);
        }
        challenge_failed |= !passed;
        reasons.push(reason(name, passed, Some(score), why));
    }

    // Left and right turns must go opposite ways (the server cannot know whether the preview
    // was mirrored, so it checks directions against each other).
    let lefts: Vec<f32> = yaw_turns
        .iter()
        .filter(|t| t.0 == ChallengeKind::HeadLeft)
        .map(|t| t.1.signum())
        .collect();
    let rights: Vec<f32> = yaw_turns
        .iter()
        .filter(|t| t.0 == ChallengeKind::HeadRight)
        .map(|t| t.1.signum())
        .collect();
    if !lefts.is_empty() && !rights.is_empty() {
        let ok = lefts.iter().all(|s| *s == lefts[0]) && rights.iter().all(|s| *s == -lefts[0]);
        challenge_failed |= !ok;
        reasons.push(reason(
            "turn_directions",
            ok,
            None,
            (!ok).then(|| "left and right turns went the same way".to_owned()),
        ));
    }

    let mut flat = false;
    if let Some(best) = residuals.iter().copied().reduce(f32::max) {
        flat = best < config.flat_residual;
        reasons.push(reason(
            "three_d_consistency",
            !flat,
            Some(f64::from(best / (2.0 * config.flat_residual))),
            flat.then(|| {
                format!("landmarks at two poses fit one plane (residual {best:.4}): a flat image")
            }),
        ));
    }

    if challenge_failed {
        let confidence = spoof_confidence(&reasons);
        return finish(
            reasons,
            ResultStatus::Success,
            VerdictKind::Spoof,
            confidence,
            ResultMessage::ChallengeFailed,
        );
    }
    if flat || !consistent || failed_local.is_some() {
        let confidence = spoof_confidence(&reasons);
        return finish(
            reasons,
            ResultStatus::Success,
            VerdictKind::Spoof,
            confidence,
            ResultMessage::SpoofSuspected,
        );
    }
    let weakest = reasons
        .iter()
        .filter_map(|r| r.score)
        .fold(1.0f64, f64::min);
    let confidence = 0.5 + 0.5 * weakest;
    finish(
        reasons,
        ResultStatus::Success,
        VerdictKind::Live,
        confidence,
        ResultMessage::Live,
    )
}

fn finish(
    reasons: Vec<CheckReason>,
    status: ResultStatus,
    verdict: VerdictKind,
    confidence: f64,
    message: ResultMessage,
) -> Report {
    Report {
        status,
        verdict,
        confidence: confidence.clamp(0.0, 1.0),
        message,
        reasons,
    }
}

/// How sure a spoof verdict is: from the clearest failed check's score.
fn spoof_confidence(reasons: &[CheckReason]) -> f64 {
    let clearest = reasons
        .iter()
        .filter(|r| !r.passed)
        .map(|r| 1.0 - r.score.unwrap_or(0.0))
        .fold(0.0f64, f64::max);
    0.5 + 0.5 * clearest
}

fn is_head_movement(kind: ChallengeKind) -> bool {
    matches!(
        kind,
        ChallengeKind::HeadLeft
            | ChallengeKind::HeadRight
            | ChallengeKind::HeadUp
            | ChallengeKind::HeadDown
            | ChallengeKind::FollowText
    )
}

fn eyes(s: &FaceSignals) -> f32 {
    let l = s.left_eye_lid.unwrap_or(s.left_eye_openness);
    let r = s.right_eye_lid.unwrap_or(s.right_eye_openness);
    (l + r) / 2.0
}

/// The result message of a session the user could not finish, from the device's failure
/// code (out of time, or ended on the guidance it was showing); `None` for failures that
/// judge the presentation (a failed challenge or check).
fn incomplete_message(code: &str) -> Option<ResultMessage> {
    let guidance = Guidance::ALL.iter().any(|g| g.code() == code);
    Some(match code {
        "no_face" | "face_lost" | liveness_light::reasons::NO_FACE => ResultMessage::NoFace,
        "multiple_faces" => ResultMessage::MultipleFaces,
        "face_occluded" => ResultMessage::FaceOccluded,
        "timed_out" | "incomplete" | "not_neutral" => ResultMessage::TimedOut,
        // The screen's light never showed (daylight, a far face) and the second run was cut
        // short: not live, and no evidence of an attack either.
        liveness_light::reasons::NO_REFLECTION => ResultMessage::LightNotSeen,
        _ if guidance => ResultMessage::TimedOut,
        _ => return None,
    })
}

/// Whether one challenge shows in its baseline (`b`) and peak (`p`) frames.
fn confirm(
    c: &RecheckConfig,
    kind: ChallengeKind,
    b: &FaceSignals,
    p: &FaceSignals,
    reported_b: &liveness_protocol::LandmarkSummary,
    reported_p: &liveness_protocol::LandmarkSummary,
) -> (bool, f64, Option<String>) {
    let dyaw = p.pose.yaw - b.pose.yaw;
    let dpitch = p.pose.pitch - b.pose.pitch;
    let reported_dyaw = reported_p.yaw_deg - reported_b.yaw_deg;
    let verdict = |passed: bool, score: f64, why: String| (passed, score, (!passed).then_some(why));
    match kind {
        ChallengeKind::HeadLeft | ChallengeKind::HeadRight => {
            // The sign follows the device's own report (mirrored previews flip it); the
            // directions are checked against each other separately.
            let agrees = dyaw.signum() == reported_dyaw.signum();
            verdict(
                dyaw.abs() >= c.yaw_deg && agrees,
                margin(dyaw.abs(), c.yaw_deg),
                format!(
                    "the head turned {:.1}° (at least {:.1}° needed)",
                    dyaw.abs(),
                    c.yaw_deg
                ),
            )
        }
        ChallengeKind::HeadUp | ChallengeKind::HeadDown => {
            let signed = if kind == ChallengeKind::HeadUp {
                dpitch
            } else {
                -dpitch
            };
            verdict(
                signed >= c.pitch_deg,
                margin(signed, c.pitch_deg),
                format!(
                    "the head tilted {signed:.1}° the asked way (at least {:.1}° needed)",
                    c.pitch_deg
                ),
            )
        }
        ChallengeKind::FollowText => {
            let moved = dyaw.abs().max(dpitch.abs());
            verdict(
                moved >= c.follow_deg,
                margin(moved, c.follow_deg),
                format!(
                    "the head moved {moved:.1}° while following the text (at least {:.1}° needed)",
                    c.follow_deg
                ),
            )
        }
        ChallengeKind::BlinkEyes => {
            let open = eyes(b);
            let ratio = if open > 0.0 { eyes(p) / open } else { 1.0 };
            verdict(
                ratio <= c.blink_ratio,
                margin(1.0 - ratio, 1.0 - c.blink_ratio),
                format!(
                    "the eyes closed to {:.0}% of their open size (at most {:.0}% needed)",
                    ratio * 100.0,
                    c.blink_ratio * 100.0
                ),
            )
        }
        ChallengeKind::Smile => {
            // Wider and with the corners lifted, as the device requires, with more slack.
            let wider = if b.smile > 0.0 {
                p.smile / b.smile
            } else {
                0.0
            };
            let lifted = if p.corner_drop > 0.0 {
                b.corner_drop / p.corner_drop
            } else {
                0.0
            };
            let m = margin(wider - 1.0, c.smile_ratio - 1.0)
                .min(margin(lifted - 1.0, c.smile_lift_ratio - 1.0));
            verdict(
                wider >= c.smile_ratio && lifted >= c.smile_lift_ratio,
                m,
                format!(
                    "the mouth widened by {:.1}% and its corners rose by {:.1}% (at least {:.1}% and {:.1}% needed)",
                    (wider - 1.0) * 100.0,
                    (lifted - 1.0) * 100.0,
                    (c.smile_ratio - 1.0) * 100.0,
                    (c.smile_lift_ratio - 1.0) * 100.0
                ),
            )
        }
        ChallengeKind::MoveTowardsCamera | ChallengeKind::MoveAwayFromCamera => {
            // The crops are size-normalised, so the distance comes from the face boxes the
            // device reported (signed); the crops only show a face was there at both times.
            let size = |l: &liveness_protocol::LandmarkSummary| l.face_box[2].max(l.face_box[3]);
            let ratio = if size(reported_b) > 0.0 {
                size(reported_p) / size(reported_b)
            } else {
                1.0
            };
            if kind == ChallengeKind::MoveTowardsCamera {
                verdict(
                    ratio >= c.closer_ratio,
                    margin(ratio - 1.0, c.closer_ratio - 1.0),
                    format!(
                        "the face grew {ratio:.2}× (at least {:.2}× needed)",
                        c.closer_ratio
                    ),
                )
            } else {
                verdict(
                    ratio <= c.farther_ratio,
                    margin(1.0 - ratio, 1.0 - c.farther_ratio),
                    format!(
                        "the face shrank to {ratio:.2}× (at most {:.2}× needed)",
                        c.farther_ratio
                    ),
                )
            }
        }
    }
}

/// Timestamps against the plan and the session's life.
fn check_timing(
    c: &RecheckConfig,
    m: &EvidenceManifest,
    plan: &ChallengePlan,
    t: SessionTimes,
) -> Result<(), String> {
    let slack = i64::from(c.timing_slack_ms);
    if m.capture_started_at_ms < t.created_at_ms - t.skew_ms {
        return Err("the capture started before the session was created".into());
    }
    let last_ms = m
        .timeline
        .iter()
        .map(|s| s.ended_ms)
        .chain(m.frames.iter().map(|f| f.timestamp_ms))
        .max()
        .unwrap_or(0);
    if m.capture_started_at_ms + i64::from(last_ms) > t.submitted_at_ms + t.skew_ms {
        return Err("the capture ends after it was submitted".into());
    }
    // The challenges' limits, and the light step's longest (a second run after a wait for
    // the user to come closer) when the plan has one.
    let allowed = plan.total_time_limit_ms
        + plan
            .light
            .map_or(0, |_| liveness_protocol::light::MAX_STEP_MS);
    if i64::from(last_ms) > i64::from(allowed) + slack {
        return Err(format!(
            "the capture lasted {last_ms} ms; the plan allows {allowed} ms"
        ));
    }
    let mut previous_end = 0u32;
    for (step, planned) in m.timeline.iter().zip(&plan.steps) {
        if step.started_ms > step.ended_ms || step.started_ms < previous_end {
            return Err(format!("challenge {} has out-of-order times", step.index));
        }
        if i64::from(step.ended_ms - step.started_ms) > i64::from(planned.time_limit_ms) + slack {
            return Err(format!(
                "challenge {} took {} ms; its limit is {} ms",
                step.index,
                step.ended_ms - step.started_ms,
                planned.time_limit_ms
            ));
        }
        previous_end = step.ended_ms;
        for f in m
            .frames
            .iter()
            .filter(|f| f.challenge_index == Some(step.index))
        {
            let inside = match f.role {
                FrameRole::ChallengePeak => {
                    f.timestamp_ms + c.timing_slack_ms >= step.started_ms
                        && f.timestamp_ms <= step.ended_ms + c.timing_slack_ms
                }
                _ => f.timestamp_ms <= step.ended_ms + c.timing_slack_ms,
            };
            if !inside {
                return Err(format!(
                    "frame {} of challenge {} lies outside the challenge's time",
                    f.index, step.index
                ));
            }
        }
    }
    Ok(())
}
