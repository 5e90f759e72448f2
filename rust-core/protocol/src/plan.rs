//! The challenge plan: which challenges, in which order, with which time limits and (for
//! FollowText) which path — derived from the server's nonce and the session options alone, so
//! the server can recompute exactly what the device was asked to do.
//!
//! # Derivation (version 1)
//! Integer arithmetic only, so every platform gets the same plan.
//!
//! 1. `canonical = "action=<Action>;kinds=<K1>,<K2>,…;count=<n>;step_ms=<ms>"` where the kinds
//!    are those drawn from in canonical order ([`ChallengeKind::ALL`]) and `count`/`step_ms`
//!    are the effective values after defaults.
//! 2. A stream of 32-bit words: block `i` (i = 0, 1, …) is
//!    `SHA-256("liveness-plan/v1" ‖ 0x00 ‖ nonce ‖ canonical ‖ u32_be(i))`, read as eight
//!    big-endian `u32` words in order.
//! 3. `uniform(n)`: draw words until `w < 2^32 − (2^32 mod n)`; return `w mod n`.
//! 4. Kinds: partial Fisher–Yates over the canonical list: for `i in 0..count`,
//!    `j = i + uniform(len − i)`, swap `i` and `j`; step `i` is the kind now at `i`.
//! 5. Then, for each FollowText step in order, its path: waypoint 0 is `(t=0, x=500, y=500)`;
//!    each of the next four tries up to 16 times `x = 150 + uniform(701)`,
//!    `y = 350 + uniform(301)` until `|x − x_prev| ≥ 250` (after 16 misses: `x = 150` if
//!    `x_prev ≥ 500` else `850`, with the `y` of the last try), then `t = t_prev + 900 +
//!    100·uniform(6)`. Coordinates are thousandths of the preview's width and height, origin
//!    top-left, as the user sees the screen.
//! 6. Time limits: `step_ms` per step; a FollowText step gets its path's duration on top.
//! 7. With the light step (the default), the plan is version 2 and carries
//!    [`LightSpec`]; the steps above are drawn exactly the same. The colours themselves are
//!    drawn on the device (see [`crate::light`]).

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::encoding::{Nonce, parse_strict_json};
use crate::error::{ProtocolError, Result};
use crate::light::LightSpec;
use crate::options::{ChallengeKind, SessionOptions, limits};

/// The newest plan version: 2 adds the screen-light step. A plan without it is written as
/// version 1, byte for byte what older servers and devices know.
pub const PLAN_VERSION: u32 = 2;
const PLAN_VERSION_WITHOUT_LIGHT: u32 = 1;
const DOMAIN: &[u8] = b"liveness-plan/v1";
const FOLLOW_WAYPOINTS: usize = 5;
const MAX_PLAN_BYTES: usize = 16 * 1024;
const MAX_WAYPOINTS: usize = 16;

/// A point of the FollowText path: where the text is `t_ms` after the step starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Waypoint {
    pub t_ms: u32,
    /// Thousandths of the preview width, from the left edge as the user sees it.
    pub x: u16,
    /// Thousandths of the preview height, from the top.
    pub y: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlannedStep {
    pub index: u8,
    pub kind: ChallengeKind,
    pub time_limit_ms: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_path: Option<Vec<Waypoint>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengePlan {
    pub version: u32,
    pub nonce: Nonce,
    pub steps: Vec<PlannedStep>,
    pub total_time_limit_ms: u32,
    /// The screen-light step (version 2 plans); absent when the session runs without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub light: Option<LightSpec>,
}

/// The canonical option string of step 1 of the derivation (validated options).
pub fn canonical_options(options: &SessionOptions) -> Result<String> {
    options.validate()?;
    let kinds: Vec<&str> = options
        .kinds_to_draw_from()?
        .into_iter()
        .map(ChallengeKind::name)
        .collect();
    Ok(format!(
        "action={};kinds={};count={};step_ms={}",
        options.action.name(),
        kinds.join(","),
        options.challenge_count()?,
        options.step_time_limit_ms()?
    ))
}

/// Derives the plan for `nonce` and `options` (see the module documentation).
pub fn derive_plan(nonce: &Nonce, options: &SessionOptions) -> Result<ChallengePlan> {
    let canonical = canonical_options(options)?;
    let mut kinds = options.kinds_to_draw_from()?;
    let count = usize::from(options.challenge_count()?);
    let step_ms = options.step_time_limit_ms()?;
    let mut stream = WordStream::new(DOMAIN, nonce, canonical.as_bytes());

    for i in 0..count {
        let j = i + stream.uniform((kinds.len() - i) as u32) as usize;
        kinds.swap(i, j);
    }
    let mut steps = Vec::with_capacity(count);
    for (index, &kind) in kinds.iter().take(count).enumerate() {
        steps.push(PlannedStep {
            index: index as u8,
            kind,
            time_limit_ms: step_ms,
            follow_path: None,
        });
    }
    for step in steps
        .iter_mut()
        .filter(|s| s.kind == ChallengeKind::FollowText)
    {
        let path = follow_path(&mut stream);
        step.time_limit_ms += path.last().map_or(0, |w| w.t_ms);
        step.follow_path = Some(path);
    }
    let total_time_limit_ms = steps.iter().map(|s| s.time_limit_ms).sum();
    let light = options.light_challenge().then(LightSpec::current);
    Ok(ChallengePlan {
        version: if light.is_some() {
            PLAN_VERSION
        } else {
            PLAN_VERSION_WITHOUT_LIGHT
        },
        nonce: *nonce,
        steps,
        total_time_limit_ms,
        light,
    })
}

fn follow_path(stream: &mut WordStream) -> Vec<Waypoint> {
    let mut path = vec![Waypoint {
        t_ms: 0,
        x: 500,
        y: 500,
    }];
    while path.len() < FOLLOW_WAYPOINTS {
        let prev = path[path.len() - 1];
        let mut next = None;
        let mut y = prev.y;
        for _ in 0..16 {
            let x = 150 + stream.uniform(701) as u16;
            y = 350 + stream.uniform(301) as u16;
            if x.abs_diff(prev.x) >= 250 {
                next = Some(x);
                break;
            }
        }
        let x = next.unwrap_or(if prev.x >= 500 { 150 } else { 850 });
        let t_ms = prev.t_ms + 900 + 100 * stream.uniform(6);
        path.push(Waypoint { t_ms, x, y });
    }
    path
}

/// SHA-256 in counter mode over a domain, the nonce and a context (the canonical options for
/// the plan, the device's salt for the light sequence).
pub(crate) struct WordStream<'a> {
    domain: &'a [u8],
    nonce: &'a Nonce,
    canonical: &'a [u8],
    counter: u32,
    block: [u8; 32],
    used: usize,
}

impl<'a> WordStream<'a> {
    pub(crate) fn new(domain: &'a [u8], nonce: &'a Nonce, canonical: &'a [u8]) -> Self {
        Self {
            domain,
            nonce,
            canonical,
            counter: 0,
            block: [0; 32],
            used: 8,
        }
    }

    fn next_word(&mut self) -> u32 {
        if self.used == 8 {
            let mut h = Sha256::new();
            h.update(self.domain);
            h.update([0u8]);
            h.update(self.nonce.0);
            h.update(self.canonical);
            h.update(self.counter.to_be_bytes());
            self.block = h.finalize().into();
            self.counter = self.counter.wrapping_add(1);
            self.used = 0;
        }
        let at = self.used * 4;
        self.used += 1;
        u32::from_be_bytes([
            self.block[at],
            self.block[at + 1],
            self.block[at + 2],
            self.block[at + 3],
        ])
    }

    /// Uniform in `0..n` without modulo bias; `n` must be at least 1.
    pub(crate) fn uniform(&mut self, n: u32) -> u32 {
        let n = u64::from(n.max(1));
        let limit = (1u64 << 32) - ((1u64 << 32) % n);
        loop {
            let w = u64::from(self.next_word());
            if w < limit {
                return (w % n) as u32;
            }
        }
    }
}

impl ChallengePlan {
    /// Reads a plan as the device receives it, checking its structure.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let plan: Self = parse_strict_json("challenge plan", bytes, MAX_PLAN_BYTES)?;
        plan.validate()?;
        Ok(plan)
    }

    /// Structural checks: version, step count and numbering, path bounds, time limits.
    pub fn validate(&self) -> Result<()> {
        match (self.version, &self.light) {
            (PLAN_VERSION_WITHOUT_LIGHT, None) => {}
            (PLAN_VERSION, Some(light)) => light.validate()?,
            (PLAN_VERSION_WITHOUT_LIGHT | PLAN_VERSION, _) => {
                return Err(ProtocolError::invalid(
                    "light",
                    "a version 2 plan has the light step and a version 1 plan does not",
                ));
            }
            (found, _) => {
                return Err(ProtocolError::UnsupportedFormatVersion {
                    found: found.to_string(),
                    supported: PLAN_VERSION,
                });
            }
        }
        let max = usize::from(limits::MAX_CHALLENGES);
        if self.steps.is_empty() || self.steps.len() > max {
            return Err(ProtocolError::invalid(
                "steps",
                format!("a plan has 1..={max} steps, got {}", self.steps.len()),
            ));
        }
        let mut total = 0u32;
        for (i, step) in self.steps.iter().enumerate() {
            if usize::from(step.index) != i {
                return Err(ProtocolError::invalid(
                    "steps",
                    "indexes must be 0, 1, 2, …",
                ));
            }
            if self.steps[..i].iter().any(|s| s.kind == step.kind) {
                return Err(ProtocolError::invalid("steps", "a kind appears twice"));
            }
            match (&step.follow_path, step.kind) {
                (Some(path), ChallengeKind::FollowText) => check_path(path)?,
                (None, ChallengeKind::FollowText) => {
                    return Err(ProtocolError::invalid(
                        "follow_path",
                        "FollowText needs a path",
                    ));
                }
                (Some(_), _) => {
                    return Err(ProtocolError::invalid(
                        "follow_path",
                        "only FollowText has a path",
                    ));
                }
                (None, _) => {}
            }
            if step.time_limit_ms == 0 || step.time_limit_ms > 120_000 {
                return Err(ProtocolError::invalid(
                    "time_limit_ms",
                    "must be 1..=120000",
                ));
            }
            total += step.time_limit_ms;
        }
        if total != self.total_time_limit_ms {
            return Err(ProtocolError::invalid(
                "total_time_limit_ms",
                "is not the sum of the steps' limits",
            ));
        }
        Ok(())
    }
}

fn check_path(path: &[Waypoint]) -> Result<()> {
    if path.len() < 2 || path.len() > MAX_WAYPOINTS {
        return Err(ProtocolError::TooManyItems {
            field: "follow_path",
            max: MAX_WAYPOINTS,
            actual: path.len(),
        });
    }
    let in_bounds = path.iter().all(|w| w.x <= 1000 && w.y <= 1000);
    let increasing = path.windows(2).all(|w| w[0].t_ms < w[1].t_ms);
    if !in_bounds || !increasing || path[0].t_ms != 0 {
        return Err(ProtocolError::invalid(
            "follow_path",
            "waypoints must start at t=0, increase in time and stay within 0..=1000",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::Action;

    fn nonce(b: u8) -> Nonce {
        Nonce([b; 32])
    }

    #[test]
    fn same_inputs_same_plan_and_the_nonce_matters() {
        let o = SessionOptions {
            challenge_count: Some(3),
            ..Default::default()
        };
        let a = derive_plan(&nonce(1), &o).unwrap();
        assert_eq!(a, derive_plan(&nonce(1), &o).unwrap());
        assert_eq!(a.steps.len(), 3);
        a.validate().unwrap();
        let differing = (2..40u8)
            .filter(|&b| derive_plan(&nonce(b), &o).unwrap().steps != a.steps)
            .count();
        assert!(differing > 30, "{differing}");
    }

    #[test]
    fn order_of_available_actions_does_not_matter() {
        let mk = |kinds: Vec<ChallengeKind>| SessionOptions {
            available_actions: Some(kinds),
            challenge_count: Some(2),
            ..Default::default()
        };
        use ChallengeKind::*;
        let a = derive_plan(&nonce(7), &mk(vec![Smile, BlinkEyes, HeadLeft])).unwrap();
        let b = derive_plan(&nonce(7), &mk(vec![HeadLeft, Smile, BlinkEyes])).unwrap();
        assert_eq!(a, b);
        for s in &a.steps {
            assert!([Smile, BlinkEyes, HeadLeft].contains(&s.kind));
        }
    }

    #[test]
    fn random_draws_cover_every_kind_roughly_evenly() {
        let o = SessionOptions {
            challenge_count: Some(1),
            ..Default::default()
        };
        let mut counts = std::collections::HashMap::new();
        for b in 0..=255u8 {
            for c in 0..4u8 {
                let mut n = [b; 32];
                n[0] = c;
                let plan = derive_plan(&Nonce(n), &o).unwrap();
                *counts.entry(plan.steps[0].kind).or_insert(0) += 1;
            }
        }
        assert_eq!(counts.len(), 9);
        // 1024 draws over 9 kinds: ~114 each; a biased picker would leave some far below.
        assert!(
            counts.values().all(|&c| (70..=160).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn follow_text_has_a_valid_path_and_longer_limit() {
        let o = SessionOptions {
            action: Action::FollowText,
            ..Default::default()
        };
        for b in 0..64u8 {
            let plan = derive_plan(&nonce(b), &o).unwrap();
            plan.validate().unwrap();
            let step = &plan.steps[0];
            let path = step.follow_path.as_ref().unwrap();
            assert_eq!(path.len(), FOLLOW_WAYPOINTS);
            assert_eq!((path[0].x, path[0].y), (500, 500));
            for w in path.windows(2) {
                assert!(w[0].x.abs_diff(w[1].x) >= 250);
                assert!((900..=1400).contains(&(w[1].t_ms - w[0].t_ms)));
                assert!((150..=850).contains(&w[1].x) && (350..=650).contains(&w[1].y));
            }
            assert_eq!(step.time_limit_ms, 8000 + path[4].t_ms);
        }
    }

    #[test]
    fn tampered_plans_fail_validation() {
        let o = SessionOptions {
            available_actions: Some(vec![ChallengeKind::FollowText, ChallengeKind::Smile]),
            challenge_count: Some(2),
            ..Default::default()
        };
        let plan = derive_plan(&nonce(3), &o).unwrap();
        let json = serde_json::to_vec(&plan).unwrap();
        assert_eq!(ChallengePlan::from_json(&json).unwrap(), plan);

        let mut bad = plan.clone();
        bad.total_time_limit_ms += 1;
        assert!(bad.validate().is_err());
        let mut bad = plan.clone();
        bad.steps[1].kind = bad.steps[0].kind;
        assert!(bad.validate().is_err());
        let mut bad = plan.clone();
        bad.version = 3;
        assert!(matches!(
            bad.validate(),
            Err(ProtocolError::UnsupportedFormatVersion { .. })
        ));
        let mut bad = plan;
        let ft = bad
            .steps
            .iter_mut()
            .find(|s| s.kind == ChallengeKind::FollowText)
            .unwrap();
        ft.follow_path.as_mut().unwrap()[2].x = 1001;
        assert!(bad.validate().is_err());
    }
}
