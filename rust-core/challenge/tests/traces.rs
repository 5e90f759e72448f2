//! The engine on scripted signal traces: every challenge passing, too slow, in the wrong
//! direction, in the wrong order, with no baseline, with the face lost; guidance; the checks.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use liveness_challenge::{
    EngineConfig, EngineError, FaceObservation, Guidance, Observation, Outcome, Prompt, Session,
};
use liveness_protocol::manifest::StepResult;
use liveness_protocol::plan::{PlannedStep, Waypoint};
use liveness_protocol::{ChallengeKind, ChallengePlan, Nonce};

const FRAME_MS: u64 = 33;

fn plan(kinds: &[ChallengeKind]) -> ChallengePlan {
    let steps: Vec<PlannedStep> = kinds
        .iter()
        .enumerate()
        .map(|(i, &kind)| PlannedStep {
            index: i as u8,
            kind,
            time_limit_ms: if kind == ChallengeKind::FollowText {
                9000
            } else {
                5000
            },
            follow_path: (kind == ChallengeKind::FollowText).then(|| {
                [
                    (0, 500, 500),
                    (1200, 200, 450),
                    (2400, 800, 550),
                    (3600, 250, 500),
                    (4800, 750, 500),
                ]
                .map(|(t_ms, x, y)| Waypoint { t_ms, x, y })
                .to_vec()
            }),
        })
        .collect();
    let total_time_limit_ms = steps.iter().map(|s| s.time_limit_ms).sum();
    ChallengePlan {
        light: None,
        version: 1,
        nonce: Nonce([0; 32]),
        steps,
        total_time_limit_ms,
    }
}

/// A neutral face; tweak the fields per frame.
fn face() -> FaceObservation {
    FaceObservation {
        left_eye: 0.3,
        right_eye: 0.3,
        eye_lid: None,
        yaw: 2.0,
        pitch: -8.0,
        roll: 0.0,
        smile: 0.7,
        corner_drop: 0.3,
        mouth: 0.1,
        face_size: 0.35,
        center_offset: [0.0, -0.02],
        face_box: [220.0, 130.0, 200.0, 220.0],
        brightness: 0.6,
        sharpness: 0.003,
        occlusion: 0.0,
        landmarks: None,
    }
}

/// Drives a session frame by frame from a function of time; returns the outcome and every
/// update's prompt and guidance.
struct Run {
    outcome: Option<Outcome>,
    guidance: Vec<Option<Guidance>>,
    prompts: Vec<Prompt>,
}

fn run(
    kinds: &[ChallengeKind],
    seconds: f32,
    at: impl Fn(u64) -> (usize, Option<FaceObservation>),
) -> Run {
    run_with(kinds, EngineConfig::default(), seconds, at)
}

fn run_with(
    kinds: &[ChallengeKind],
    config: EngineConfig,
    seconds: f32,
    at: impl Fn(u64) -> (usize, Option<FaceObservation>),
) -> Run {
    let mut s = Session::new(plan(kinds), config).unwrap();
    let mut r = Run {
        outcome: None,
        guidance: Vec::new(),
        prompts: Vec::new(),
    };
    let frames = (seconds * 1000.0 / FRAME_MS as f32) as u64;
    for i in 0..frames {
        let t = 1_000_000 + i * FRAME_MS;
        let (count, f) = at(t - 1_000_000);
        let mut signature = [0u8; 64];
        signature[0] = i as u8;
        signature[1] = (i >> 8) as u8;
        let obs = Observation {
            light_tile: None,
            t_ms: t,
            face_count: count,
            face: f,
            frame_brightness: 0.5,
            signature,
        };
        let u = s.push(&obs).unwrap();
        r.guidance.push(u.guidance);
        r.prompts.push(u.prompt.clone());
        if let Some(o) = u.outcome {
            r.outcome = Some(o);
            assert_eq!(s.push(&obs).unwrap_err(), EngineError::Ended);
            break;
        }
    }
    r
}

/// A smile of `amount` (0.25: the mouth 25 % wider, its corners 25 % nearer the nose).
fn smiling(f: &mut FaceObservation, amount: f32) {
    f.smile *= 1.0 + amount;
    f.corner_drop /= 1.0 + amount;
}

fn one(f: FaceObservation) -> (usize, Option<FaceObservation>) {
    (1, Some(f))
}

/// Smoothly from 0 to 1 over `[a, b]` ms, back to 0 over `[c, d]`.
fn pulse(t: u64, a: u64, b: u64, c: u64, d: u64) -> f32 {
    let t = t as f32;
    let (a, b, c, d) = (a as f32, b as f32, c as f32, d as f32);
    if t < a || t > d {
        0.0
    } else if t < b {
        (t - a) / (b - a)
    } else if t <= c {
        1.0
    } else {
        1.0 - (t - c) / (d - c)
    }
}

fn passed(r: &Run) -> bool {
    r.outcome.as_ref().is_some_and(|o| o.passed)
}

fn failure(r: &Run) -> Option<&'static str> {
    r.outcome.as_ref().and_then(|o| o.failure)
}

use ChallengeKind::*;

#[test]
fn a_blink_passes_and_a_slow_one_fails() {
    let blink = |close_ms: u64| {
        move |t: u64| {
            let mut f = face();
            let e = 0.3 - 0.2 * pulse(t, 1500, 1560, 1560 + close_ms, 1620 + close_ms);
            (f.left_eye, f.right_eye) = (e, e);
            one(f)
        }
    };
    let r = run(&[BlinkEyes], 4.0, blink(120));
    assert!(passed(&r), "{:?}", r.outcome);
    assert_eq!(
        r.outcome.as_ref().unwrap().timeline[0].result,
        StepResult::Passed
    );
    // A natural blink at 24 fps, sampled on only a few frames: the crossings are
    // interpolated, so it is still measured as a blink.
    let r = run(&[BlinkEyes], 4.0, blink(40));
    assert!(passed(&r), "{:?}", r.outcome);
    // Eyes held shut for 900 ms: not a blink. The step waits for a real one and, when
    // none comes, fails saying why.
    let r = run(&[BlinkEyes], 8.0, blink(900));
    assert_eq!(failure(&r), Some("blink_too_slow"));
    // The slow closure, then a real blink: passes.
    let slow_then_real = |t: u64| {
        let mut f = face();
        let e =
            0.3 - 0.2 * pulse(t, 1500, 1560, 2460, 2520) - 0.2 * pulse(t, 3500, 3560, 3640, 3700);
        (f.left_eye, f.right_eye) = (e, e);
        one(f)
    };
    assert!(passed(&run(&[BlinkEyes], 8.0, slow_then_real)));
    // Eyes that only narrow (a squint to 85 %) are not a blink.
    let squint = |t: u64| {
        let mut f = face();
        let e = 0.3 - 0.045 * pulse(t, 1500, 1560, 1700, 1760);
        (f.left_eye, f.right_eye) = (e, e);
        one(f)
    };
    assert_eq!(failure(&run(&[BlinkEyes], 8.0, squint)), Some("timed_out"));
}

fn turn(
    kind: ChallengeKind,
    yaw: f32,
    pitch: f32,
    back: bool,
) -> impl Fn(u64) -> (usize, Option<FaceObservation>) {
    move |t| {
        let mut f = face();
        let p = if back {
            pulse(t, 1500, 1900, 2300, 2700)
        } else {
            pulse(t, 1500, 1900, 99_999, 100_000)
        };
        f.yaw += yaw * p;
        f.pitch += pitch * p;
        let _ = kind;
        one(f)
    }
}

#[test]
fn head_turns_pass_in_the_asked_direction_only() {
    for (kind, yaw, pitch) in [
        (HeadLeft, 28.0, 0.0),
        (HeadRight, -28.0, 0.0),
        (HeadUp, 0.0, 18.0),
        (HeadDown, 0.0, -18.0),
    ] {
        let r = run(&[kind], 5.0, turn(kind, yaw, pitch, true));
        assert!(passed(&r), "{kind:?}: {:?}", r.outcome);
        let r = run(&[kind], 5.0, turn(kind, -yaw, -pitch, true));
        assert_eq!(
            failure(&r),
            Some("wrong_direction"),
            "{kind:?} the wrong way"
        );
        // Turning and never coming back does not complete the challenge.
        let r = run(&[kind], 8.0, turn(kind, yaw, pitch, false));
        assert_eq!(failure(&r), Some("timed_out"), "{kind:?} without returning");
    }
}

#[test]
fn distance_and_smile() {
    let scaled = |to: f32| {
        move |t: u64| {
            let mut f = face();
            f.face_size *= 1.0 + (to - 1.0) * pulse(t, 1500, 2000, 3000, 3500);
            one(f)
        }
    };
    assert!(passed(&run(&[MoveTowardsCamera], 5.0, scaled(1.5))));
    assert!(passed(&run(&[MoveAwayFromCamera], 5.0, scaled(0.6))));
    assert_eq!(
        failure(&run(&[MoveTowardsCamera], 5.0, scaled(0.6))),
        Some("wrong_direction")
    );
    let smile = |amount: f32, hold_ms: u64| {
        move |t: u64| {
            let mut f = face();
            smiling(
                &mut f,
                amount * pulse(t, 1500, 1550, 1550 + hold_ms, 1600 + hold_ms),
            );
            one(f)
        }
    };
    assert!(passed(&run(&[Smile], 5.0, smile(0.25, 600))));
    assert_eq!(
        failure(&run(&[Smile], 7.0, smile(0.0, 600))),
        Some("timed_out")
    );
    // As long as a vowel (200 ms): not a smile.
    assert_eq!(
        failure(&run(&[Smile], 7.0, smile(0.25, 200))),
        Some("timed_out")
    );
    // Speech widens the mouth without lifting its corners: not a smile either.
    let talking = |t: u64| {
        let mut f = face();
        f.smile *= 1.0 + 0.25 * pulse(t, 1500, 1800, 2400, 2700);
        one(f)
    };
    assert_eq!(failure(&run(&[Smile], 7.0, talking)), Some("timed_out"));
}

#[test]
fn following_the_text_passes_and_guessing_fails() {
    let p = plan(&[FollowText]);
    let path: Vec<(f32, f32)> = p.steps[0]
        .follow_path
        .as_ref()
        .unwrap()
        .iter()
        .map(|w| (w.t_ms as f32, f32::from(w.x)))
        .collect();
    let x_at = move |t: f32| {
        let i = path
            .iter()
            .position(|w| w.0 >= t)
            .unwrap_or(path.len() - 1)
            .max(1);
        let (a, b) = (path[i - 1], path[i]);
        a.1 + (b.1 - a.1) * ((t - a.0) / (b.0 - a.0)).clamp(0.0, 1.0)
    };
    // The step starts once the baseline (~0.6 s) and a short neutral hold are done: ~0.8 s.
    let follower = move |lag: f32, gain: f32| {
        let x_at = x_at.clone();
        move |t: u64| {
            let mut f = face();
            let local = t as f32 - 800.0 - lag;
            f.yaw += gain * -(x_at(local) - 500.0) / 500.0 * 30.0;
            one(f)
        }
    };
    assert!(passed(&run(&[FollowText], 9.0, follower(300.0, 1.0))));
    // Turning back and forth on a fixed rhythm that does not match the path.
    let guesser = |t: u64| {
        let mut f = face();
        f.yaw += 15.0 * (t as f32 / 700.0).sin();
        one(f)
    };
    assert_eq!(
        failure(&run(&[FollowText], 9.0, guesser)),
        Some("did_not_follow")
    );
}

#[test]
fn a_recording_of_another_plan_fails_on_order() {
    // Plan: blink then turn left. The recording turns left first, then blinks.
    let recording = |t: u64| {
        let mut f = face();
        f.yaw += 28.0 * pulse(t, 1200, 1600, 2000, 2400);
        let e = 0.3 - 0.2 * pulse(t, 3000, 3060, 3180, 3240);
        (f.left_eye, f.right_eye) = (e, e);
        one(f)
    };
    let r = run(&[BlinkEyes, HeadLeft], 8.0, recording);
    assert_eq!(failure(&r), Some("unexpected_motion"));
    // The same recording passes the plan it was made for.
    assert!(
        passed(&run(&[HeadLeft, BlinkEyes], 8.0, recording)),
        "{:?}",
        run(&[HeadLeft, BlinkEyes], 8.0, recording).outcome
    );
}

#[test]
fn no_baseline_no_challenge() {
    let off_centre = |_t: u64| {
        let mut f = face();
        f.center_offset = [0.4, 0.0];
        one(f)
    };
    let config = EngineConfig {
        session_time_limit_ms: 3000,
        ..Default::default()
    };
    let r = run_with(&[BlinkEyes], config, 4.0, off_centre);
    assert_eq!(failure(&r), Some("timed_out"));
    assert!(
        r.prompts
            .iter()
            .all(|p| *p == Prompt::LookAtCamera || *p == Prompt::Done)
    );
    assert!(r.guidance.contains(&Some(Guidance::NotCentered)));
}

#[test]
fn losing_the_face_mid_step_fails_but_a_blip_does_not() {
    let lost = |gap_ms: u64| {
        move |t: u64| {
            if (1400..1400 + gap_ms).contains(&t) {
                (0, None)
            } else {
                one(face())
            }
        }
    };
    assert_eq!(failure(&run(&[Smile], 4.0, lost(1500))), Some("face_lost"));
    // A 200 ms dropout, then the smile: passes.
    let blip_then_smile = |t: u64| {
        if (1400..1600).contains(&t) {
            return (0, None);
        }
        let mut f = face();
        smiling(&mut f, 0.25 * pulse(t, 2000, 2300, 2800, 3000));
        one(f)
    };
    assert!(passed(&run(&[Smile], 5.0, blip_then_smile)));
    let crowd = |t: u64| (if t > 1400 { 2 } else { 1 }, Some(face()));
    let r = run(&[Smile], 4.0, crowd);
    assert_eq!(failure(&r), Some("multiple_faces"));
    assert!(r.guidance.contains(&Some(Guidance::MultipleFaces)));
}

#[test]
fn guidance_names_the_problem_without_flicker() {
    let dark = |_t: u64| {
        let mut f = face();
        f.brightness = 0.1;
        one(f)
    };
    let r = run_with(
        &[Smile],
        EngineConfig {
            session_time_limit_ms: 2000,
            ..Default::default()
        },
        2.5,
        dark,
    );
    assert_eq!(r.guidance.first(), Some(&None), "not before the debounce");
    assert_eq!(r.guidance[20], Some(Guidance::TooDark));
    let far = |_t: u64| {
        let mut f = face();
        f.face_size = 0.08;
        one(f)
    };
    let r = run_with(
        &[Smile],
        EngineConfig {
            session_time_limit_ms: 2000,
            ..Default::default()
        },
        2.5,
        far,
    );
    assert_eq!(r.guidance[20], Some(Guidance::TooFar));
    assert_eq!(Guidance::TooFar.text(), "Move closer");
    // Fidgeting during the baseline: asked to hold still, and no challenge starts.
    let fidget = |t: u64| {
        let mut f = face();
        f.yaw += if (t / 66) % 2 == 0 { 4.0 } else { -4.0 };
        one(f)
    };
    let r = run_with(
        &[Smile],
        EngineConfig {
            session_time_limit_ms: 2000,
            ..Default::default()
        },
        2.5,
        fidget,
    );
    assert_eq!(r.guidance[20], Some(Guidance::HoldStill));
    assert!(
        r.prompts
            .iter()
            .all(|p| matches!(p, Prompt::LookAtCamera | Prompt::Done))
    );
}

/// Runs a one-smile session with each frame's signature from `signature(i)` and time from
/// `t(i)`; returns the temporal check.
fn temporal_check(
    signature: impl Fn(u64) -> u8,
    t: impl Fn(u64) -> u64,
) -> liveness_challenge::CheckOutcome {
    let mut s = Session::new(plan(&[Smile]), EngineConfig::default()).unwrap();
    for i in 0..300u64 {
        let mut f = face();
        smiling(&mut f, 0.25 * pulse(t(i), 1500, 1800, 2400, 2700));
        let mut sig = [0u8; 64];
        sig[0] = signature(i);
        let obs = Observation {
            light_tile: None,
            t_ms: t(i),
            face_count: 1,
            face: Some(f),
            frame_brightness: 0.5,
            signature: sig,
        };
        if let Some(o) = s.push(&obs).unwrap().outcome {
            return o
                .checks
                .iter()
                .find(|c| c.check == "temporal_continuity")
                .unwrap()
                .clone();
        }
    }
    panic!("the session did not end");
}

#[test]
fn a_frozen_picture_fails_the_temporal_check_but_a_slow_camera_does_not() {
    // A live stream with repeats: every frame delivered three times (10 fps of exposures in
    // a 30 fps stream), uneven stamps, now and then twice the same stamp.
    let slow = temporal_check(
        |i| (i / 3) as u8,
        |i| i * FRAME_MS + [0, 7, 3, 11, 0][(i % 5) as usize] - if i % 17 == 5 { 7 } else { 0 },
    );
    assert!(slow.passed, "{slow:?}");
    // 15 fps with irregular gaps.
    let fifteen = temporal_check(|i| i as u8, |i| i * 66 + (i % 3) * 9);
    assert!(fifteen.passed, "{fifteen:?}");
    // The picture stops changing for a second and a half (a paused video).
    let frozen = temporal_check(
        |i| if (20..65).contains(&i) { 20 } else { i as u8 },
        |i| i * FRAME_MS,
    );
    assert!(!frozen.passed, "{frozen:?}");
    assert!(
        frozen.reason.as_deref().unwrap().contains("froze"),
        "{frozen:?}"
    );
    // Time running backwards.
    let backwards = temporal_check(
        |i| i as u8,
        |i| if i == 30 { 10 * FRAME_MS } else { i * FRAME_MS },
    );
    assert!(!backwards.passed, "{backwards:?}");
}

/// Landmarks of a bumpy 3-D surface (a face has depth) seen at `yaw`; `flat` removes depth.
fn landmarks(yaw: f32, flat: bool) -> Arc<Vec<[f32; 2]>> {
    let (s, c) = yaw.to_radians().sin_cos();
    Arc::new(
        (0..100)
            .map(|k| {
                let (x, y) = ((k % 10) as f32 * 12.0 - 54.0, (k / 10) as f32 * 14.0 - 63.0);
                let z = if flat {
                    0.0
                } else {
                    40.0 - 0.012 * (x * x + y * y) + 10.0 * (k as f32 * 0.7).sin()
                };
                [320.0 + x * c - z * s, 240.0 + y]
            })
            .collect(),
    )
}

#[test]
fn a_flat_face_fails_the_three_d_check() {
    let with = |flat: bool| {
        move |t: u64| {
            let mut f = face();
            let p = pulse(t, 1500, 1900, 2300, 2700);
            f.yaw += 28.0 * p;
            f.landmarks = Some(landmarks(28.0 * p, flat));
            one(f)
        }
    };
    let real = run(&[HeadLeft], 5.0, with(false));
    assert!(passed(&real), "{:?}", real.outcome);
    let print = run(&[HeadLeft], 5.0, with(true));
    let o = print.outcome.unwrap();
    assert!(!o.passed);
    assert_eq!(o.failure, Some("three_d_consistency"));
}

#[test]
fn a_unix_millisecond_camera_clock_works() {
    let mut s = Session::new(plan(&[Smile]), EngineConfig::default()).unwrap();
    let base = 1_767_225_600_000u64;
    let mut out = None;
    for i in 0..150u64 {
        let mut f = face();
        smiling(&mut f, 0.25 * pulse(i * FRAME_MS, 1500, 1800, 2400, 2700));
        let mut signature = [0u8; 64];
        signature[0] = i as u8;
        let obs = Observation {
            light_tile: None,
            t_ms: base + i * FRAME_MS,
            face_count: 1,
            face: Some(f),
            frame_brightness: 0.5,
            signature,
        };
        if let Some(o) = s.push(&obs).unwrap().outcome {
            out = Some(o);
            break;
        }
    }
    assert!(out.unwrap().passed);
}

#[test]
fn bad_configs_and_plans_are_typed_errors() {
    let bad = EngineConfig {
        closed_ratio: 0.95,
        ..Default::default()
    };
    assert_eq!(
        Session::new(plan(&[Smile]), bad).unwrap_err().code(),
        "invalid_config"
    );
    let mut p = plan(&[Smile]);
    p.total_time_limit_ms += 1;
    assert_eq!(
        Session::new(p, EngineConfig::default()).unwrap_err().code(),
        "invalid_plan"
    );
}

/// Input that stops mid-step (the user cancelled, the clip ended) ends that step failed in
/// the timeline, so the timeline names every step the evidence holds frames of.
#[test]
fn stopping_mid_step_records_the_step_as_failed() {
    let mut s = Session::new(plan(&[HeadLeft, BlinkEyes]), EngineConfig::default()).unwrap();
    for i in 0..60u64 {
        let obs = Observation {
            light_tile: None,
            t_ms: 1_000_000 + i * FRAME_MS,
            face_count: 1,
            face: Some(face()),
            frame_brightness: 0.5,
            signature: [i as u8; 64],
        };
        assert!(s.push(&obs).unwrap().outcome.is_none());
    }
    let o = s.end_incomplete();
    assert!(!o.passed);
    assert_eq!(o.failure, Some("incomplete"));
    assert_eq!(o.timeline.len(), 1);
    let step = &o.timeline[0];
    assert_eq!((step.kind, step.result), (HeadLeft, StepResult::Failed));
    assert_eq!(step.reason.as_deref(), Some("incomplete"));
    assert!(step.ended_ms > step.started_ms);
    // Ending again changes nothing.
    assert_eq!(s.end_incomplete(), o);
}
