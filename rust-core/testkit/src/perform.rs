//! Scripts that perform a whole challenge plan: the genuine subject of each challenge
//! (`subjects/<challenge>.toml`), played one after another. Used wherever a server-issued,
//! random plan has to be performed (server tests, the demo, benchmarks).

use liveness_protocol::ChallengePlan;

use crate::script::{Follow, Script, ScriptError};

/// The genuine subject for one challenge, by its protocol name (`HeadLeft`, `BlinkEyes`, …).
pub fn subject(challenge: &str) -> Result<Script, ScriptError> {
    let text = match challenge {
        "HeadLeft" => include_str!("../subjects/head_left.toml"),
        "HeadRight" => include_str!("../subjects/head_right.toml"),
        "HeadUp" => include_str!("../subjects/head_up.toml"),
        "HeadDown" => include_str!("../subjects/head_down.toml"),
        "MoveTowardsCamera" => include_str!("../subjects/move_closer.toml"),
        "MoveAwayFromCamera" => include_str!("../subjects/move_away.toml"),
        "FollowText" => include_str!("../subjects/follow_text.toml"),
        "BlinkEyes" => include_str!("../subjects/blink.toml"),
        "Smile" => include_str!("../subjects/smile.toml"),
        "Neutral" => include_str!("../subjects/neutral.toml"),
        other => {
            return Err(ScriptError::Invalid(format!(
                "no subject performs `{other}`"
            )));
        }
    };
    Script::parse(text)
}

/// One script performing `challenges` in order. A `FollowText` step follows `follow_path`
/// (the plan's waypoints: seconds, x and y in thousandths of the preview); it must come first,
/// because the text starts moving when its step starts and only the first step's start is
/// known before the session runs (after the neutral baseline).
pub fn performing(
    challenges: &[&str],
    follow_path: Option<&[[f32; 3]]>,
) -> Result<Script, ScriptError> {
    let mut out: Option<Script> = None;
    for (i, challenge) in challenges.iter().enumerate() {
        let mut part = subject(challenge)?;
        if *challenge == "FollowText" {
            if i != 0 {
                return Err(ScriptError::Invalid(
                    "FollowText can only be performed as the first challenge".into(),
                ));
            }
            let path = follow_path.ok_or_else(|| {
                ScriptError::Invalid("FollowText needs the plan's follow path".into())
            })?;
            let follow: &mut Follow = part
                .follow
                .as_mut()
                .ok_or_else(|| ScriptError::Invalid("the FollowText subject has no path".into()))?;
            follow.waypoints = path.to_vec();
            let end = path.last().map_or(0.0, |w| w[0]);
            part.duration = part.duration.max(follow.start + follow.lag + end + 1.0);
        }
        out = Some(match out {
            None => part,
            Some(mut whole) => {
                let offset = whole.duration;
                whole.keys.extend(part.keys.into_iter().map(|mut k| {
                    k.t += offset;
                    k
                }));
                whole.duration += part.duration;
                whole
            }
        });
    }
    let mut script = out.ok_or_else(|| ScriptError::Invalid("no challenge to perform".into()))?;
    script.name = format!("performing {}", challenges.join(", "));
    script.validate()?;
    Ok(script)
}

/// When the engine's baseline ends on a performer's script (0.5 s of neutral face from the
/// first frame) — where the light step, when the plan has one, begins.
const BASELINE_END_S: f32 = 0.5;

/// Holds the performer neutral for `hold` seconds from `at`: every key after it, and a
/// FollowText path's start, moves later.
pub fn hold_neutral(script: &mut Script, at: f32, hold: f32) {
    for k in &mut script.keys {
        if k.t >= at {
            k.t += hold;
        }
    }
    if let Some(f) = &mut script.follow {
        f.start += hold;
    }
    script.duration += hold;
}

/// The genuine subject performing a server-issued plan, FollowText path included, and
/// holding still through the light step when the plan has one.
pub fn performing_plan(plan: &ChallengePlan) -> Result<Script, ScriptError> {
    let mut script = performing_plan_steps(plan)?;
    hold_for_light(&mut script, plan);
    Ok(script)
}

/// Holds the performer still through the plan's light step (none without one). Apply it
/// after anything that rescales the script's times: the step lasts a fixed time.
pub fn hold_for_light(script: &mut Script, plan: &ChallengePlan) {
    if plan.light.is_some() {
        // The step starts on the frame after the baseline's last and lasts a fixed time.
        let hold = liveness_protocol::light::STEP_MS as f32 / 1000.0 + 1.0 / script.fps as f32;
        hold_neutral(script, BASELINE_END_S, hold);
    }
}

/// The plan's challenges only, with no light step.
pub fn performing_plan_steps(plan: &ChallengePlan) -> Result<Script, ScriptError> {
    let names: Vec<&str> = plan.steps.iter().map(|s| s.kind.name()).collect();
    let follow: Option<Vec<[f32; 3]>> = plan
        .steps
        .first()
        .and_then(|s| s.follow_path.as_ref())
        .map(|p| {
            p.iter()
                .map(|w| [w.t_ms as f32 / 1000.0, f32::from(w.x), f32::from(w.y)])
                .collect()
        });
    performing(&names, follow.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_play_one_after_another() {
        let s = performing(&["HeadLeft", "BlinkEyes"], None).unwrap();
        assert_eq!(s.duration, 3.5 + 2.5);
        // The blink's keys come after the turn's.
        let first_blink = s.keys.iter().find(|k| k.eyes == Some(1.0)).unwrap();
        assert!((first_blink.t - (3.5 + 1.28)).abs() < 1e-4);
        // Frame 54 is 1.8 s in at 30 fps, while the turn is held.
        let yaw_at_turn = s.state(54).yaw;
        assert!(yaw_at_turn > 20.0, "{yaw_at_turn}");
        assert!(performing(&["Wave"], None).is_err());
        assert!(performing(&["HeadLeft", "FollowText"], Some(&[[0.0, 500.0, 500.0]])).is_err());
        assert!(performing(&[], None).is_err());
    }
}
