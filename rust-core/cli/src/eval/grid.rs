//! The rendered half of the evaluation: the synthetic subject performing each session's own
//! plan under a grid of conditions the project's tests never used, and the attacks.
//!
//! A full factorial grid would be thousands of sessions, so every genuine session draws one
//! value of each dimension (lighting, sensor, framing, timing, amplitude, frame rate and
//! delivery, preview mirroring) from the run's seed, cycling through each dimension's values
//! so that every value is seen about equally often; the report breaks BPCER down by each.
//! Plans come from nonces derived from the seed: the same seed gives the same sessions.

use std::path::PathBuf;

use liveness_protocol::{ChallengeKind, ChallengePlan, Nonce, SessionOptions, Sha256Digest};
use liveness_testkit::script::{Attack, AttackKind, Occluder, SecondFace};
use liveness_testkit::{Script, performing_plan, performing_plan_steps};

/// What a session is, for the ISO/IEC 30107-3 tallies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// A bona fide presentation performing the plan: counted in BPCER.
    Genuine,
    /// A presentation attack of this type: counted in its APCER.
    Attack(AttackType),
    /// A real person *not* performing the plan (talking): must never pass.
    NonPerforming,
    /// A capture that cannot complete (the face leaves, never comes, is covered): must end
    /// with a verdict and a reason.
    Incomplete,
}

/// Presentation attack instrument species, as the report names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttackType {
    /// A printed photo on paper, held tilted and moved as the plan asks.
    PrintTilted,
    /// A printed head cut out along its outline (no paper edge), moved as the plan asks.
    PrintCutout,
    /// A still photo.
    StaticPhoto,
    /// A screen replaying a genuine recording that performs this session's own plan.
    ScreenReplayOwnPlan,
    /// A genuine recording made for another session's plan (on a screen, or injected).
    ReplayOtherPlan,
    /// A second face in the frame.
    TwoFaces,
    /// The face covered by a hand.
    Occlusion,
    /// A genuine recording of this session's own plan injected into the stream (a virtual
    /// camera): it was lit by another session's light step, not this one's.
    InjectedOwnPlan,
    /// A screen replay whose face is re-lit with the colour the phone showed, ≥ 150 ms late
    /// (capture, render and display of a real-time attacker).
    AdaptiveRelight,
    /// The same below 150 ms: reported to show where the attacker starts to pass, not a
    /// target.
    AdaptiveRelightFast,
}

impl AttackType {
    pub const ALL: [AttackType; 10] = [
        Self::PrintTilted,
        Self::PrintCutout,
        Self::StaticPhoto,
        Self::ScreenReplayOwnPlan,
        Self::ReplayOtherPlan,
        Self::TwoFaces,
        Self::Occlusion,
        Self::InjectedOwnPlan,
        Self::AdaptiveRelight,
        Self::AdaptiveRelightFast,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::PrintTilted => "print_tilted",
            Self::PrintCutout => "print_cutout",
            Self::StaticPhoto => "static_photo",
            Self::ScreenReplayOwnPlan => "screen_replay_own_plan",
            Self::ReplayOtherPlan => "replay_other_plan",
            Self::TwoFaces => "two_faces",
            Self::Occlusion => "occlusion",
            Self::InjectedOwnPlan => "injected_own_plan",
            Self::AdaptiveRelight => "adaptive_relight_150ms_plus",
            Self::AdaptiveRelightFast => "adaptive_relight_under_150ms",
        }
    }

    /// Whether the targets allow this type to get through: a re-lighting attacker faster
    /// than a reflection's lag bound is the light step's stated limit.
    pub fn expected_to_fail_today(self) -> bool {
        self == Self::AdaptiveRelightFast
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    Live,
    NotLive,
    /// Any verdict, as long as there is one with a reason.
    AnyVerdict,
}

/// How the camera sees the subject.
#[derive(Debug, Clone, PartialEq)]
pub struct Conditions {
    pub lighting: &'static str,
    pub sensor: &'static str,
    pub framing: &'static str,
    /// Performance speed: key times multiplied by this (0.7 is quicker).
    pub timing: f32,
    /// Excursion of the movement relative to the reference performance (1: a 30° turn).
    pub amplitude: f32,
    /// Exposures per second, and how many times the camera delivers each.
    pub fps: u32,
    pub repeat: u32,
    pub mirrored: bool,
    pub seed: u64,
}

impl Default for Conditions {
    fn default() -> Self {
        Self {
            lighting: "bright",
            sensor: "clean",
            framing: "centred",
            timing: 1.0,
            amplitude: 1.0,
            fps: 30,
            repeat: 1,
            mirrored: true,
            seed: 1,
        }
    }
}

pub const LIGHTING: [&str; 6] = ["bright", "office", "dim", "backlit", "warm", "cool"];
pub const SENSOR: [&str; 4] = ["clean", "noisy", "low_jpeg", "motion_blur"];
pub const FRAMING: [&str; 4] = ["centred", "off_centre", "small", "close"];
pub const TIMING: [f32; 3] = [0.7, 1.0, 1.5];
/// 0.5 of the reference 30° turn is 15°; 1.33 is 40°.
pub const AMPLITUDE: [f32; 4] = [0.5, 0.75, 1.0, 1.33];
/// (exposures per second, deliveries per exposure).
pub const DELIVERY: [(u32, u32); 4] = [(15, 1), (24, 1), (30, 1), (15, 2)];

impl Conditions {
    /// The report's dimensions and this session's value in each.
    pub fn tags(&self) -> Vec<(&'static str, String)> {
        vec![
            ("lighting", self.lighting.to_owned()),
            ("sensor", self.sensor.to_owned()),
            ("framing", self.framing.to_owned()),
            ("timing", format!("{:.1}x", self.timing)),
            ("amplitude", format!("{:.0}°", 30.0 * self.amplitude)),
            (
                "frame_rate",
                if self.repeat > 1 {
                    format!(
                        "{} fps, each frame ×{}",
                        self.fps * self.repeat,
                        self.repeat
                    )
                } else {
                    format!("{} fps", self.fps)
                },
            ),
            (
                "preview",
                if self.mirrored {
                    "mirrored"
                } else {
                    "unmirrored"
                }
                .to_owned(),
            ),
        ]
    }

    /// Applies lighting, sensor, framing, timing, amplitude and frame rate to a performer.
    pub fn apply(&self, script: &mut Script) {
        let follows = script.follow.is_some();
        for k in &mut script.keys {
            // The subjects set their own camera parameters on each part's first key; the
            // conditions replace them for the whole clip.
            k.noise = None;
            k.jpeg = None;
            k.blur = None;
            k.brightness = None;
            k.gamma = None;
            k.cast_r = None;
            k.cast_g = None;
            k.cast_b = None;
            // A followed path keeps its own timing (the text moves in real time).
            if !follows {
                k.t *= self.timing;
            }
            let a = self.amplitude;
            k.yaw = k.yaw.map(|v| (v * a).clamp(-45.0, 45.0));
            k.pitch = k.pitch.map(|v| (v * a * 1.2).clamp(-35.0, 35.0));
            k.smile = k.smile.map(|v| (v * a).clamp(0.0, 1.0).max(v.min(0.7)));
            k.scale = k.scale.map(|v| 1.0 + (v - 1.0) * a.clamp(0.75, 1.33));
        }
        if !follows {
            script.duration *= self.timing;
        }
        script.fps = self.fps;
        script.seed = self.seed;
        // The room's light on the face, against which the screen's must show.
        script.ambient_lux = match self.lighting {
            "bright" => 1000.0,
            "daylight" => 8000.0,
            "dim" => 60.0,
            "backlit" => 500.0,
            _ => 350.0,
        };
        let first = match script.keys.first_mut() {
            Some(k) => k,
            None => return,
        };
        match self.lighting {
            "office" => first.brightness = Some(0.85),
            "dim" => {
                first.brightness = Some(0.42);
                first.gamma = Some(1.15);
            }
            "backlit" => {
                script.background = [255, 252, 245];
                first.brightness = Some(0.62);
                first.gamma = Some(1.2);
            }
            "warm" => {
                first.cast_r = Some(1.12);
                first.cast_b = Some(0.78);
            }
            "cool" => {
                first.cast_r = Some(0.84);
                first.cast_b = Some(1.14);
            }
            _ => first.brightness = Some(1.15),
        }
        let dim = matches!(self.lighting, "dim" | "backlit");
        // Sensor noise rises as light falls.
        let base_noise = if dim { 5.0 } else { 2.0 };
        match self.sensor {
            "noisy" => first.noise = Some(base_noise + 6.0),
            "low_jpeg" => {
                first.noise = Some(base_noise);
                first.jpeg = Some(30.0);
            }
            "motion_blur" => {
                first.noise = Some(base_noise);
                first.blur = Some(5.0);
                first.jpeg = Some(80.0);
            }
            // Even a clean sensor has some noise: no two real frames are identical.
            _ => first.noise = Some(if dim { base_noise } else { 1.0 }),
        }
        let (x, y, scale) = match self.framing {
            "off_centre" => (0.36, 0.38, 1.0),
            "small" => (0.5, 0.45, 0.62),
            "close" => (0.5, 0.47, 1.55),
            _ => (0.5, 0.45, 1.0),
        };
        if !script.keys.iter().any(|k| k.x.is_some()) {
            if let Some(k) = script.keys.first_mut() {
                k.x = Some(x);
                k.y = Some(y);
            }
        }
        if script.keys.iter().any(|k| k.scale.is_some()) {
            for k in &mut script.keys {
                k.scale = k.scale.map(|s| (s * scale).clamp(0.05, 10.0));
            }
        } else if let Some(k) = script.keys.first_mut() {
            k.scale = Some(scale);
        }
    }
}

/// How a session's frames are made.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceSpec {
    /// The synthetic subject performing the session's own plan.
    Performer(Conditions),
    /// An attack staged with the renderer.
    Attack {
        kind: AttackType,
        conditions: Conditions,
        /// Print tilt in degrees, or screen size as a fraction of the frame.
        param: f32,
    },
    /// A window of a real recording.
    Clip {
        path: PathBuf,
        start_ms: u64,
        end_ms: u64,
    },
}

#[derive(Debug, Clone)]
pub struct Scenario {
    pub id: String,
    pub class: Class,
    pub expect: Expect,
    pub options: SessionOptions,
    pub nonce: Nonce,
    pub source: SourceSpec,
    /// Dimension → value, for the report's breakdowns.
    pub tags: Vec<(&'static str, String)>,
    /// When set: the device's failure must be one of these, and this guidance must have
    /// been shown.
    pub expect_failure: Option<(&'static [&'static str], &'static str)>,
}

impl Scenario {
    pub fn new(
        id: String,
        class: Class,
        expect: Expect,
        options: SessionOptions,
        source: SourceSpec,
    ) -> Self {
        Self {
            id,
            class,
            expect,
            options,
            nonce: Nonce([0; 32]),
            source,
            tags: Vec::new(),
            expect_failure: None,
        }
    }

    pub fn expecting(mut self, failures: &'static [&'static str], guidance: &'static str) -> Self {
        self.expect_failure = Some((failures, guidance));
        self
    }

    pub fn with(mut self, dimension: &'static str, value: impl Into<String>) -> Self {
        self.tags.push((dimension, value.into()));
        self
    }
}

/// The nonce of session `index` of a run with `seed`.
pub fn nonce_for(seed: u64, index: u64) -> Nonce {
    let mut bytes = b"liveness-eval/v1".to_vec();
    bytes.extend_from_slice(&seed.to_be_bytes());
    bytes.extend_from_slice(&index.to_be_bytes());
    Nonce(Sha256Digest::of(&bytes).0)
}

/// The genuine subject performing `plan` under `c`. The subject reacts to the session (it
/// holds still through the light step however long it runs, and comes closer when asked),
/// so its script has no pause for the light step: a miss re-rendered with `liveness render`
/// plays the challenges without those reactions.
pub fn performer(plan: &ChallengePlan, c: &Conditions) -> Result<Script, String> {
    let mut s = performing_plan_steps(plan).map_err(|e| e.to_string())?;
    c.apply(&mut s);
    s.validate().map_err(|e| e.to_string())?;
    Ok(s)
}

/// The attack's script for a session whose plan is `plan` (`other`: another session's plan,
/// for the replay made for it).
pub fn attack_script(
    kind: AttackType,
    c: &Conditions,
    param: f32,
    plan: &ChallengePlan,
    other: &ChallengePlan,
) -> Result<Script, String> {
    let mut s = match kind {
        AttackType::ReplayOtherPlan => performing_plan(other).map_err(|e| e.to_string())?,
        AttackType::StaticPhoto => Script::parse("duration = 12.0").map_err(|e| e.to_string())?,
        _ => performing_plan(plan).map_err(|e| e.to_string())?,
    };
    let attack = |kind, paper_edge, screen_size, cutout| Attack {
        kind,
        paper_edge,
        screen_size,
        cutout,
        specular: 0.04,
        relight_latency_ms: None,
        recorded_light: true,
    };
    match kind {
        AttackType::PrintTilted => {
            s.attack = Some(attack(AttackKind::Print, 0.04, 0.9, false));
            // Held at an angle: a constant tilt on top of the moves the plan asks for.
            for k in &mut s.keys {
                k.roll = Some(k.roll.unwrap_or(0.0) + param * 0.5);
                k.pitch = Some(k.pitch.unwrap_or(0.0) + param);
            }
        }
        AttackType::PrintCutout => s.attack = Some(attack(AttackKind::Print, 0.0, 0.9, true)),
        AttackType::StaticPhoto => s.attack = Some(attack(AttackKind::Print, 0.04, 0.9, false)),
        AttackType::ScreenReplayOwnPlan => {
            s.attack = Some(attack(AttackKind::Screen, 0.04, param, false));
        }
        AttackType::InjectedOwnPlan => {}
        AttackType::AdaptiveRelight | AttackType::AdaptiveRelightFast => {
            let mut a = attack(AttackKind::Screen, 0.04, 1.25, false);
            a.relight_latency_ms = Some(param);
            s.attack = Some(a);
        }
        AttackType::ReplayOtherPlan => {
            // param > 1: injected straight into the stream (a virtual camera), no screen.
            if param <= 1.0 {
                s.attack = Some(attack(AttackKind::Screen, 0.04, param, false));
            }
        }
        AttackType::TwoFaces => {
            s.second_face = Some(SecondFace {
                x: 0.84,
                y: 0.5,
                scale: 0.65,
                yaw: 10.0,
            });
        }
        AttackType::Occlusion => {
            s.occluder = Some(Occluder {
                dx: 0.0,
                dy: 0.18,
                width: 0.85,
                height: 0.75,
                from: None,
                until: None,
            });
        }
    }
    let mut c = c.clone();
    if kind == AttackType::TwoFaces {
        // The second face sits on the right; keep the user left of centre.
        c.framing = "off_centre";
    }
    c.apply(&mut s);
    s.validate().map_err(|e| e.to_string())?;
    Ok(s)
}

/// Each session's value of one dimension: every value about equally often (the list is the
/// values repeated to `n`), shuffled with the dimension's own generator so that sessions
/// draw combinations across the whole grid. (A fixed stride per dimension repeats one short
/// cycle of combinations, and then a single hard combination is counted over and over.)
fn balanced(len: usize, n: usize, rng: &mut liveness_testkit::render::Rng) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).map(|i| i % len).collect();
    for i in (1..v.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
    v
}

/// The conditions of sessions `0..n` of the full grid, reproducible from `seed`.
/// `first` numbers the sessions' own seeds (the attacks' follow the genuine ones').
fn condition_grid(n: usize, seed: u64, first: usize) -> Vec<Conditions> {
    let mut rng =
        liveness_testkit::render::Rng::new((seed ^ 0x6772_6964).wrapping_add(first as u64));
    let lighting = balanced(LIGHTING.len(), n, &mut rng);
    let sensor = balanced(SENSOR.len(), n, &mut rng);
    let framing = balanced(FRAMING.len(), n, &mut rng);
    let timing = balanced(TIMING.len(), n, &mut rng);
    let amplitude = balanced(AMPLITUDE.len(), n, &mut rng);
    let delivery = balanced(DELIVERY.len(), n, &mut rng);
    let mirrored = balanced(2, n, &mut rng);
    (0..n)
        .map(|i| {
            let (fps, repeat) = DELIVERY[delivery[i]];
            Conditions {
                lighting: LIGHTING[lighting[i]],
                sensor: SENSOR[sensor[i]],
                framing: FRAMING[framing[i]],
                timing: TIMING[timing[i]],
                amplitude: AMPLITUDE[amplitude[i]],
                fps,
                repeat,
                mirrored: mirrored[i] == 0,
                seed: seed.wrapping_mul(1000).wrapping_add((first + i) as u64),
            }
        })
        .collect()
}

fn options(kinds: &[ChallengeKind]) -> SessionOptions {
    match kinds {
        [one] => SessionOptions {
            action: (*one).into(),
            ..Default::default()
        },
        many => SessionOptions {
            available_actions: Some(many.to_vec()),
            challenge_count: Some(many.len() as u8),
            ..Default::default()
        },
    }
}

/// Kinds for genuine session `i`: one challenge each in turn, and every fourth session two
/// (drawn without FollowText, which the performer can only do first).
fn kinds_for(i: usize, rng: &mut liveness_testkit::render::Rng) -> Vec<ChallengeKind> {
    if i % 4 == 3 {
        let pool: Vec<ChallengeKind> = ChallengeKind::ALL
            .into_iter()
            .filter(|k| *k != ChallengeKind::FollowText)
            .collect();
        let a = pool[(rng.unit() * pool.len() as f32) as usize % pool.len()];
        let rest: Vec<ChallengeKind> = pool.into_iter().filter(|k| *k != a).collect();
        let b = rest[(rng.unit() * rest.len() as f32) as usize % rest.len()];
        return vec![a, b];
    }
    vec![ChallengeKind::ALL[(i - i / 4) % ChallengeKind::ALL.len()]]
}

/// The rendered sessions: `genuine` bona fide ones and the attacks (about a third as many in
/// `--quick`).
pub fn scenarios(quick: bool, seed: u64) -> Vec<Scenario> {
    let mut rng = liveness_testkit::render::Rng::new(seed);
    let genuine = if quick { 12 } else { 162 };
    let grid = condition_grid(genuine, seed, 0);
    let mut out = Vec::new();
    for (i, drawn) in grid.iter().enumerate() {
        let kinds = kinds_for(i, &mut rng);
        let c = if quick {
            // The quick set keeps each kind at the reference performance, then varies one
            // dimension at a time.
            let mut c = Conditions {
                seed: seed.wrapping_add(i as u64),
                mirrored: i % 2 == 0,
                ..Default::default()
            };
            match i % 6 {
                1 => c.lighting = "dim",
                2 => (c.fps, c.repeat) = (15, 2),
                3 => c.amplitude = 0.5,
                4 => c.framing = "small",
                5 => c.sensor = "noisy",
                _ => {}
            }
            c
        } else {
            drawn.clone()
        };
        let names: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
        let mut s = Scenario::new(
            format!("rendered/genuine/{i:03}/{}", names.join("+")),
            Class::Genuine,
            Expect::Live,
            options(&kinds),
            SourceSpec::Performer(c.clone()),
        )
        .with("source", "rendered")
        .with("challenge", names.join("+"));
        s.tags.extend(c.tags());
        s.nonce = nonce_for(seed, i as u64);
        out.push(s);
    }
    // Daylight by a window swamps a phone screen's light: the user must be guided (and the
    // session end not live with that reason), never judged an attack.
    for j in 0..if quick { 1 } else { 3 } {
        let kind = [
            ChallengeKind::HeadLeft,
            ChallengeKind::Smile,
            ChallengeKind::BlinkEyes,
        ][j];
        let c = Conditions {
            lighting: "daylight",
            seed: seed.wrapping_add(900 + j as u64),
            ..Default::default()
        };
        let mut s = Scenario::new(
            format!("rendered/daylight/{j:02}/{}", kind.name()),
            Class::Incomplete,
            Expect::NotLive,
            options(&[kind]),
            SourceSpec::Performer(c.clone()),
        )
        .expecting(
            &[liveness_light::reasons::NO_REFLECTION],
            "screen_light_weak",
        )
        .with("source", "rendered")
        .with("challenge", kind.name());
        s.tags.extend(c.tags());
        s.nonce = nonce_for(seed, 900 + j as u64);
        out.push(s);
    }
    let attack_plans: [&[ChallengeKind]; 9] = [
        &[ChallengeKind::HeadLeft],
        &[ChallengeKind::HeadRight],
        &[ChallengeKind::HeadUp],
        &[ChallengeKind::HeadDown],
        &[ChallengeKind::BlinkEyes],
        &[ChallengeKind::Smile],
        &[ChallengeKind::MoveTowardsCamera],
        &[ChallengeKind::MoveAwayFromCamera],
        &[ChallengeKind::HeadLeft, ChallengeKind::BlinkEyes],
    ];
    // (type, sessions, parameters to cycle).
    let attacks: [(AttackType, usize, &[f32]); 10] = [
        (AttackType::PrintTilted, 14, &[8.0, 15.0, 22.0]),
        (AttackType::PrintCutout, 10, &[0.0]),
        (AttackType::StaticPhoto, 6, &[0.0]),
        (AttackType::ScreenReplayOwnPlan, 12, &[0.6, 0.8, 1.0, 1.25]),
        (AttackType::ReplayOtherPlan, 10, &[0.8, 1.25, 2.0]),
        (AttackType::TwoFaces, 6, &[0.0]),
        (AttackType::Occlusion, 6, &[0.0]),
        (AttackType::InjectedOwnPlan, 8, &[0.0]),
        (
            AttackType::AdaptiveRelight,
            8,
            &[150.0, 200.0, 300.0, 500.0],
        ),
        (
            AttackType::AdaptiveRelightFast,
            8,
            &[0.0, 33.0, 67.0, 100.0],
        ),
    ];
    let attack_grid = condition_grid(attacks.iter().map(|a| a.1).sum(), seed, genuine);
    let mut n = genuine;
    for (kind, count, params) in attacks {
        let count = if quick {
            count.div_ceil(4).max(1)
        } else {
            count
        };
        for j in 0..count {
            let plan = attack_plans[(j * 2 + kind as usize) % attack_plans.len()];
            let mut c = attack_grid[n - genuine].clone();
            // Attackers bring good conditions (and the clean ones are the hardest to catch).
            c.sensor = if j % 3 == 2 { "noisy" } else { "clean" };
            c.lighting = ["bright", "office", "dim"][j % 3];
            c.timing = 1.0;
            c.amplitude = 1.0;
            let param = params[j % params.len()];
            let names: Vec<&str> = plan.iter().map(|k| k.name()).collect();
            let mut s = Scenario::new(
                format!("rendered/attack/{}/{j:02}/{}", kind.name(), names.join("+")),
                Class::Attack(kind),
                Expect::NotLive,
                options(plan),
                SourceSpec::Attack {
                    kind,
                    conditions: c.clone(),
                    param,
                },
            )
            .with("source", "rendered")
            .with("challenge", names.join("+"))
            .with("attack", kind.name());
            if matches!(
                kind,
                AttackType::AdaptiveRelight | AttackType::AdaptiveRelightFast
            ) {
                s = s.with("relight_latency", format!("{param:.0} ms"));
            }
            if kind == AttackType::ScreenReplayOwnPlan || kind == AttackType::ReplayOtherPlan {
                s = s.with(
                    "screen",
                    if param > 1.5 {
                        "injected (no screen)".to_owned()
                    } else if param >= 1.0 {
                        "filling the frame".to_owned()
                    } else {
                        format!("{:.0}% of the frame", param * 100.0)
                    },
                );
            }
            s.tags.push(("lighting", c.lighting.to_owned()));
            s.nonce = nonce_for(seed, n as u64);
            n += 1;
            out.push(s);
        }
    }
    out
}
