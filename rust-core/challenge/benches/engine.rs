//! The engine's own cost per frame, models excluded: a full session (baseline, a head turn
//! with landmarks for the 3-D check, a blink) fed from a scripted signal trace.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use liveness_challenge::{EngineConfig, FaceObservation, Observation, Session};
use liveness_protocol::plan::PlannedStep;
use liveness_protocol::{ChallengeKind, ChallengePlan, Nonce};

fn trace() -> Vec<Observation> {
    (0..200u64)
        .map(|i| {
            let t = i * 33;
            let turn = if (1500..2700).contains(&t) {
                25.0 * (1.0 - ((t as f32 - 2100.0) / 600.0).abs())
            } else {
                0.0
            };
            let eyes = if (3600..3750).contains(&t) { 0.12 } else { 0.3 };
            let mut signature = [0u8; 64];
            signature[0] = i as u8;
            Observation {
                t_ms: t,
                face_count: 1,
                face: Some(FaceObservation {
                    left_eye: eyes,
                    right_eye: eyes,
                    yaw: turn,
                    pitch: -8.0,
                    smile: 0.7,
                    corner_drop: 0.3,
                    mouth: 0.1,
                    face_size: 0.35,
                    face_box: [220.0, 130.0, 200.0, 220.0],
                    brightness: 0.6,
                    sharpness: 0.003,
                    landmarks: Some(Arc::new(
                        (0..468)
                            .map(|k| {
                                [
                                    300.0 + (k % 20) as f32 * 3.0 + turn * 0.1 * (k % 7) as f32,
                                    200.0 + (k / 20) as f32 * 4.0,
                                ]
                            })
                            .collect(),
                    )),
                    ..Default::default()
                }),
                frame_brightness: 0.5,
                signature,
                light_tile: None,
            }
        })
        .collect()
}

/// A head turn, then a blink.
fn plan() -> ChallengePlan {
    let step = |index, kind| PlannedStep {
        index,
        kind,
        time_limit_ms: 8000,
        follow_path: None,
    };
    ChallengePlan {
        light: None,
        version: 1,
        nonce: Nonce([0; 32]),
        steps: vec![
            step(0, ChallengeKind::HeadLeft),
            step(1, ChallengeKind::BlinkEyes),
        ],
        total_time_limit_ms: 16_000,
    }
}

fn engine(c: &mut Criterion) {
    let plan = plan();
    let frames = trace();
    c.bench_function("engine/full session, per frame (200 frames)", |b| {
        b.iter_custom(|iters| {
            let start = std::time::Instant::now();
            let mut pushed = 0u32;
            for _ in 0..iters {
                let Ok(mut s) = Session::new(plan.clone(), EngineConfig::default()) else {
                    return start.elapsed();
                };
                for f in &frames {
                    pushed += 1;
                    if black_box(s.push(f))
                        .map(|u| u.outcome.is_some())
                        .unwrap_or(true)
                    {
                        break;
                    }
                }
            }
            // Per frame pushed, scaled back to one iteration's worth.
            start.elapsed() * iters as u32 / pushed.max(1)
        })
    });
}

/// The trace must really run a whole, passing session, or the figure means little.
fn check_trace() {
    let plan = plan();
    if let Ok(mut s) = Session::new(plan, EngineConfig::default()) {
        let frames = trace();
        let n = frames
            .iter()
            .position(|f| s.push(f).ok().and_then(|u| u.outcome).is_some());
        eprintln!(
            "benchmark trace: session ends after {:?} frames, passed: {:?}",
            n.map(|i| i + 1),
            s.outcome().map(|o| o.passed)
        );
    }
}

/// What the light step adds per frame on the device: the face tile cut from a 640×480
/// frame and its region means (the fit itself runs once, at the step's end).
fn light_tile(c: &mut Criterion) {
    let (w, h) = (640u32, 480u32);
    let rgb: Vec<u8> = (0..w * h * 3).map(|i| (i % 251) as u8).collect();
    let Ok(frame) = liveness_frame::Frame::rgb8(&rgb, w, h, w as usize * 3) else {
        return;
    };
    c.bench_function("light step/tile + region means, per frame (640x480)", |b| {
        b.iter(|| {
            liveness_light::cut_tile(black_box(&frame), [220.0, 130.0, 200.0, 220.0])
                .and_then(|t| liveness_light::region_means(&t))
        })
    });
}

/// What the light step costs once, at its end: 45 tiles through the evidence's JPEG mosaic
/// and back (the device judges what the server will decode), then the fit at every lag.
fn light_judgement(c: &mut Criterion) {
    let side = liveness_light::TILE_SIDE;
    let tiles: Vec<Vec<u8>> = (0..45u32)
        .map(|k| {
            (0..side * side * 3)
                .map(|i| ((i as u32 * 7 + k) % 200) as u8 + 30)
                .collect()
        })
        .collect();
    let schedule = liveness_light::Schedule {
        colours: (0..6u64)
            .map(|i| {
                (
                    i * 400,
                    [[255, 255, 255], [40, 90, 255], [40, 230, 80]][i as usize % 3],
                )
            })
            .collect(),
        restored_ms: 2400,
    };
    c.bench_function(
        "light step/mosaic round trip + fit, once per run (45 tiles)",
        |b| {
            b.iter(|| {
                let back = liveness_light::as_received(black_box(&tiles)).unwrap_or_default();
                let samples: Vec<_> = back
                    .iter()
                    .enumerate()
                    .filter_map(|(i, t)| Some((i as u64 * 60, liveness_light::region_means(t)?)))
                    .collect();
                liveness_light::fit_response(&samples, &schedule, 24)
            })
        },
    );
}

fn engine_checked(c: &mut Criterion) {
    check_trace();
    engine(c);
    light_tile(c);
    light_judgement(c);
}

criterion_group!(benches, engine_checked);
criterion_main!(benches);
