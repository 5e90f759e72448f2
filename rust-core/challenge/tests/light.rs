//! The light step's state machine on synthetic tiles: what the engine asks the host to
//! paint, how it reads presentation reports, and how it judges a lit face, a flat sheet, a
//! recording and a face the light cannot reach (guided, one more run, then not live).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use liveness_challenge::{
    EngineConfig, Event, FaceObservation, Guidance, Observation, ScreenRequest, Session,
};
use liveness_protocol::{Nonce, SessionOptions, derive_plan};

const SIDE: usize = 48;

/// A tile whose regions reflect `screen` (linear 0..1) with gains `k` (centre, sides, ring).
fn tile(screen: [f32; 3], k: [f32; 3]) -> Vec<u8> {
    let albedo = [0.5f32, 0.33, 0.26];
    let mut out = vec![0u8; SIDE * SIDE * 3];
    for y in 0..SIDE {
        for x in 0..SIDE {
            let u = ((x as f32 + 0.5) / SIDE as f32 - 0.5) / 0.25;
            let v = ((y as f32 + 0.5) / SIDE as f32 - 0.5) / 0.3125;
            let r = (u * u + v * v).sqrt();
            let gain = if u.abs() > 1.2 {
                k[2]
            } else if r < 0.6 {
                k[0]
            } else {
                k[1]
            };
            for c in 0..3 {
                let lin = albedo[c] * (1.0 + gain * screen[c]);
                out[(y * SIDE + x) * 3 + c] = (255.0 * lin.powf(1.0 / 2.2)).round() as u8;
            }
        }
    }
    out
}

fn face(size: f32) -> FaceObservation {
    FaceObservation {
        left_eye: 0.3,
        right_eye: 0.3,
        face_size: size,
        face_box: [200.0, 100.0, 200.0, 250.0],
        brightness: 0.5,
        sharpness: 0.001,
        ..Default::default()
    }
}

struct Run {
    events: Vec<Event>,
    guidance: Vec<Guidance>,
    failure: Option<&'static str>,
    light_checked: Option<bool>,
}

/// Runs a light-only plan: `respond(screen_rgb_linear)` gives the tile gains a frame shows
/// for what the screen shows `lag_ms` earlier; `report` sends presentation times.
fn run(k: [f32; 3], lag_ms: u64, report: bool) -> Run {
    run_with(lag_ms, report, |_, _| (0.4, k))
}

/// `user(t, asked_closer)`: the face's size and tile gains at `t`, for a user who may have
/// been asked to come closer.
fn run_with(lag_ms: u64, report: bool, mut user: impl FnMut(u64, bool) -> (f32, [f32; 3])) -> Run {
    let plan = derive_plan(
        &Nonce([7; 32]),
        &SessionOptions {
            action: liveness_protocol::Action::BlinkEyes,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(plan.light.is_some());
    let mut s = Session::new(plan, EngineConfig::default())
        .unwrap()
        .with_light_salts([[1; 16], [2; 16]]);
    let mut shown: Vec<(u64, [f32; 3])> = vec![(0, [0.0; 3])];
    let mut out = Run {
        events: Vec::new(),
        guidance: Vec::new(),
        failure: None,
        light_checked: None,
    };
    for i in 0..700u64 {
        let t = i * 33;
        let (size, k) = user(t, out.guidance.contains(&Guidance::TooFar));
        let screen = shown
            .iter()
            .rev()
            .find(|(at, _)| *at + lag_ms <= t)
            .map_or([0.0; 3], |(_, c)| *c);
        let obs = Observation {
            t_ms: t,
            face_count: 1,
            face: Some(face(size)),
            frame_brightness: 0.5,
            signature: [(i % 250) as u8; 64],
            light_tile: s.wants_light_tiles().then(|| Arc::new(tile(screen, k))),
        };
        let u = s.push(&obs).unwrap();
        out.guidance.extend(u.guidance);
        for e in &u.events {
            if let Event::Screen(r) = e {
                let at = t + 16;
                match *r {
                    ScreenRequest::Colour { index, rgb } => {
                        shown.push((at, rgb.map(|v| (f32::from(v) / 255.0).powf(2.2))));
                        if report {
                            s.screen_presented(index, at);
                        }
                    }
                    ScreenRequest::Restore => shown.push((at, [0.0; 3])),
                }
            }
        }
        out.events.extend(u.events);
        if let Some(o) = u.outcome {
            out.failure = o.failure;
            out.light_checked = o
                .checks
                .iter()
                .find(|c| c.check == "light_reflection")
                .map(|c| c.passed);
            return out;
        }
    }
    out
}

fn colours(r: &Run) -> Vec<u8> {
    r.events
        .iter()
        .filter_map(|e| match e {
            Event::Screen(ScreenRequest::Colour { index, .. }) => Some(*index),
            _ => None,
        })
        .collect()
}

#[test]
fn a_lit_convex_face_passes_the_light_step_then_the_challenges_run() {
    let r = run([0.3, 0.15, 0.01], 0, true);
    assert_eq!(colours(&r), vec![0, 1, 2, 3, 4, 5], "{:?}", r.events);
    assert!(
        r.events
            .iter()
            .any(|e| matches!(e, Event::Screen(ScreenRequest::Restore)))
    );
    assert!(
        r.events
            .iter()
            .any(|e| matches!(e, Event::ChallengeStarted { .. })),
        "the blink step started after the light step"
    );
    // Eyes never close here, so the blink times out; the light check itself passed.
    assert_eq!(r.light_checked, Some(true), "{:?}", r.failure);
    // Without presentation reports the request times stand in.
    let r = run([0.3, 0.15, 0.01], 0, false);
    assert_eq!(r.light_checked, Some(true));
}

#[test]
fn a_flat_sheet_a_late_relight_and_a_recording_fail() {
    let flat = run([0.3, 0.3, 0.3], 0, true);
    assert_eq!(flat.failure, Some("light_flat"));
    let late = run([0.3, 0.15, 0.01], 250, true);
    assert_eq!(late.failure, Some("light_late"));
    // No response at all: guided, a second run with other colours, then not live.
    let none = run([0.0, 0.0, 0.0], 0, true);
    assert_eq!(none.failure, Some("light_no_reflection"));
    assert!(none.guidance.contains(&Guidance::ScreenLightWeak));
    assert_eq!(colours(&none).len(), 12, "two runs of six colours");
}

#[test]
fn a_far_face_too_dim_to_read_is_asked_closer_and_the_second_run_waits_for_it() {
    // At 0.2 of the frame the reflection is lost in the noise; once asked, the user comes
    // closer over a second and is lit like anyone else.
    let mut came = None;
    let r = run_with(0, true, |t, asked| {
        if asked {
            let since = *came.get_or_insert(t);
            let size = (0.2 + 0.15 * (t - since) as f32 / 1000.0).min(0.36);
            (
                size,
                if size > 0.3 {
                    [0.3, 0.15, 0.01]
                } else {
                    [0.0; 3]
                },
            )
        } else {
            (0.2, [0.0; 3])
        }
    });
    assert!(r.guidance.contains(&Guidance::TooFar), "{:?}", r.guidance);
    assert!(
        !r.guidance.contains(&Guidance::ScreenLightWeak),
        "{:?}",
        r.guidance
    );
    assert_eq!(colours(&r).len(), 12, "two runs of six colours");
    assert_eq!(r.light_checked, Some(true), "{:?}", r.failure);
    // A user who stays far: asked, never runs again, and the session ends not live.
    let stays = run_with(0, true, |_, _| (0.2, [0.0; 3]));
    assert!(stays.guidance.contains(&Guidance::TooFar));
    assert_eq!(colours(&stays).len(), 6, "{:?}", stays.events);
    assert_eq!(stays.failure, Some("light_no_reflection"));
    assert_ne!(stays.light_checked, Some(true));
}
