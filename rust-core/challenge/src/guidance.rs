//! What the UI tells the user each frame, debounced so messages do not flicker.

use crate::config::EngineConfig;
use crate::observation::Observation;

/// A problem with the picture, highest priority first. Codes are stable; the English text is
/// a default for hosts without their own strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Guidance {
    NoFace,
    MultipleFaces,
    FaceOccluded,
    TooDark,
    TooBright,
    TooFar,
    TooClose,
    NotCentered,
    Blurry,
    HoldStill,
    /// The screen's light did not show on the face: strong room light or a far face.
    ScreenLightWeak,
}

impl Guidance {
    /// Every message, highest priority first (hosts check their translations against it).
    pub const ALL: [Guidance; 11] = [
        Self::NoFace,
        Self::MultipleFaces,
        Self::FaceOccluded,
        Self::TooDark,
        Self::TooBright,
        Self::TooFar,
        Self::TooClose,
        Self::NotCentered,
        Self::Blurry,
        Self::HoldStill,
        Self::ScreenLightWeak,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::NoFace => "no_face",
            Self::MultipleFaces => "multiple_faces",
            Self::FaceOccluded => "face_occluded",
            Self::TooDark => "too_dark",
            Self::TooBright => "too_bright",
            Self::TooFar => "too_far",
            Self::TooClose => "too_close",
            Self::NotCentered => "not_centered",
            Self::Blurry => "blurry",
            Self::HoldStill => "hold_still",
            Self::ScreenLightWeak => "screen_light_weak",
        }
    }

    pub fn text(self) -> &'static str {
        match self {
            Self::NoFace => "Put your face in the frame",
            Self::MultipleFaces => "Only one face, please",
            Self::FaceOccluded => "Uncover your face",
            Self::TooDark => "Too dark: find more light",
            Self::TooBright => "Too bright: avoid direct light",
            Self::TooFar => "Move closer",
            Self::TooClose => "Move away a little",
            Self::NotCentered => "Centre your face in the frame",
            Self::Blurry => "Hold the phone steady",
            Self::HoldStill => "Hold still",
            Self::ScreenLightWeak => "Move out of direct light and hold the phone a little closer",
        }
    }
}

/// Which checks a phase suspends: a distance challenge must not be told "too close".
#[derive(Debug, Clone, Copy, Default)]
pub struct Allow {
    pub any_distance: bool,
    pub off_centre: bool,
}

/// The first problem on this frame, in priority order.
pub fn assess(obs: &Observation, c: &EngineConfig, allow: Allow) -> Option<Guidance> {
    let Some(face) = &obs.face else {
        return Some(if obs.frame_brightness < c.min_brightness {
            Guidance::TooDark
        } else {
            Guidance::NoFace
        });
    };
    if obs.face_count > 1 {
        return Some(Guidance::MultipleFaces);
    }
    if face.occlusion > c.max_occlusion {
        return Some(Guidance::FaceOccluded);
    }
    if face.brightness < c.min_brightness {
        return Some(Guidance::TooDark);
    }
    if face.brightness > c.max_brightness {
        return Some(Guidance::TooBright);
    }
    if !allow.any_distance && face.face_size < c.min_face_size {
        return Some(Guidance::TooFar);
    }
    if !allow.any_distance && face.face_size > c.max_face_size {
        return Some(Guidance::TooClose);
    }
    if !allow.off_centre
        && face
            .center_offset
            .iter()
            .any(|o| o.abs() > c.max_center_offset)
    {
        return Some(Guidance::NotCentered);
    }
    if face.sharpness < c.min_sharpness {
        return Some(Guidance::Blurry);
    }
    None
}

/// Shows a message only once it has held for `debounce_ms`, and keeps it until another state
/// (including "no problem") has held as long.
#[derive(Debug, Clone, Default)]
pub struct Debouncer {
    shown: Option<Guidance>,
    candidate: Option<Guidance>,
    since_ms: u64,
}

impl Debouncer {
    pub fn update(
        &mut self,
        now_ms: u64,
        raw: Option<Guidance>,
        debounce_ms: u32,
    ) -> Option<Guidance> {
        if raw != self.candidate {
            self.candidate = raw;
            self.since_ms = now_ms;
        }
        if raw != self.shown && now_ms.saturating_sub(self.since_ms) >= u64::from(debounce_ms) {
            self.shown = raw;
        }
        self.shown
    }

    pub fn shown(&self) -> Option<Guidance> {
        self.shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debouncing_ignores_blips() {
        let mut d = Debouncer::default();
        assert_eq!(d.update(0, Some(Guidance::TooFar), 250), None);
        assert_eq!(d.update(100, None, 250), None, "a 100 ms blip never shows");
        assert_eq!(d.update(200, Some(Guidance::TooFar), 250), None);
        assert_eq!(
            d.update(460, Some(Guidance::TooFar), 250),
            Some(Guidance::TooFar)
        );
        assert_eq!(
            d.update(500, None, 250),
            Some(Guidance::TooFar),
            "and it stays a while"
        );
        assert_eq!(d.update(760, None, 250), None);
    }
}
