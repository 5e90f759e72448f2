//! The timeline script a synthetic subject performs: keyframes at times, interpolated
//! linearly per parameter, plus the optional attack staging. TOML or JSON.

use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ScriptError {
    #[error("script is not valid TOML/JSON: {0}")]
    Parse(String),
    #[error("invalid script: {0}")]
    Invalid(String),
    #[error("cannot read {path}: {reason}")]
    Io { path: String, reason: String },
}

/// One keyframe: every parameter is optional and, where absent, comes from interpolating the
/// keys that set it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Key {
    /// Seconds from the start.
    pub t: f32,
    /// Degrees: nose to the image's right, up, clockwise (as `liveness-vision` measures).
    pub yaw: Option<f32>,
    pub pitch: Option<f32>,
    pub roll: Option<f32>,
    /// Distance as apparent size: 1 is the default framing, 2 twice as close.
    pub scale: Option<f32>,
    /// Face centre as fractions of the frame.
    pub x: Option<f32>,
    pub y: Option<f32>,
    /// Eye closure 0..1: both eyes, or one (subject's left / right).
    pub eyes: Option<f32>,
    pub eye_left: Option<f32>,
    pub eye_right: Option<f32>,
    /// 0..1.
    pub smile: Option<f32>,
    /// Light: gain on every channel, gamma, and per-channel colour cast.
    pub brightness: Option<f32>,
    pub gamma: Option<f32>,
    pub cast_r: Option<f32>,
    pub cast_g: Option<f32>,
    pub cast_b: Option<f32>,
    /// Sensor noise, standard deviation in 0..255 units.
    pub noise: Option<f32>,
    /// Horizontal motion blur length in pixels.
    pub blur: Option<f32>,
    /// JPEG re-encoding quality 1..100 (0: none).
    pub jpeg: Option<f32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttackKind {
    /// The photo printed on paper and moved in front of the camera: a plane (homography, no
    /// parallax), with a paper edge.
    Print,
    /// The rendered sequence shown on a phone or monitor screen filmed by the camera.
    Screen,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attack {
    pub kind: AttackKind,
    /// Print: white border around the photo, as a fraction of its width.
    #[serde(default = "default_paper_edge")]
    pub paper_edge: f32,
    /// Screen: the screen's size as a fraction of the frame (1 or more fills it: no bezel
    /// in sight).
    #[serde(default = "default_screen_size")]
    pub screen_size: f32,
    /// Print: the head cut out along its outline, so no paper edge shows and the real
    /// background surrounds it.
    #[serde(default)]
    pub cutout: bool,
    /// Screen: the share of the phone's light its glass sends back (specular glare).
    #[serde(default = "default_specular")]
    pub specular: f32,
    /// Screen: an adaptive attacker re-lights the replayed face with the colour the phone
    /// showed this many ms earlier (its capture-render-display delay). Without it the replay
    /// shows the light of the session it was recorded in.
    #[serde(default)]
    pub relight_latency_ms: Option<f32>,
    /// Screen: the replay was recorded in another session's light step, so its face changes
    /// colour on that session's schedule.
    #[serde(default)]
    pub recorded_light: bool,
}

fn default_specular() -> f32 {
    0.04
}

fn default_paper_edge() -> f32 {
    0.04
}

fn default_screen_size() -> f32 {
    0.9
}

/// A hand-like patch over the face, in face widths from the face centre.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Occluder {
    pub dx: f32,
    pub dy: f32,
    pub width: f32,
    pub height: f32,
    /// Seconds during which it is shown (whole clip when absent).
    #[serde(default)]
    pub from: Option<f32>,
    #[serde(default)]
    pub until: Option<f32>,
}

/// The head following a target that moves on screen (FollowText): yaw and pitch track the
/// waypoints `lag` seconds late, added to whatever the keys say.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Follow {
    /// (seconds, x, y): the target's position in thousandths of the screen, as in a plan's
    /// FollowText waypoints, from the moment `start` on.
    pub waypoints: Vec<[f32; 3]>,
    #[serde(default)]
    pub start: f32,
    #[serde(default = "default_lag")]
    pub lag: f32,
    /// Degrees of yaw at the screen's edge (x = 0 or 1000). Looking towards the right of the
    /// screen turns the head to the user's right: negative yaw in an unmirrored image.
    #[serde(default = "default_yaw_range")]
    pub yaw_range: f32,
    #[serde(default = "default_pitch_range")]
    pub pitch_range: f32,
}

fn default_lag() -> f32 {
    0.3
}
fn default_yaw_range() -> f32 {
    36.0
}
fn default_pitch_range() -> f32 {
    24.0
}

impl Follow {
    /// The head's (yaw, pitch) at time `t`.
    pub fn angles(&self, t: f32) -> (f32, f32) {
        let t = t - self.start - self.lag;
        let w = &self.waypoints;
        let (x, y) = match w.iter().position(|p| p[0] >= t) {
            _ if w.is_empty() => (500.0, 500.0),
            Some(0) => (w[0][1], w[0][2]),
            None => (w[w.len() - 1][1], w[w.len() - 1][2]),
            Some(i) => {
                let (a, b) = (w[i - 1], w[i]);
                let f = if b[0] > a[0] {
                    (t - a[0]) / (b[0] - a[0])
                } else {
                    1.0
                };
                (a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f)
            }
        };
        (
            -(x - 500.0) / 500.0 * self.yaw_range,
            -(y - 500.0) / 500.0 * self.pitch_range,
        )
    }
}

/// A second person in the frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecondFace {
    pub x: f32,
    pub y: f32,
    #[serde(default = "one")]
    pub scale: f32,
    #[serde(default)]
    pub yaw: f32,
}

fn one() -> f32 {
    1.0
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    #[serde(default)]
    pub name: String,
    #[serde(default = "default_fps")]
    pub fps: u32,
    #[serde(default = "default_width")]
    pub width: u32,
    #[serde(default = "default_height")]
    pub height: u32,
    #[serde(default)]
    pub seed: u64,
    /// Seconds.
    pub duration: f32,
    /// Colour outside the photo.
    #[serde(default = "default_background")]
    pub background: [u8; 3],
    #[serde(default)]
    pub keys: Vec<Key>,
    #[serde(default)]
    pub attack: Option<Attack>,
    #[serde(default)]
    pub occluder: Option<Occluder>,
    #[serde(default)]
    pub second_face: Option<SecondFace>,
    #[serde(default)]
    pub follow: Option<Follow>,
    /// Room light on the face, in lux (dim room ~50, office 300–500, bright office ~1000,
    /// daylight by a window several thousand).
    #[serde(default = "default_ambient_lux")]
    pub ambient_lux: f32,
    /// What the phone's screen at full brightness adds on the face at `scale = 1`, in lux
    /// (~30 cm; it grows with the square of the scale).
    #[serde(default = "default_screen_lux")]
    pub screen_lux: f32,
}

fn default_ambient_lux() -> f32 {
    300.0
}
fn default_screen_lux() -> f32 {
    40.0
}

fn default_fps() -> u32 {
    30
}
fn default_width() -> u32 {
    640
}
fn default_height() -> u32 {
    480
}
fn default_background() -> [u8; 3] {
    [96, 104, 112]
}

/// The interpolated state of one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct State {
    pub yaw: f32,
    pub pitch: f32,
    pub roll: f32,
    pub scale: f32,
    pub x: f32,
    pub y: f32,
    pub eye_left: f32,
    pub eye_right: f32,
    pub smile: f32,
    pub brightness: f32,
    pub gamma: f32,
    pub cast: [f32; 3],
    pub noise: f32,
    pub blur: f32,
    pub jpeg: f32,
}

impl Script {
    /// Parses TOML, or JSON when the text starts with `{`.
    pub fn parse(text: &str) -> Result<Self, ScriptError> {
        let script: Script = if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|e| ScriptError::Parse(e.to_string()))?
        } else {
            toml::from_str(text).map_err(|e| ScriptError::Parse(e.to_string()))?
        };
        script.validate()?;
        Ok(script)
    }

    pub fn from_file(path: &std::path::Path) -> Result<Self, ScriptError> {
        let text = std::fs::read_to_string(path).map_err(|e| ScriptError::Io {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Self::parse(&text)
    }

    pub fn validate(&self) -> Result<(), ScriptError> {
        let bad = |m: String| Err(ScriptError::Invalid(m));
        if !(1..=120).contains(&self.fps) {
            return bad(format!("fps must be 1..=120, got {}", self.fps));
        }
        if !(64..=4096).contains(&self.width) || !(64..=4096).contains(&self.height) {
            return bad("width and height must be 64..=4096".into());
        }
        if !(self.duration > 0.0 && self.duration <= 600.0) {
            return bad("duration must be in (0, 600] seconds".into());
        }
        if !((1.0..=200_000.0).contains(&self.ambient_lux)
            && (0.0..=1000.0).contains(&self.screen_lux))
        {
            return bad("ambient_lux must be 1..=200000 and screen_lux 0..=1000".into());
        }
        // NaN times are refused below; here they count as out of order.
        if self
            .keys
            .windows(2)
            .any(|w| w[0].t.partial_cmp(&w[1].t).is_none_or(|o| o.is_gt()))
        {
            return bad("keys must be in time order".into());
        }
        if let Some(f) = &self.follow {
            let ok = f.waypoints.iter().flatten().all(|v| v.is_finite())
                && f.waypoints.windows(2).all(|w| w[0][0] <= w[1][0])
                && [f.start, f.lag, f.yaw_range, f.pitch_range]
                    .iter()
                    .all(|v| v.is_finite() && v.abs() <= 60.0);
            if !ok {
                return bad("follow: waypoints must be finite and in time order; start, lag and ranges within ±60".into());
            }
        }
        let finite = |v: Option<f32>| v.is_none_or(f32::is_finite);
        for k in &self.keys {
            let all = [
                Some(k.t),
                k.yaw,
                k.pitch,
                k.roll,
                k.scale,
                k.x,
                k.y,
                k.eyes,
                k.eye_left,
                k.eye_right,
                k.smile,
                k.brightness,
                k.gamma,
                k.cast_r,
                k.cast_g,
                k.cast_b,
                k.noise,
                k.blur,
                k.jpeg,
            ];
            if !all.iter().all(|v| finite(*v)) {
                return bad(format!(
                    "key at t={} has a value that is not a finite number",
                    k.t
                ));
            }
            if k.scale.is_some_and(|s| !(0.05..=10.0).contains(&s))
                || k.gamma.is_some_and(|g| !(0.1..=10.0).contains(&g))
            {
                return bad(format!(
                    "key at t={}: scale must be 0.05..=10 and gamma 0.1..=10",
                    k.t
                ));
            }
            if [k.yaw, k.pitch, k.roll]
                .iter()
                .flatten()
                .any(|a| a.abs() > 89.0)
            {
                return bad(format!(
                    "key at t={}: angles must be within ±89 degrees",
                    k.t
                ));
            }
        }
        Ok(())
    }

    pub fn frame_count(&self) -> usize {
        (self.duration * self.fps as f32).round().max(1.0) as usize
    }

    /// Time of frame `i` in seconds.
    pub fn time(&self, i: usize) -> f32 {
        i as f32 / self.fps as f32
    }

    fn param(&self, t: f32, get: impl Fn(&Key) -> Option<f32>, default: f32) -> f32 {
        let mut prev: Option<(f32, f32)> = None;
        for k in &self.keys {
            let Some(v) = get(k) else { continue };
            if k.t >= t {
                return match prev {
                    Some((pt, pv)) if k.t > pt => pv + (v - pv) * (t - pt) / (k.t - pt),
                    // Two keys at the same time: the later one wins from then on.
                    _ => v,
                };
            }
            prev = Some((k.t, v));
        }
        prev.map_or(default, |p| p.1)
    }

    /// The state at frame `i`.
    pub fn state(&self, i: usize) -> State {
        self.state_at(self.time(i))
    }

    /// The state at `t` seconds into the script.
    pub fn state_at(&self, t: f32) -> State {
        let eyes = |k: &Key| k.eyes;
        let (follow_yaw, follow_pitch) = self.follow.as_ref().map_or((0.0, 0.0), |f| f.angles(t));
        State {
            yaw: self.param(t, |k| k.yaw, 0.0) + follow_yaw,
            pitch: self.param(t, |k| k.pitch, 0.0) + follow_pitch,
            roll: self.param(t, |k| k.roll, 0.0),
            scale: self.param(t, |k| k.scale, 1.0),
            x: self.param(t, |k| k.x, 0.5),
            y: self.param(t, |k| k.y, 0.45),
            eye_left: self.param(t, |k| k.eye_left.or(eyes(k)), 0.0),
            eye_right: self.param(t, |k| k.eye_right.or(eyes(k)), 0.0),
            smile: self.param(t, |k| k.smile, 0.0),
            brightness: self.param(t, |k| k.brightness, 1.0),
            gamma: self.param(t, |k| k.gamma, 1.0),
            cast: [
                self.param(t, |k| k.cast_r, 1.0),
                self.param(t, |k| k.cast_g, 1.0),
                self.param(t, |k| k.cast_b, 1.0),
            ],
            noise: self.param(t, |k| k.noise, 0.0),
            blur: self.param(t, |k| k.blur, 0.0),
            jpeg: self.param(t, |k| k.jpeg, 0.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_interpolate_and_hold() {
        let s = Script::parse(
            r#"
            duration = 2.0
            [[keys]]
            t = 0.0
            yaw = 0.0
            [[keys]]
            t = 1.0
            yaw = 30.0
            eyes = 1.0
            "#,
        )
        .unwrap();
        assert_eq!(s.frame_count(), 60);
        assert_eq!(s.state(0).yaw, 0.0);
        assert!((s.state(15).yaw - 15.0).abs() < 1e-4);
        assert_eq!(s.state(45).yaw, 30.0);
        // A parameter set by one key only holds everywhere.
        assert_eq!(s.state(0).eye_left, 1.0);
        assert_eq!(s.state(0).scale, 1.0);
    }

    #[test]
    fn follow_tracks_the_target_late() {
        let s = Script::parse(
            "duration = 4\n[follow]\nstart = 1.0\nlag = 0.5\nwaypoints = [[0, 500, 500], [1, 1000, 500], [2, 0, 250]]",
        )
        .unwrap();
        assert_eq!(s.state(0).yaw, 0.0);
        // Target at the right edge at t = 2 s, the head gets there at 2.5 s (user's right).
        assert!((s.state(75).yaw + 36.0).abs() < 1e-3, "{}", s.state(75).yaw);
        // Then to the top-left corner: yaw to the user's left, chin up.
        let end = s.state(119);
        assert!(
            (end.yaw - 36.0).abs() < 1e-3 && (end.pitch - 12.0).abs() < 1e-3,
            "{end:?}"
        );
    }

    #[test]
    fn bad_scripts_are_typed_errors() {
        for text in [
            "duration = 0",
            "duration = 1\nfps = 0",
            "duration = 1\nwidth = 10",
            "duration = 1\n[[keys]]\nt = 1\n[[keys]]\nt = 0",
            "duration = 1\n[[keys]]\nt = 0\nyaw = 120",
            "duration = 1\n[[keys]]\nt = 0\nwobble = 1",
            "duration = 1\n[attack]\nkind = \"mask\"",
            "duration = 1\n[follow]\nwaypoints = [[1, 0, 0], [0, 1, 1]]",
            "not toml at all",
        ] {
            assert!(Script::parse(text).is_err(), "{text}");
        }
        assert!(Script::parse(r#"{"duration": 1.5, "keys": [{"t": 0, "smile": 1}]}"#).is_ok());
    }
}
