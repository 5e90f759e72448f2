//! Evidence from a real (rendered) session: kept frames, JPEG budget, manifest, signature.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use liveness_challenge::{EngineConfig, Event, Observation, Outcome, ScreenRequest, Session};
use liveness_evidence::{EvidenceConfig, EvidenceError, EvidenceStore, ManifestInfo};
use liveness_protocol::manifest::{DeviceInfo, ModelInfo, SdkInfo};
use liveness_protocol::{
    ChallengeKind, DeviceSigningKey, FrameRole, Nonce, SessionOptions, Sha256Digest, derive_plan,
};
use liveness_testkit::{Illumination, Renderer, Script, hold_for_light};
use liveness_vision::{ModelSet, Pipeline, PipelineConfig, Precision};

fn info(nonce: Nonce) -> ManifestInfo {
    ManifestInfo {
        session_id: "ses_evidence_test".into(),
        nonce,
        submission_token: "sub_token_123".into(),
        sdk: SdkInfo {
            name: "liveness-sdk".into(),
            version: "0.1.0".into(),
        },
        models: vec![ModelInfo {
            name: "face_landmark".into(),
            version: "fp32".into(),
            sha256: Sha256Digest::of(b"m"),
        }],
        device: DeviceInfo {
            platform: "linux".into(),
            os_version: "test".into(),
            model: "renderer".into(),
            app_id: None,
            key_storage: None,
        },
        capture_started_at_ms: 1_767_225_600_000,
        attestation: None,
    }
}

/// Runs the left-then-blink recording through a plan that asks for exactly that.
fn session(config: EvidenceConfig) -> (EvidenceStore, Outcome, Nonce) {
    let script = Script::from_file(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../testkit/subjects/left_then_blink.toml"),
    )
    .unwrap();
    run(script, config)
}

/// Runs `script` through vision, a HeadLeft-then-BlinkEyes session and the evidence store,
/// as the SDK's capture loop does.
fn run(mut script: Script, config: EvidenceConfig) -> (EvidenceStore, Outcome, Nonce) {
    let nonce = Nonce([3; 32]);
    let mut plan = derive_plan(
        &nonce,
        &SessionOptions {
            available_actions: Some(vec![ChallengeKind::HeadLeft, ChallengeKind::BlinkEyes]),
            challenge_count: Some(2),
            ..Default::default()
        },
    )
    .unwrap();
    plan.steps
        .sort_by_key(|s| s.kind != ChallengeKind::HeadLeft);
    for (i, s) in plan.steps.iter_mut().enumerate() {
        s.index = i as u8;
    }
    // The plan has the light step: the subject holds still through it, lit by the screen.
    hold_for_light(&mut script, &plan);
    let r = Renderer::new(script);
    let mut light = Illumination::default();
    let mut pipeline = Pipeline::new(
        ModelSet::bundled(Precision::Fp32).unwrap(),
        PipelineConfig::default(),
    )
    .unwrap();
    let mut engine = Session::new(plan, EngineConfig::default()).unwrap();
    let mut store = EvidenceStore::new(config);
    for i in 0..r.frame_count() {
        let img = r.render_lit(i, &light);
        let frame = img.frame().unwrap();
        let analysis = pipeline.process(&frame).unwrap();
        let t = r.timestamp_us(i) / 1000;
        let mut obs = Observation::from_analysis(t, &frame, &analysis);
        if engine.wants_light_tiles() {
            obs = obs.with_light_tile(&frame);
        }
        let update = engine.push(&obs).unwrap();
        for e in &update.events {
            if let Event::Screen(request) = e {
                match *request {
                    ScreenRequest::Colour { index, rgb } => {
                        light.show(t + 17, Some(rgb));
                        engine.screen_presented(index, t + 17);
                    }
                    ScreenRequest::Restore => light.show(t + 17, None),
                }
            }
        }
        store.observe(t, &frame, &analysis).unwrap();
        for c in &update.captures {
            store.offer(c, t, &frame, &analysis).unwrap();
        }
        if let Some(o) = update.outcome {
            return (store, o, nonce);
        }
    }
    let o = engine.end_incomplete();
    (store, o, nonce)
}

/// The server judges the mosaic's decoded tiles: the JPEG must keep what the device
/// measured, or the two disagree near a bound.
fn mosaic_keeps_the_light_response(
    evidence: &liveness_evidence::Evidence,
    outcome: &Outcome,
    nonce: Nonce,
    tolerance: f32,
) {
    let light = evidence.manifest.light.as_ref().unwrap();
    let device = outcome.light.as_ref().unwrap().judgement.response.unwrap();
    let bytes = &evidence.frames[usize::from(light.frame_index)];
    let mosaic = image::load_from_memory(bytes).unwrap().to_rgb8();
    let tiles = liveness_light::split_mosaic(mosaic.as_raw(), 480, light.tiles_ms.len()).unwrap();
    let samples: Vec<_> = light
        .tiles_ms
        .iter()
        .zip(&tiles)
        .map(|(t, tile)| (u64::from(*t), liveness_light::region_means(tile).unwrap()))
        .collect();
    let sequence = liveness_protocol::light::derive_light(&nonce, &light.salt_bytes().unwrap());
    let schedule = liveness_light::Schedule {
        colours: light
            .presented_ms
            .iter()
            .zip(&sequence)
            .map(|(p, c)| (u64::from(*p), c.rgb))
            .collect(),
        restored_ms: u64::from(light.restored_ms),
    };
    let server = liveness_light::fit_response(&samples, &schedule, 24).unwrap();
    println!(
        "light: {} bytes; device {device:?}, from the mosaic {server:?}",
        bytes.len()
    );
    assert!(
        (device.fit - server.fit).abs() < tolerance
            && (device.gain / server.gain - 1.0).abs() < 2.0 * tolerance
            && (device.periphery_ratio - server.periphery_ratio).abs() < tolerance
            && (device.ring_ratio - server.ring_ratio).abs() < tolerance,
        "device {device:?}, from the mosaic {server:?}"
    );
}

#[test]
fn a_weak_reflection_survives_the_mosaic() {
    // A small face in a bright room: the screen's light is a few per cent of the room's,
    // the response the server must still read from the JPEG.
    let mut script = Script::from_file(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../testkit/subjects/left_then_blink.toml"),
    )
    .unwrap();
    script.ambient_lux = 1000.0;
    for k in &mut script.keys {
        k.scale = k.scale.map(|v| v * 0.62);
    }
    if script.keys.iter().all(|k| k.scale.is_none()) {
        script.keys[0].scale = Some(0.62);
    }
    let (store, outcome, nonce) = run(script, EvidenceConfig::default());
    let evidence = store.finish(&info(nonce), &outcome).unwrap();
    mosaic_keeps_the_light_response(&evidence, &outcome, nonce, 0.08);
}

#[test]
fn a_session_gives_signed_evidence_within_budget() {
    let (store, outcome, nonce) = session(EvidenceConfig::default());
    assert!(outcome.passed, "{outcome:?}");
    let evidence = store.finish(&info(nonce), &outcome).unwrap();
    let m = &evidence.manifest;
    // A photo, and a baseline and a peak for each of the two challenges.
    let roles: Vec<(FrameRole, Option<u8>)> = m
        .frames
        .iter()
        .map(|f| (f.role, f.challenge_index))
        .collect();
    assert_eq!(
        roles,
        vec![
            (FrameRole::Photo, None),
            (FrameRole::Baseline, Some(0)),
            (FrameRole::ChallengePeak, Some(0)),
            (FrameRole::Baseline, Some(1)),
            (FrameRole::ChallengePeak, Some(1)),
            (FrameRole::LightTiles, None),
        ]
    );
    // The light record names the mosaic and every tile's time; the colours showed in turn.
    let light = m.light.as_ref().unwrap();
    assert_eq!(usize::from(light.frame_index), 5);
    assert_eq!(light.presented_ms.len(), 6);
    assert!(light.reported && light.tiles_ms.len() >= 40, "{light:?}");
    assert_eq!(m.frames[5].width, 480);
    assert!(
        evidence.total_bytes() <= 250_000,
        "{} bytes",
        evidence.total_bytes()
    );
    println!(
        "evidence: {} frames, {} bytes ({:?}), JPEG quality {}",
        evidence.frames.len(),
        evidence.total_bytes(),
        evidence.frames.iter().map(Vec::len).collect::<Vec<_>>(),
        evidence.jpeg_quality
    );
    for bytes in &evidence.frames {
        image::load_from_memory(bytes).unwrap();
    }
    mosaic_keeps_the_light_response(&evidence, &outcome, nonce, 0.05);
    // The blink's peak really has the eyes closed compared with its baseline.
    let (base, peak) = (&m.frames[3].landmarks, &m.frames[4].landmarks);
    assert!(
        peak.left_eye_openness < 0.8 * base.left_eye_openness,
        "{base:?} {peak:?}"
    );
    // Signed by the device, verified as the server does, frames bound.
    let signed = DeviceSigningKey::from_seed(&[9; 32])
        .sign_manifest(m)
        .unwrap();
    let verified = signed.verify().unwrap();
    verified.verify_frames(&evidence.frames).unwrap();
    let plan_nonce = verified.nonce;
    assert_eq!(plan_nonce, nonce);
    assert_eq!(
        verified.submission_token_sha256,
        Sha256Digest::of(b"sub_token_123")
    );
}

#[test]
fn the_budget_lowers_quality_and_is_a_typed_error_when_impossible() {
    // The light mosaic (~95 KB) keeps its quality; the frames give way.
    let (store, outcome, nonce) = session(EvidenceConfig {
        max_total_bytes: 150_000,
        ..Default::default()
    });
    let e = store.finish(&info(nonce), &outcome).unwrap();
    assert!(
        e.total_bytes() <= 150_000 && e.jpeg_quality < 88,
        "{} bytes at {}",
        e.total_bytes(),
        e.jpeg_quality
    );
    let tiny = EvidenceConfig {
        max_total_bytes: 2_000,
        ..Default::default()
    };
    let (store, outcome, nonce) = session(tiny);
    assert!(matches!(
        store.finish(&info(nonce), &outcome),
        Err(EvidenceError::TooLarge { .. })
    ));
    let empty = EvidenceStore::new(EvidenceConfig::default());
    assert_eq!(
        empty.finish(&info(nonce), &outcome).unwrap_err(),
        EvidenceError::NoFrames
    );
}

/// A session that never reached its baseline still sends evidence: a photo of the best
/// face it saw (or of the frame, when there never was one), so the server can judge it.
#[test]
fn a_session_that_never_got_a_baseline_still_has_a_photo() {
    let covered = Script::parse(
        "duration = 2.5\nseed = 5\n[[keys]]\nt = 0\nnoise = 2\n\
         [occluder]\ndx = 0.0\ndy = 0.15\nwidth = 1.1\nheight = 1.0",
    )
    .unwrap();
    let (store, outcome, nonce) = run(covered, EvidenceConfig::default());
    assert!(!outcome.passed);
    assert!(outcome.timeline.is_empty(), "{:?}", outcome.timeline);
    let e = store.finish(&info(nonce), &outcome).unwrap();
    assert_eq!(e.manifest.frames.len(), 1);
    assert_eq!(e.manifest.frames[0].role, FrameRole::Photo);
    assert_eq!(
        (e.manifest.frames[0].width, e.manifest.frames[0].height),
        (480, 360)
    );
    image::load_from_memory(&e.frames[0]).unwrap();

    let nobody = Script::parse(
        "duration = 1.0\nbackground = [128, 128, 128]\n[[keys]]\nt = 0\nscale = 0.05\nx = -2.0",
    )
    .unwrap();
    let (store, outcome, nonce) = run(nobody, EvidenceConfig::default());
    let e = store.finish(&info(nonce), &outcome).unwrap();
    assert_eq!(e.manifest.frames.len(), 1);
    assert_eq!(e.manifest.frames[0].landmarks.face_count, 0);
    assert_eq!(outcome.failure, Some("no_face"));
}
