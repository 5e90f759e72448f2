//! The challenge session: a neutral baseline, then each planned challenge detected relative to
//! that baseline, then checks that need no anti-spoofing model; every frame answers with
//! guidance, a prompt and progress.

use std::sync::Arc;

use liveness_protocol::manifest::{StepRecord, StepResult};
use liveness_protocol::{ChallengeKind, ChallengePlan, FrameRole};

use crate::config::EngineConfig;
use crate::error::EngineError;
use crate::geometry::homography_residual;
use crate::guidance::{Allow, Debouncer, Guidance, assess};
use crate::observation::{FaceObservation, Observation};

/// What the user is asked to do now.
#[derive(Debug, Clone, PartialEq)]
pub enum Prompt {
    /// Look at the camera, neutral, while the baseline is taken.
    LookAtCamera,
    /// Perform challenge `index` of the plan; for FollowText, where the text is now
    /// (thousandths of the screen).
    Challenge {
        index: u8,
        kind: ChallengeKind,
        target: Option<[f32; 2]>,
    },
    /// Come back to a neutral pose before the next challenge.
    ReturnToCenter,
    Done,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    BaselineCaptured,
    ChallengeStarted {
        index: u8,
        kind: ChallengeKind,
    },
    ChallengeFinished {
        index: u8,
        kind: ChallengeKind,
        result: StepResult,
        reason: Option<&'static str>,
    },
    Finished {
        passed: bool,
    },
}

/// Keep this frame as evidence: the evidence store keeps the best (highest `quality`) frame
/// per role and challenge.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Capture {
    pub role: FrameRole,
    pub challenge_index: Option<u8>,
    pub quality: f32,
}

/// The answer to every frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    pub guidance: Option<Guidance>,
    pub prompt: Prompt,
    /// 0..1 within the current challenge, and over the whole session.
    pub step_progress: f32,
    pub session_progress: f32,
    pub events: Vec<Event>,
    pub captures: Vec<Capture>,
    pub outcome: Option<Outcome>,
}

/// One named check's result.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckOutcome {
    pub check: &'static str,
    pub passed: bool,
    pub score: f32,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub passed: bool,
    /// Why it failed (a stable code), when it did.
    pub failure: Option<&'static str>,
    pub checks: Vec<CheckOutcome>,
    pub timeline: Vec<StepRecord>,
}

/// The user's neutral face: medians over the baseline window.
#[derive(Debug, Clone, PartialEq)]
struct Baseline {
    eyes: f32,
    yaw: f32,
    pitch: f32,
    smile: f32,
    face_size: f32,
}

fn median(mut v: Vec<f32>) -> f32 {
    v.sort_by(f32::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

impl Baseline {
    fn from(samples: &[FaceObservation]) -> Self {
        let m = |f: fn(&FaceObservation) -> f32| median(samples.iter().map(f).collect());
        Self {
            eyes: m(FaceObservation::eyes),
            yaw: m(|s| s.yaw),
            pitch: m(|s| s.pitch),
            smile: m(|s| s.smile),
            face_size: m(|s| s.face_size),
        }
    }

    fn is_neutral(&self, f: &FaceObservation, c: &EngineConfig) -> bool {
        let size = f.face_size / self.face_size;
        (f.yaw - self.yaw).abs() < c.yaw_deg * 0.45
            && (f.pitch - self.pitch).abs() < c.pitch_deg * 0.6
            && f.eyes() > self.eyes * c.open_ratio
            && (0.85..1.18).contains(&size)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Axis {
    Yaw,
    Pitch,
}

/// Per-challenge detector state.
#[derive(Debug, Clone)]
enum Detector {
    Blink {
        closed_since: Option<u64>,
    },
    Turn {
        axis: Axis,
        sign: f32,
        threshold: f32,
        reached_since: Option<u64>,
        wrong_since: Option<u64>,
        peak: f32,
        held: bool,
    },
    Ratio {
        of: fn(&FaceObservation) -> f32,
        base: f32,
        target: f32,
        wrong: Option<f32>,
        reached_since: Option<u64>,
        wrong_since: Option<u64>,
    },
    Follow {
        path: Vec<[f32; 3]>,
        samples: Vec<[f32; 2]>,
    },
}

enum Step {
    Pending(f32),
    Peak(f32),
    Passed,
    Failed(&'static str),
}

impl Detector {
    fn new(
        kind: ChallengeKind,
        b: &Baseline,
        c: &EngineConfig,
        path: Option<Vec<[f32; 3]>>,
    ) -> Self {
        let turn = |axis, sign, threshold| Detector::Turn {
            axis,
            sign,
            threshold,
            reached_since: None,
            wrong_since: None,
            peak: 0.0,
            held: false,
        };
        match kind {
            ChallengeKind::BlinkEyes => Detector::Blink { closed_since: None },
            ChallengeKind::HeadLeft => turn(Axis::Yaw, 1.0, c.yaw_deg),
            ChallengeKind::HeadRight => turn(Axis::Yaw, -1.0, c.yaw_deg),
            ChallengeKind::HeadUp => turn(Axis::Pitch, 1.0, c.pitch_deg),
            ChallengeKind::HeadDown => turn(Axis::Pitch, -1.0, c.pitch_deg),
            ChallengeKind::MoveTowardsCamera => Detector::Ratio {
                of: |f| f.face_size,
                base: b.face_size,
                target: c.closer_ratio,
                wrong: Some(c.farther_ratio),
                reached_since: None,
                wrong_since: None,
            },
            ChallengeKind::MoveAwayFromCamera => Detector::Ratio {
                of: |f| f.face_size,
                base: b.face_size,
                target: c.farther_ratio,
                wrong: Some(c.closer_ratio),
                reached_since: None,
                wrong_since: None,
            },
            ChallengeKind::Smile => Detector::Ratio {
                of: |f| f.smile,
                base: b.smile,
                target: c.smile_ratio,
                wrong: None,
                reached_since: None,
                wrong_since: None,
            },
            ChallengeKind::FollowText => Detector::Follow {
                path: path.unwrap_or_default(),
                samples: Vec::new(),
            },
        }
    }

    fn is_head_movement(&self) -> bool {
        matches!(self, Detector::Turn { .. } | Detector::Follow { .. })
    }

    /// `t` is milliseconds since the step started.
    fn observe(&mut self, t: u64, f: &FaceObservation, b: &Baseline, c: &EngineConfig) -> Step {
        let held = |since: &mut Option<u64>, on: bool| {
            if !on {
                *since = None;
                return false;
            }
            t.saturating_sub(*since.get_or_insert(t)) >= u64::from(c.hold_ms)
        };
        match self {
            Detector::Blink { closed_since } => {
                let ratio = f.eyes() / b.eyes.max(1e-6);
                match *closed_since {
                    None if ratio < c.closed_ratio => {
                        *closed_since = Some(t);
                        Step::Peak(0.5)
                    }
                    None => Step::Pending(0.0),
                    Some(since) => {
                        let closed_for = t.saturating_sub(since);
                        if ratio > c.open_ratio {
                            *closed_since = None;
                            if closed_for >= u64::from(c.blink_min_ms) {
                                Step::Passed
                            } else {
                                Step::Pending(0.0)
                            }
                        } else if closed_for > u64::from(c.blink_max_ms) {
                            Step::Failed("blink_too_slow")
                        } else {
                            Step::Pending(0.5)
                        }
                    }
                }
            }
            Detector::Turn {
                axis,
                sign,
                threshold,
                reached_since,
                wrong_since,
                peak,
                held: was_held,
            } => {
                let raw = match axis {
                    Axis::Yaw => f.yaw - b.yaw,
                    Axis::Pitch => f.pitch - b.pitch,
                };
                let d = raw * *sign;
                if held(wrong_since, d <= -*threshold) {
                    return Step::Failed("wrong_direction");
                }
                let new_peak = d > *peak;
                *peak = peak.max(d);
                if !*was_held {
                    if held(reached_since, d >= *threshold) {
                        *was_held = true;
                    }
                    let p = (d / *threshold).clamp(0.0, 1.0) * 0.6;
                    return if *was_held {
                        Step::Peak(0.7)
                    } else {
                        Step::Pending(p)
                    };
                }
                if d <= *peak * c.return_ratio {
                    return Step::Passed;
                }
                if new_peak {
                    Step::Peak(0.7)
                } else {
                    Step::Pending(0.7 + 0.3 * (1.0 - d / peak.max(1e-6)).clamp(0.0, 1.0))
                }
            }
            Detector::Ratio {
                of,
                base,
                target,
                wrong,
                reached_since,
                wrong_since,
            } => {
                let r = of(f) / base.max(1e-6);
                let reached = if *target > 1.0 {
                    r >= *target
                } else {
                    r <= *target
                };
                let wrong_way = wrong.is_some_and(|w| if *target > 1.0 { r <= w } else { r >= w });
                if held(wrong_since, wrong_way) {
                    return Step::Failed("wrong_direction");
                }
                if held(reached_since, reached) {
                    return Step::Passed;
                }
                let p = ((r - 1.0) / (*target - 1.0)).clamp(0.0, 1.0) * 0.9;
                if reached {
                    Step::Peak(p)
                } else {
                    Step::Pending(p)
                }
            }
            Detector::Follow { path, samples } => {
                samples.push([t as f32, f.yaw - b.yaw]);
                let end = path.last().map_or(0.0, |w| w[0]);
                if (t as f32) < end + c.follow_max_lag_ms as f32 + 200.0 {
                    return Step::Pending((t as f32 / end.max(1.0)).clamp(0.0, 0.95));
                }
                let (corr, amplitude) = follow_score(path, samples, c.follow_max_lag_ms);
                if corr >= c.follow_min_correlation && amplitude >= 4.0 {
                    Step::Passed
                } else {
                    Step::Failed("did_not_follow")
                }
            }
        }
    }

    /// The target's position at `t` ms into a FollowText step.
    fn target(&self, t: u64) -> Option<[f32; 2]> {
        let Detector::Follow { path, .. } = self else {
            return None;
        };
        Some(path_at(path, t as f32))
    }
}

fn path_at(path: &[[f32; 3]], t: f32) -> [f32; 2] {
    match path.iter().position(|w| w[0] >= t) {
        _ if path.is_empty() => [500.0, 500.0],
        Some(0) => [path[0][1], path[0][2]],
        None => [path[path.len() - 1][1], path[path.len() - 1][2]],
        Some(i) => {
            let (a, b) = (path[i - 1], path[i]);
            let f = (t - a[0]) / (b[0] - a[0]).max(1e-3);
            [a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f]
        }
    }
}

/// Best correlation between the head's yaw and where the text was `lag` ms earlier (text to
/// the user's right asks for a turn to their right: negative yaw), and the yaw's amplitude.
fn follow_score(path: &[[f32; 3]], samples: &[[f32; 2]], max_lag_ms: u32) -> (f32, f32) {
    if samples.len() < 8 {
        return (0.0, 0.0);
    }
    let yaw: Vec<f32> = samples.iter().map(|s| s[1]).collect();
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
    let my = mean(&yaw);
    let sy = (yaw.iter().map(|y| (y - my).powi(2)).sum::<f32>() / yaw.len() as f32).sqrt();
    let mut best = -1.0f32;
    for lag in (0..=max_lag_ms).step_by(33) {
        let expected: Vec<f32> = samples
            .iter()
            .map(|s| -(path_at(path, s[0] - lag as f32)[0] - 500.0))
            .collect();
        let me = mean(&expected);
        let cov: f32 = expected
            .iter()
            .zip(&yaw)
            .map(|(e, y)| (e - me) * (y - my))
            .sum();
        let ve: f32 = expected.iter().map(|e| (e - me).powi(2)).sum();
        let vy: f32 = yaw.iter().map(|y| (y - my).powi(2)).sum();
        if ve > 0.0 && vy > 0.0 {
            best = best.max(cov / (ve * vy).sqrt());
        }
    }
    (best, sy * 2.0)
}

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
    Neutral {
        next: usize,
        since: Option<u64>,
        entered: u64,
    },
    Done,
}

/// Running statistics for the temporal-continuity check.
#[derive(Debug, Default)]
struct Temporal {
    last_t: Option<u64>,
    last_signature: Option<[u8; 64]>,
    last_center: Option<[f32; 3]>,
    frames: u32,
    non_monotonic: u32,
    gaps: u32,
    duplicates: u32,
    longest_frozen: u32,
    frozen_run: u32,
    jumps: u32,
}

impl Temporal {
    fn observe(&mut self, o: &Observation) {
        self.frames += 1;
        if let Some(last) = self.last_t {
            if o.t_ms <= last {
                self.non_monotonic += 1;
            } else if o.t_ms - last > 500 {
                self.gaps += 1;
            }
        }
        if self.last_signature == Some(o.signature) {
            self.duplicates += 1;
            self.frozen_run += 1;
            self.longest_frozen = self.longest_frozen.max(self.frozen_run);
        } else {
            self.frozen_run = 0;
        }
        let center = o.face.as_ref().map(|f| {
            [
                f.face_box[0] + f.face_box[2] / 2.0,
                f.face_box[1] + f.face_box[3] / 2.0,
                f.face_box[2],
            ]
        });
        if let (Some(a), Some(b)) = (self.last_center, center)
            && (a[0] - b[0]).hypot(a[1] - b[1]) > 0.6 * a[2].max(b[2])
        {
            self.jumps += 1;
        }
        self.last_center = center;
        self.last_t = Some(o.t_ms);
        self.last_signature = Some(o.signature);
    }

    fn outcome(&self) -> CheckOutcome {
        let reason = if self.non_monotonic > 0 {
            Some("timestamps go backwards")
        } else if self.longest_frozen >= 2 {
            Some("frozen or repeated frames")
        } else if self.jumps > 1 {
            Some("the face jumps between frames")
        } else if self.gaps > 2 {
            Some("frames missing for long stretches")
        } else {
            None
        };
        let bad = self.non_monotonic + self.duplicates + self.jumps + self.gaps;
        CheckOutcome {
            check: "temporal_continuity",
            passed: reason.is_none(),
            score: 1.0 - (bad as f32 / self.frames.max(1) as f32).min(1.0),
            reason: reason.map(str::to_owned),
        }
    }
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

/// Below this residual (relative to the landmark spread) two poses fit one plane.
pub const FLAT_RESIDUAL: f32 = 0.012;

impl Session {
    pub fn new(plan: ChallengePlan, config: EngineConfig) -> Result<Self, EngineError> {
        config.validate()?;
        plan.validate()
            .map_err(|e| EngineError::Plan(e.to_string()))?;
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
            outcome: None,
        })
    }

    pub fn outcome(&self) -> Option<&Outcome> {
        self.outcome.as_ref()
    }

    /// Ends a session whose input stopped (the user cancelled, the clip ended) before an
    /// outcome: failed, with the guidance showing at the time as the reason when there is one.
    pub fn end_incomplete(&mut self) -> Outcome {
        if let Some(o) = &self.outcome {
            return o.clone();
        }
        let reason = self.debouncer.shown().map_or("incomplete", Guidance::code);
        // The step under way ends here, failed, so the timeline names every step whose
        // frames the evidence may hold.
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
        let outcome = self.conclude(Some(reason));
        self.phase = Phase::Done;
        self.outcome = Some(outcome.clone());
        outcome
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
                        captures.push(Capture {
                            role: FrameRole::Photo,
                            challenge_index: None,
                            quality: f.sharpness * (1.0 - f.occlusion),
                        });
                        let p = (t - began) as f32 / c.baseline_ms as f32;
                        if t - began >= u64::from(c.baseline_ms) {
                            self.baseline = Some(Baseline::from(samples));
                            events.push(Event::BaselineCaptured);
                            self.phase = Phase::Neutral {
                                next: 0,
                                since: Some(t),
                                entered: t,
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
            Phase::Neutral {
                next,
                since,
                entered,
            } => {
                let (next, entered) = (*next, *entered);
                let b = self.baseline.clone().ok_or(EngineError::Ended)?;
                let neutral =
                    obs.face.as_ref().is_some_and(|f| b.is_neutral(f, &c)) && obs.face_count == 1;
                if !neutral {
                    *since = None;
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
                    captures.push(Capture {
                        role: FrameRole::Baseline,
                        challenge_index: Some(step.index),
                        quality: 1.0,
                    });
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
                    return Ok(self.finish_step(
                        t,
                        i,
                        step_start,
                        StepResult::TimedOut,
                        Some("timed_out"),
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
                        // Held poses (smile, distance) are still at their peak when they pass;
                        // a blink has reopened by then, so its peak was captured while closed.
                        if matches!(
                            step.kind,
                            ChallengeKind::Smile
                                | ChallengeKind::MoveTowardsCamera
                                | ChallengeKind::MoveAwayFromCamera
                        ) {
                            captures.push(Capture {
                                role: FrameRole::ChallengePeak,
                                challenge_index: Some(step.index),
                                quality: peak_quality(step.kind, face, &b),
                            });
                        }
                        // Only head movements show parallax; a blink or a distance change fits
                        // one plane on a real face too.
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
                    Step::Peak(p) => {
                        let quality = peak_quality(step.kind, face, &b);
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
            let mut u = self.fail(reason.unwrap_or("challenge_failed"), events);
            u.captures = captures;
            return u;
        }
        if i + 1 < self.plan.steps.len() {
            self.phase = Phase::Neutral {
                next: i + 1,
                since: None,
                entered: t,
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
        let passed = checks.iter().all(|c| c.passed);
        let failure = failure.or_else(|| checks.iter().find(|c| !c.passed).map(|c| c.check));
        Outcome {
            passed,
            failure,
            checks,
            timeline: self.timeline.clone(),
        }
    }
}

/// How far into the challenge a frame is, for keeping the most telling peak frame: how closed
/// the eyes, how far the turn, how much the size or smile changed.
fn peak_quality(kind: ChallengeKind, f: &FaceObservation, b: &Baseline) -> f32 {
    match kind {
        ChallengeKind::BlinkEyes => 1.0 - f.eyes() / b.eyes.max(1e-6),
        ChallengeKind::HeadLeft | ChallengeKind::HeadRight | ChallengeKind::FollowText => {
            (f.yaw - b.yaw).abs()
        }
        ChallengeKind::HeadUp | ChallengeKind::HeadDown => (f.pitch - b.pitch).abs(),
        ChallengeKind::MoveTowardsCamera | ChallengeKind::MoveAwayFromCamera => {
            (f.face_size / b.face_size.max(1e-6) - 1.0).abs()
        }
        ChallengeKind::Smile => f.smile / b.smile.max(1e-6) - 1.0,
    }
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
