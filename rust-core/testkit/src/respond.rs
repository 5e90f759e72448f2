//! A subject that reacts to what the session shows, as a person does: still while the screen
//! flashes (the light step, its retry included), and coming closer while the light step asks
//! to. Shared by every closed-loop frame source (the SDK's rendered source, the browser
//! tests' rendered camera), so all of them model the same person.

/// A person's delay between reading "move closer" and moving.
const REACTION_S: f32 = 0.4;
/// How fast a person asked to move closer comes (relative size a second), and how long they
/// go on after the message clears.
const APPROACH_PER_S: f32 = 0.5;
const APPROACH_OVERRUN_S: f32 = 0.3;
/// Nobody comes closer than this many times their first distance's size.
const MAX_APPROACH: f32 = 2.2;
/// A responsive performance ends at most this long after its script would have.
pub const MAX_PAUSED_S: f32 = 30.0;

/// What the subject has read on the screen so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cues {
    pub light_step: bool,
    pub too_far: bool,
}

impl Cues {
    /// The session showed the prompt `code`. After the flashes a person waits, still, for
    /// the next instruction (the engine asks them to face the camera first, which they
    /// already do).
    pub fn prompt(&mut self, code: &str) {
        self.light_step = code == "light_check" || (self.light_step && code == "return_to_center");
    }

    /// The session showed the guidance `code` (`None`: it cleared).
    pub fn guidance(&mut self, code: Option<&str>) {
        self.too_far = code == Some("too_far");
    }
}

/// Where a responsive subject is in its script, and how much closer it came.
#[derive(Debug, Clone, Default)]
pub struct Responder {
    script_t: f32,
    last_t: Option<f32>,
    approach: f32,
    asked_since: Option<f32>,
    cleared_at: Option<f32>,
}

impl Responder {
    pub fn new() -> Self {
        Self {
            approach: 1.0,
            ..Self::default()
        }
    }

    /// The script time and size factor for a frame captured at `t` seconds, given what the
    /// subject has read by then. Call it with non-decreasing `t`.
    pub fn step(&mut self, t: f32, cues: Cues) -> (f32, f32) {
        let dt = self.last_t.map_or(0.0, |l| (t - l).max(0.0));
        self.last_t = Some(t);
        if !cues.light_step {
            self.script_t += dt;
        }
        if cues.light_step && cues.too_far {
            self.asked_since.get_or_insert(t);
            self.cleared_at = None;
        } else if self.asked_since.is_some() && self.cleared_at.is_none() {
            self.cleared_at = Some(t);
        }
        let moving = match (self.asked_since, self.cleared_at) {
            (Some(since), None) => t - since >= REACTION_S,
            (Some(_), Some(cleared)) => t - cleared < APPROACH_OVERRUN_S,
            _ => false,
        };
        if moving {
            self.approach = (self.approach * (1.0 + APPROACH_PER_S * dt)).min(MAX_APPROACH);
        } else if self.cleared_at.is_some() {
            self.asked_since = None;
            self.cleared_at = None;
        }
        (self.script_t, self.approach)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_through_the_light_step_and_its_return() {
        let mut r = Responder::new();
        let mut c = Cues::default();
        assert_eq!(r.step(0.0, c), (0.0, 1.0));
        assert_eq!(r.step(1.0, c).0, 1.0);
        c.prompt("light_check");
        assert_eq!(r.step(2.0, c).0, 1.0);
        c.prompt("return_to_center");
        assert_eq!(r.step(2.5, c).0, 1.0);
        c.prompt("turn_left");
        assert!(!c.light_step);
        assert_eq!(r.step(3.0, c).0, 1.5);
        // A return to the centre outside the light step does not pause.
        c.prompt("return_to_center");
        assert_eq!(r.step(3.5, c).0, 2.0);
    }

    #[test]
    fn comes_closer_only_when_the_light_step_asks_after_a_reaction() {
        let mut r = Responder::new();
        let mut c = Cues::default();
        c.guidance(Some("too_far"));
        r.step(0.0, c);
        assert_eq!(
            r.step(1.0, c).1,
            1.0,
            "too_far outside the light step is ignored"
        );
        c.prompt("light_check");
        r.step(1.1, c);
        assert_eq!(r.step(1.3, c).1, 1.0, "no move within the reaction time");
        let mut last = 1.0;
        for k in 0..40 {
            let (_, a) = r.step(1.6 + k as f32 * 0.1, c);
            assert!(a >= last);
            last = a;
        }
        assert!(last > 1.5 && last <= MAX_APPROACH, "{last}");
        c.guidance(None);
        let (_, after) = r.step(6.0, c);
        let (_, later) = r.step(7.0, c);
        assert_eq!(after, later, "stops once the message has cleared");
    }
}
