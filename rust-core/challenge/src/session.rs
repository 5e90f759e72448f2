//! The challenge session: a neutral baseline, then each planned challenge detected relative to
//! that baseline, then checks that need no anti-spoofing model; every frame answers with
//! guidance, a prompt and progress.

use std::sync::Arc;

use liveness_protocol::manifest::{StepRecord, StepResult};
use liveness_protocol::{ChallengeKind, ChallengePlan, FrameRole};

use crate::config::EngineConfig;
use crate::detectors::{Baseline, Detector, Step};
use crate::error::EngineError;
use crate::geometry::homography_residual;
use crate::guidance::{Allow, Debouncer, Guidance, assess};
use crate::light_step::{LightOutcome, LightProgress, LightStep};
use crate::observation::{FaceObservation, Observation};
use crate::temporal::Temporal;
pub use crate::update::{Capture, CheckOutcome, Event, Outcome, Prompt, Update};
use liveness_protocol::light::SALT_BYTES;

enum Phase {
    Baseline {
        since: Option<u64>,
        samples: Vec<FaceObservation>,
    },
    Step {
        index: usize,
        started: u64,
        detector: Detector,
        lost_since: Option<u64>,
        occluded_since: Option<u64>,
        unexpected_since: Option<u64>,
        start_landmarks: Option<Landmarks>,
        peak_landmarks: Option<(f32, Landmarks)>,
    },
    Light(Box<LightStep>),
    Neutral {
        next: usize,
        since: Option<u64>,
        entered: u64,
        /// Face sizes while neutral: a distance step measures from where the user is when
        /// it starts (after "move closer" nobody goes back to where they were).
        sizes: Vec<f32>,
    },
    Done,
}

/// One liveness session over one plan.
pub struct Session {
    plan: ChallengePlan,
    config: EngineConfig,
    phase: Phase,
    baseline: Option<Baseline>,
    debouncer: Debouncer,
    temporal: Temporal,
    start_ms: Option<u64>,
    timeline: Vec<StepRecord>,
    /// (baseline, peak) landmarks of each head-movement step, for the 3-D check.
    parallax: Vec<(Landmarks, Landmarks)>,
    /// (ms since start, yaw, pitch) of the last 400 ms.
    recent: std::collections::VecDeque<[f32; 3]>,
    light_salts: [[u8; SALT_BYTES]; 2],
    light: Option<Box<LightOutcome>>,
    outcome: Option<Outcome>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("steps", &self.plan.steps.len())
            .field("done", &self.outcome.is_some())
            .finish_non_exhaustive()
    }
}

type Landmarks = Arc<Vec<[f32; 2]>>;

/// Below this residual (relative to the landmark spread) two poses of a head turn fit one
/// plane: a flat image. (A change of distance is not checked: a real face coming closer
/// changes its perspective, but on the synthetic subject's camera FaceMesh's own
/// scale-dependent noise, 0.005–0.007 for a print moved 1.6× closer, is as large as that
/// change, 0.008–0.011; see the README's limits.)
pub const FLAT_RESIDUAL: f32 = 0.012;

impl Session {
    pub fn new(plan: ChallengePlan, config: EngineConfig) -> Result<Self, EngineError> {
        config.validate()?;
        plan.validate()
            .map_err(|e| EngineError::Plan(e.to_string()))?;
        let plan_nonce = plan.nonce;
        Ok(Self {
            plan,
            config,
            phase: Phase::Baseline {
                since: None,
                samples: Vec::new(),
            },
            baseline: None,
            debouncer: Debouncer::default(),
            temporal: Temporal::default(),
            start_ms: None,
            timeline: Vec::new(),
            parallax: Vec::new(),
            recent: Default::default(),
            light_salts: default_salts(&plan_nonce),
            light: None,
            outcome: None,
        })
    }

    /// The two salts the light step draws its colours with (a second run gets the second).
    /// Hosts pass fresh random ones; without this call they come from the nonce, which makes
    /// the colours as predictable as the plan (tests and replays only).
    pub fn with_light_salts(mut self, salts: [[u8; SALT_BYTES]; 2]) -> Self {
        self.light_salts = salts;
        self
    }

    /// Whether the next frames should carry a light tile ([`Observation::with_light_tile`]).
    pub fn wants_light_tiles(&self) -> bool {
        matches!(self.phase, Phase::Light(_))
    }

    /// The host's report that light colour `index` reached the screen at `t_ms` (the
    /// frames' clock).
    pub fn screen_presented(&mut self, index: u8, t_ms: u64) {
        if let Phase::Light(step) = &mut self.phase {
            step.presented(index, t_ms);
        }
    }

    /// Whether the next frames should carry the iris model's lid opening: during the
    /// baseline (to learn the open level) and around a blink step. The iris model costs
    /// more than the rest of the pipeline, so hosts switch it on only when asked.
    pub fn wants_lids(&self) -> bool {
        match &self.phase {
            Phase::Baseline { .. } => true,
            Phase::Neutral { next, .. } => {
                self.plan.steps.get(*next).map(|s| s.kind) == Some(ChallengeKind::BlinkEyes)
            }
            Phase::Step { detector, .. } => detector.wants_lids(),
            Phase::Light(_) | Phase::Done => false,
        }
    }

    pub fn outcome(&self) -> Option<&Outcome> {
        self.outcome.as_ref()
    }

    /// Ends a session whose input stopped (the user cancelled, the clip ended) before an
    /// outcome: failed, with the guidance showing at the time as the reason when there is one.
    pub fn end_incomplete(&mut self) -> Outcome {
        // What the step under way came closest to says most (a blink held too long), then
        // the guidance on screen, then plain "incomplete".
        let reason = match &self.phase {
            Phase::Step { detector, .. } => detector.timeout_reason(),
            Phase::Light(step) => step.timeout_reason(),
            _ => None,
        }
        .or_else(|| self.debouncer.shown().map(Guidance::code))
        .unwrap_or("incomplete");
        self.end_early(reason)
    }

    /// Ends the session now, failed with `reason` (a stable code, e.g. `timed_out` when the
    /// host runs out of time to upload), unless it already has an outcome.
    pub fn end_early(&mut self, reason: &'static str) -> Outcome {
        if let Some(o) = &self.outcome {
            return o.clone();
        }
        self.close_open_step(reason);
        let outcome = self.conclude(Some(reason));
        self.phase = Phase::Done;
        self.outcome = Some(outcome.clone());
        outcome
    }

    /// The step under way when the session ends outside it ends here, failed, so the
    /// timeline names every step whose frames the evidence may hold.
    fn close_open_step(&mut self, reason: &'static str) {
        if let Phase::Step { index, started, .. } = self.phase {
            let step = &self.plan.steps[index];
            let end = self.temporal.last_t.unwrap_or(started).max(started);
            self.timeline.push(StepRecord {
                index: step.index,
                kind: step.kind,
                started_ms: self.rel(started),
                ended_ms: self.rel(end),
                result: StepResult::Failed,
                reason: Some(reason.to_owned()),
            });
        }
    }

    fn rel(&self, t: u64) -> u32 {
        t.saturating_sub(self.start_ms.unwrap_or(t))
            .min(u64::from(u32::MAX)) as u32
    }

    /// Feeds one frame's observation.
    pub fn push(&mut self, obs: &Observation) -> Result<Update, EngineError> {
        if self.outcome.is_some() {
            return Err(EngineError::Ended);
        }
        let t = obs.t_ms;
        let start = *self.start_ms.get_or_insert(t);
        self.temporal.observe(obs);
        let mut events = Vec::new();
        let mut captures = Vec::new();
        let c = self.config.clone();
        let n = self.plan.steps.len() as f32;
        // Shown when the picture is fine but the user moves during the baseline.
        let mut hint = None;
        // Head pose over the last 400 ms, for "hold still".
        // Relative to the start: camera clocks in Unix milliseconds do not fit an f32.
        let since_start = t.saturating_sub(start) as f32;
        if let Some(f) = &obs.face {
            self.recent.push_back([since_start, f.yaw, f.pitch]);
        }
        while self
            .recent
            .front()
            .is_some_and(|r| since_start - r[0] > 400.0)
        {
            self.recent.pop_front();
        }

        if t.saturating_sub(start) > u64::from(c.session_time_limit_ms) {
            return Ok(self.fail("timed_out", events));
        }

        let (allow, prompt, step_progress, session_progress) = match &mut self.phase {
            Phase::Baseline { since, samples } => {
                let raw = assess(obs, &c, Allow::default());
                let still = self.recent.len() < 2 || {
                    let spread = |k: usize| {
                        let v = self.recent.iter().map(|r| r[k]);
                        v.clone().fold(f32::MIN, f32::max) - v.fold(f32::MAX, f32::min)
                    };
                    spread(1) < 4.0 && spread(2) < 4.0
                };
                match (&obs.face, raw.is_none() && still) {
                    (Some(f), true) => {
                        let began = *since.get_or_insert(t);
                        samples.push(f.clone());
                        let quality = f.sharpness * (1.0 - f.occlusion);
                        captures.push(Capture {
                            role: FrameRole::Photo,
                            challenge_index: None,
                            quality,
                        });
                        // The steps measured against this baseline keep a frame of it as their
                        // reference, so the server compares the peak with what the device did.
                        for step in self
                            .plan
                            .steps
                            .iter()
                            .filter(|s| !measures_from_start(s.kind))
                        {
                            captures.push(Capture {
                                role: FrameRole::Baseline,
                                challenge_index: Some(step.index),
                                quality,
                            });
                        }
                        let p = (t - began) as f32 / c.baseline_ms as f32;
                        if t - began >= u64::from(c.baseline_ms) {
                            self.baseline = Some(Baseline::from(samples));
                            events.push(Event::BaselineCaptured);
                            self.phase = if self.plan.light.is_some() {
                                Phase::Light(Box::new(LightStep::new(
                                    self.plan.nonce,
                                    self.light_salts,
                                )))
                            } else {
                                Phase::Neutral {
                                    next: 0,
                                    since: Some(t),
                                    entered: t,
                                    sizes: vec![f.face_size],
                                }
                            };
                        }
                        (Allow::default(), Prompt::LookAtCamera, p.min(1.0), 0.0)
                    }
                    (face, _) => {
                        if face.is_some() && raw.is_none() {
                            hint = Some(Guidance::HoldStill);
                        }
                        *since = None;
                        samples.clear();
                        (Allow::default(), Prompt::LookAtCamera, 0.0, 0.0)
                    }
                }
            }
            Phase::Light(step) => {
                let usable = obs.face_count == 1 && assess(obs, &c, Allow::default()).is_none();
                match step.push(obs, usable, &c) {
                    LightProgress::Running {
                        screen,
                        guidance,
                        progress,
                    } => {
                        events.extend(screen.map(Event::Screen));
                        hint = guidance;
                        (Allow::default(), Prompt::LightCheck, progress, 0.0)
                    }
                    LightProgress::Done { screen, outcome } => {
                        events.extend(screen.map(Event::Screen));
                        let failure = outcome.judgement.reason;
                        self.light = Some(outcome);
                        if let Some(reason) = failure {
                            return Ok(self.fail(reason, events));
                        }
                        self.phase = Phase::Neutral {
                            next: 0,
                            since: Some(t),
                            entered: t,
                            sizes: obs.face.iter().map(|f| f.face_size).collect(),
                        };
                        (Allow::default(), Prompt::ReturnToCenter, 1.0, 0.0)
                    }
                }
            }
            Phase::Neutral {
                next,
                since,
                entered,
                sizes,
            } => {
                let (next, entered) = (*next, *entered);
                let mut b = self.baseline.clone().ok_or(EngineError::Ended)?;
                let neutral =
                    obs.face.as_ref().is_some_and(|f| b.is_neutral(f, &c)) && obs.face_count == 1;
                if neutral {
                    sizes.extend(obs.face.as_ref().map(|f| f.face_size));
                } else {
                    *since = None;
                    sizes.clear();
                }
                if !sizes.is_empty() {
                    b.face_size = crate::detectors::median(sizes.clone());
                }
                let ready = neutral && t.saturating_sub(*since.get_or_insert(t)) >= 150;
                if ready {
                    let step = &self.plan.steps[next];
                    let path = step.follow_path.as_ref().map(|p| {
                        p.iter()
                            .map(|w| [w.t_ms as f32, f32::from(w.x), f32::from(w.y)])
                            .collect()
                    });
                    let detector = Detector::new(step.kind, &b, &c, path);
                    events.push(Event::ChallengeStarted {
                        index: step.index,
                        kind: step.kind,
                    });
                    if measures_from_start(step.kind) {
                        captures.push(Capture {
                            role: FrameRole::Baseline,
                            challenge_index: Some(step.index),
                            quality: 1.0,
                        });
                    }
                    let landmarks = obs.face.as_ref().and_then(|f| f.landmarks.clone());
                    self.phase = Phase::Step {
                        index: next,
                        started: t,
                        detector,
                        lost_since: None,
                        occluded_since: None,
                        unexpected_since: None,
                        start_landmarks: landmarks,
                        peak_landmarks: None,
                    };
                    let kind = step.kind;
                    (
                        allow_for(kind),
                        Prompt::Challenge {
                            index: next as u8,
                            kind,
                            target: None,
                        },
                        0.0,
                        next as f32 / n,
                    )
                } else if t.saturating_sub(entered) > 5000 {
                    return Ok(self.fail("not_neutral", events));
                } else {
                    (
                        Allow {
                            any_distance: true,
                            off_centre: true,
                        },
                        Prompt::ReturnToCenter,
                        0.0,
                        next as f32 / n,
                    )
                }
            }
            Phase::Step {
                index,
                started,
                detector,
                lost_since,
                occluded_since,
                unexpected_since,
                start_landmarks,
                peak_landmarks,
            } => {
                let (i, step_start) = (*index, *started);
                let step = self.plan.steps[i].clone();
                let b = self.baseline.clone().ok_or(EngineError::Ended)?;
                let elapsed = t.saturating_sub(step_start);
                let prompt = Prompt::Challenge {
                    index: step.index,
                    kind: step.kind,
                    target: detector.target(elapsed),
                };
                if elapsed > u64::from(step.time_limit_ms) {
                    // Out of time: failed with what the user came closest to when that says
                    // more (a blink held too long), else timed out.
                    let (result, reason) = match detector.timeout_reason() {
                        Some(r) => (StepResult::Failed, r),
                        None => (StepResult::TimedOut, "timed_out"),
                    };
                    return Ok(self.finish_step(
                        t,
                        i,
                        step_start,
                        result,
                        Some(reason),
                        events,
                        captures,
                    ));
                }
                let face = match (&obs.face, obs.face_count) {
                    (Some(f), 1) => f,
                    (_, count) => {
                        let lost = t.saturating_sub(*lost_since.get_or_insert(t));
                        if count > 1 && lost > 300 {
                            return Ok(self.finish_step(
                                t,
                                i,
                                step_start,
                                StepResult::Failed,
                                Some("multiple_faces"),
                                events,
                                captures,
                            ));
                        }
                        if lost > 1000 {
                            return Ok(self.finish_step(
                                t,
                                i,
                                step_start,
                                StepResult::Failed,
                                Some("face_lost"),
                                events,
                                captures,
                            ));
                        }
                        let sp = (i as f32) / n;
                        return Ok(self.update(
                            t,
                            obs,
                            allow_for(step.kind),
                            prompt,
                            0.0,
                            sp,
                            events,
                            captures,
                        ));
                    }
                };
                *lost_since = None;
                // An occluded face's measurements (pose included) cannot be trusted: wait, and
                // fail if it stays covered.
                if face.occlusion > c.max_occlusion {
                    if t.saturating_sub(*occluded_since.get_or_insert(t)) > 1000 {
                        return Ok(self.finish_step(
                            t,
                            i,
                            step_start,
                            StepResult::Failed,
                            Some("face_occluded"),
                            events,
                            captures,
                        ));
                    }
                    let sp = (i as f32) / n;
                    return Ok(self.update(
                        t,
                        obs,
                        allow_for(step.kind),
                        prompt,
                        0.0,
                        sp,
                        events,
                        captures,
                    ));
                }
                *occluded_since = None;
                let turned = (face.yaw - b.yaw).abs() > c.unexpected_turn_deg
                    || (face.pitch - b.pitch).abs() > c.unexpected_turn_deg;
                if !detector.is_head_movement() && turned {
                    if t.saturating_sub(*unexpected_since.get_or_insert(t)) >= u64::from(c.hold_ms)
                    {
                        return Ok(self.finish_step(
                            t,
                            i,
                            step_start,
                            StepResult::Failed,
                            Some("unexpected_motion"),
                            events,
                            captures,
                        ));
                    }
                } else {
                    *unexpected_since = None;
                }
                match detector.observe(elapsed, face, &b, &c) {
                    Step::Failed(reason) => {
                        return Ok(self.finish_step(
                            t,
                            i,
                            step_start,
                            StepResult::Failed,
                            Some(reason),
                            events,
                            captures,
                        ));
                    }
                    Step::Passed => {
                        // Every detector reported its peak frames before passing (held poses
                        // while held, a blink while closed), so nothing is captured here.
                        // Only head movements show parallax; a blink or a smile fits one plane
                        // on a real face too.
                        if let (true, Some(a), Some((_, p))) = (
                            detector.is_head_movement(),
                            start_landmarks.clone(),
                            peak_landmarks.clone(),
                        ) {
                            self.parallax.push((a, p));
                        }
                        return Ok(self.finish_step(
                            t,
                            i,
                            step_start,
                            StepResult::Passed,
                            None,
                            events,
                            captures,
                        ));
                    }
                    Step::Peak(p, quality) => {
                        // The 3-D check compares the baseline with the largest excursion.
                        if peak_landmarks.as_ref().is_none_or(|(q, _)| quality > *q)
                            && let Some(l) = &face.landmarks
                        {
                            *peak_landmarks = Some((quality, l.clone()));
                        }
                        captures.push(Capture {
                            role: FrameRole::ChallengePeak,
                            challenge_index: Some(step.index),
                            quality,
                        });
                        (allow_for(step.kind), prompt, p, (i as f32 + p) / n)
                    }
                    Step::Pending(p) => (allow_for(step.kind), prompt, p, (i as f32 + p) / n),
                }
            }
            Phase::Done => return Err(EngineError::Ended),
        };
        Ok(self.update_with(
            t,
            obs,
            allow,
            prompt,
            step_progress,
            session_progress,
            events,
            captures,
            hint,
        ))
    }

    #[allow(clippy::too_many_arguments)]
    fn update(
        &mut self,
        t: u64,
        obs: &Observation,
        allow: Allow,
        prompt: Prompt,
        step_progress: f32,
        session_progress: f32,
        events: Vec<Event>,
        captures: Vec<Capture>,
    ) -> Update {
        self.update_with(
            t,
            obs,
            allow,
            prompt,
            step_progress,
            session_progress,
            events,
            captures,
            None,
        )
    }

    /// `hint` shows when the picture itself has no problem.
    #[allow(clippy::too_many_arguments)]
    fn update_with(
        &mut self,
        t: u64,
        obs: &Observation,
        allow: Allow,
        prompt: Prompt,
        step_progress: f32,
        session_progress: f32,
        events: Vec<Event>,
        captures: Vec<Capture>,
        hint: Option<Guidance>,
    ) -> Update {
        let raw = assess(obs, &self.config, allow).or(hint);
        let guidance = self.debouncer.update(t, raw, self.config.debounce_ms);
        Update {
            guidance,
            prompt,
            step_progress,
            session_progress,
            events,
            captures,
            outcome: self.outcome.clone(),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn finish_step(
        &mut self,
        t: u64,
        i: usize,
        started: u64,
        result: StepResult,
        reason: Option<&'static str>,
        mut events: Vec<Event>,
        captures: Vec<Capture>,
    ) -> Update {
        let step = self.plan.steps[i].clone();
        self.timeline.push(StepRecord {
            index: step.index,
            kind: step.kind,
            started_ms: self.rel(started),
            ended_ms: self.rel(t),
            result,
            reason: reason.map(str::to_owned),
        });
        events.push(Event::ChallengeFinished {
            index: step.index,
            kind: step.kind,
            result,
            reason,
        });
        if result != StepResult::Passed {
            // The step is in the timeline already.
            self.phase = Phase::Done;
            let mut u = self.fail(reason.unwrap_or("challenge_failed"), events);
            u.captures = captures;
            return u;
        }
        if i + 1 < self.plan.steps.len() {
            self.phase = Phase::Neutral {
                next: i + 1,
                since: None,
                entered: t,
                sizes: Vec::new(),
            };
            let n = self.plan.steps.len() as f32;
            Update {
                guidance: self.debouncer.shown(),
                prompt: Prompt::ReturnToCenter,
                step_progress: 1.0,
                session_progress: (i + 1) as f32 / n,
                events,
                captures,
                outcome: None,
            }
        } else {
            let outcome = self.conclude(None);
            events.push(Event::Finished {
                passed: outcome.passed,
            });
            self.phase = Phase::Done;
            self.outcome = Some(outcome.clone());
            Update {
                guidance: None,
                prompt: Prompt::Done,
                step_progress: 1.0,
                session_progress: 1.0,
                events,
                captures,
                outcome: Some(outcome),
            }
        }
    }

    fn fail(&mut self, reason: &'static str, mut events: Vec<Event>) -> Update {
        self.close_open_step(reason);
        let outcome = self.conclude(Some(reason));
        events.push(Event::Finished { passed: false });
        self.phase = Phase::Done;
        self.outcome = Some(outcome.clone());
        Update {
            guidance: self.debouncer.shown(),
            prompt: Prompt::Done,
            step_progress: 0.0,
            session_progress: 0.0,
            events,
            captures: Vec::new(),
            outcome: Some(outcome),
        }
    }

    /// The checks that need no anti-spoofing model, and the verdict.
    fn conclude(&self, failure: Option<&'static str>) -> Outcome {
        let mut checks = Vec::new();
        let steps_ok = failure.is_none()
            && self.timeline.len() == self.plan.steps.len()
            && self.timeline.iter().all(|s| s.result == StepResult::Passed);
        checks.push(CheckOutcome {
            check: "challenges",
            passed: steps_ok,
            score: self
                .timeline
                .iter()
                .filter(|s| s.result == StepResult::Passed)
                .count() as f32
                / self.plan.steps.len() as f32,
            reason: failure.map(str::to_owned),
        });
        if self.config.checks.temporal {
            checks.push(self.temporal.outcome());
        }
        if self.config.checks.three_d {
            let residuals: Vec<f32> = self
                .parallax
                .iter()
                .filter_map(|(a, b)| homography_residual(a, b))
                .collect();
            if let Some(best) = residuals.iter().copied().reduce(f32::max) {
                let passed = best >= FLAT_RESIDUAL;
                checks.push(CheckOutcome {
                    check: "three_d_consistency",
                    passed,
                    score: (best / (2.0 * FLAT_RESIDUAL)).min(1.0),
                    reason: (!passed).then(|| format!("landmarks at two poses fit one plane (residual {best:.4}): a flat image")),
                });
            }
        }
        if let Some(light) = &self.light {
            let j = &light.judgement;
            checks.push(CheckOutcome {
                check: liveness_light::CHECK,
                passed: j.passed,
                score: j.score,
                reason: j.reason.map(|r| format!("{r}: {}", j.detail())),
            });
        } else if self.plan.light.is_some() && failure.is_none() {
            // Every step passed, so the light step must have: a plan with light never gets
            // here without it.
            checks.push(CheckOutcome {
                check: liveness_light::CHECK,
                passed: false,
                score: 0.0,
                reason: Some("the light step did not run".into()),
            });
        }
        let passed = checks.iter().all(|c| c.passed);
        let failure = failure.or_else(|| checks.iter().find(|c| !c.passed).map(|c| c.check));
        Outcome {
            passed,
            failure,
            checks,
            timeline: self.timeline.clone(),
            light: self.light.clone(),
        }
    }
}

/// Salts from the nonce alone (see [`Session::with_light_salts`]).
fn default_salts(nonce: &liveness_protocol::Nonce) -> [[u8; SALT_BYTES]; 2] {
    let mut out = [[0u8; SALT_BYTES]; 2];
    for (k, salt) in out.iter_mut().enumerate() {
        for (i, b) in salt.iter_mut().enumerate() {
            *b = nonce.0[(i + 16 * k) % 32] ^ 0x5a;
        }
    }
    out
}

/// Distance steps measure from where the user is when they start; every other step from the
/// session's baseline. Each step's reference frame is kept accordingly.
fn measures_from_start(kind: ChallengeKind) -> bool {
    matches!(
        kind,
        ChallengeKind::MoveTowardsCamera | ChallengeKind::MoveAwayFromCamera
    )
}

fn allow_for(kind: ChallengeKind) -> Allow {
    Allow {
        any_distance: matches!(
            kind,
            ChallengeKind::MoveTowardsCamera | ChallengeKind::MoveAwayFromCamera
        ),
        off_centre: !matches!(kind, ChallengeKind::BlinkEyes | ChallengeKind::Smile),
    }
}
