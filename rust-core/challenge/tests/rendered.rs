//! End to end on rendered sequences: the synthetic subject → the vision pipeline → the
//! engine. Every genuine script passes its challenge (at two lighting and noise levels), every
//! attack fails with the right reason; the pass/fail matrix and APCER/BPCER are printed (run
//! with `--nocapture`) and written to `target/liveness-engine-report.txt`.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use liveness_challenge::{EngineConfig, Observation, Outcome, Session};
use liveness_protocol::plan::{PlannedStep, Waypoint};
use liveness_protocol::{ChallengeKind, ChallengePlan, Nonce};
use liveness_testkit::{Renderer, Script};
use liveness_vision::{ModelSet, Pipeline, PipelineConfig, Precision};

use ChallengeKind::*;

fn plan(kinds: &[ChallengeKind], follow: Option<&[[f32; 3]]>) -> ChallengePlan {
    let steps: Vec<PlannedStep> = kinds
        .iter()
        .enumerate()
        .map(|(i, &kind)| PlannedStep {
            index: i as u8,
            kind,
            time_limit_ms: 8000,
            follow_path: (kind == FollowText).then(|| {
                follow
                    .unwrap()
                    .iter()
                    .map(|w| Waypoint {
                        t_ms: (w[0] * 1000.0) as u32,
                        x: w[1] as u16,
                        y: w[2] as u16,
                    })
                    .collect()
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

fn script(name: &str) -> Script {
    Script::from_file(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../testkit/subjects")
            .join(format!("{name}.toml")),
    )
    .unwrap()
}

/// Renders `script`, runs it through vision and a session for `kinds`, and ends it as
/// incomplete if the clip runs out first.
fn perform(script: Script, kinds: &[ChallengeKind], models: &ModelSet) -> Outcome {
    perform_as(script, kinds, models, false)
}

/// As `perform`, with the frames delivered mirrored (a front camera's selfie view) when asked.
fn perform_as(
    script: Script,
    kinds: &[ChallengeKind],
    models: &ModelSet,
    mirrored: bool,
) -> Outcome {
    let follow: Option<Vec<[f32; 3]>> = script.follow.as_ref().map(|f| f.waypoints.clone());
    let r = Renderer::new(script);
    let mut pipeline = Pipeline::new(models.clone(), PipelineConfig::default()).unwrap();
    let mut session =
        Session::new(plan(kinds, follow.as_deref()), EngineConfig::default()).unwrap();
    for i in 0..r.frame_count() {
        let img = r.render(i);
        let frame = img.frame().unwrap().with_mirroring(mirrored);
        let analysis = pipeline.process(&frame).unwrap();
        let obs = Observation::from_analysis(r.timestamp_us(i) / 1000, &frame, &analysis);
        if let Some(o) = session.push(&obs).unwrap().outcome {
            return o;
        }
    }
    session.end_incomplete()
}

/// A harder take of the same performance: dimmer, noisier, another seed.
fn harder(mut s: Script) -> Script {
    s.seed += 1000;
    if let Some(k) = s.keys.first_mut() {
        k.brightness = Some(0.7);
        k.noise = Some(4.0);
        k.jpeg = Some(75.0);
    }
    s
}

#[test]
fn genuine_performances_pass_and_attacks_fail_with_the_right_reason() {
    let models = ModelSet::bundled(Precision::Fp32).unwrap();
    let genuine: &[(&str, &[ChallengeKind])] = &[
        ("blink", &[BlinkEyes]),
        ("head_left", &[HeadLeft]),
        ("head_right", &[HeadRight]),
        ("head_up", &[HeadUp]),
        ("head_down", &[HeadDown]),
        ("move_closer", &[MoveTowardsCamera]),
        ("move_away", &[MoveAwayFromCamera]),
        ("smile", &[Smile]),
        ("follow_text", &[FollowText]),
        ("left_then_blink", &[HeadLeft, BlinkEyes]),
    ];
    // (script, plan, acceptable failure reasons): bona fide users doing it wrong, and attacks.
    let rejected: &[(&str, &[ChallengeKind], &[&str], bool)] = &[
        ("blink_too_slow", &[BlinkEyes], &["blink_too_slow"], false),
        (
            "head_left_wrong_direction",
            &[HeadLeft],
            &["wrong_direction"],
            false,
        ),
        (
            "head_left_no_return",
            &[HeadLeft],
            &["incomplete", "timed_out"],
            false,
        ),
        (
            "smile_missing",
            &[Smile],
            &["incomplete", "timed_out"],
            false,
        ),
        (
            "attack_print",
            &[HeadLeft],
            &["three_d_consistency", "incomplete", "timed_out"],
            true,
        ),
        (
            "attack_static_photo",
            &[BlinkEyes],
            &["incomplete", "timed_out"],
            true,
        ),
        (
            "left_then_blink",
            &[BlinkEyes, HeadLeft],
            &["unexpected_motion"],
            true,
        ),
        (
            "attack_screen_replay",
            &[HeadLeft],
            &["incomplete", "timed_out"],
            true,
        ),
        ("attack_two_faces", &[BlinkEyes], &["multiple_faces"], true),
        (
            "attack_face_leaves",
            &[Smile],
            &["face_lost", "no_face"],
            true,
        ),
        ("attack_occluded", &[Smile], &["face_occluded"], true),
        ("too_dark", &[BlinkEyes], &["too_dark"], false),
    ];
    let mut report =
        String::from("script                         plan                      result\n");
    let mut failures = Vec::new();
    let (mut bona_fide, mut bona_fide_rejected) = (0, 0);
    for (name, kinds) in genuine {
        for (take, s) in [("", script(name)), (" (dim, noisy)", harder(script(name)))] {
            let o = perform(s, kinds, &models);
            bona_fide += 1;
            report += &format!(
                "{:<30} {:<25} {}\n",
                format!("{name}{take}"),
                format!("{kinds:?}"),
                if o.passed {
                    "PASS".to_owned()
                } else {
                    format!("FAIL {:?}", o.failure)
                }
            );
            if !o.passed {
                bona_fide_rejected += 1;
                failures.push(format!(
                    "{name}{take} should pass: {:?} {:?}",
                    o.failure, o.checks
                ));
            }
        }
    }
    let (mut attacks, mut attacks_accepted) = (0, 0);
    for (name, kinds, reasons, is_attack) in rejected {
        let o = perform(script(name), kinds, &models);
        if *is_attack {
            attacks += 1;
            attacks_accepted += o.passed as u32;
        }
        report += &format!(
            "{:<30} {:<25} {}\n",
            name,
            format!("{kinds:?}"),
            if o.passed {
                "PASS".to_owned()
            } else {
                format!("FAIL {:?}", o.failure)
            }
        );
        if o.passed || !o.failure.is_some_and(|f| reasons.contains(&f)) {
            failures.push(format!(
                "{name} should fail with one of {reasons:?}: passed={} failure={:?}",
                o.passed, o.failure
            ));
        }
    }
    report += &format!(
        "\nAPCER (attacks accepted) {}/{} = {:.1} %, BPCER (genuine rejected) {}/{} = {:.1} %\n",
        attacks_accepted,
        attacks,
        100.0 * attacks_accepted as f32 / attacks as f32,
        bona_fide_rejected,
        bona_fide,
        100.0 * bona_fide_rejected as f32 / bona_fide as f32
    );
    println!("{report}");
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/liveness-engine-report.txt");
    let _ = std::fs::write(out, &report);
    assert!(failures.is_empty(), "{report}\n{}", failures.join("\n"));
}

#[test]
fn left_and_right_are_the_users_whatever_the_mirroring() {
    let models = ModelSet::bundled(Precision::Fp32).unwrap();
    // The same performance (a turn to the user's left) seen through a mirrored selfie view.
    assert!(perform_as(script("head_left"), &[HeadLeft], &models, true).passed);
    let wrong = perform_as(script("head_left"), &[HeadRight], &models, true);
    assert_eq!(wrong.failure, Some("wrong_direction"));
}
