//! The screen-light step: right after the baseline (the user is still, frontal and looking
//! at the screen, which is what the reflection needs), the screen shows the session's
//! colours; the engine tells the host what to paint and when, records when each colour
//! reached the screen, keeps a face tile per frame and judges the reflection with
//! `liveness-light`. A response too weak to read (strong room light, a far face) gets
//! guidance and one more run with a fresh salt; anything else decides.

use std::sync::Arc;

use liveness_light::{Judgement, RegionMeans, Schedule, reasons, region_means};
use liveness_protocol::Nonce;
use liveness_protocol::light::{LightColour, SALT_BYTES, derive_light};

use crate::config::EngineConfig;
use crate::guidance::Guidance;
use crate::observation::Observation;

/// Lead-in between the prompt and the first colour, so the first flash does not surprise.
const LEAD_IN_MS: u64 = 150;
/// The step ends this long after it began (frames after the last colour show a late
/// response as late), so its length does not depend on the drawn durations.
const STEP_MS: u64 = liveness_protocol::light::STEP_MS as u64;
/// How long the guidance shows before the second run, and how long a run waits for a face
/// it can use.
const RETRY_PAUSE_MS: u64 = liveness_protocol::light::RETRY_PAUSE_MS as u64;
const MAX_WAIT_MS: u64 = liveness_protocol::light::MAX_WAIT_MS as u64;
/// Tiles closer than this are not kept (at most 22 a second whatever the camera's rate:
/// every frame up to 22 fps, every other one at 30): 45–66 tiles, 7–11 per colour.
const MIN_TILE_GAP_MS: u64 = 45;
/// The face may leave the picture this long during the sequence.
const MAX_LOST_MS: u64 = 800;
/// After the user was asked to come closer, the face must hold a usable size this long
/// before the colours start (they are still moving when the message clears).
const SETTLE_MS: u64 = 400;

/// What the host is asked to paint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScreenRequest {
    /// Colour `index` of the sequence, full screen around the preview.
    Colour { index: u8, rgb: [u8; 3] },
    /// Back to the normal view.
    Restore,
}

/// The judged run, for the evidence.
#[derive(Debug, Clone, PartialEq)]
pub struct LightOutcome {
    pub salt: [u8; SALT_BYTES],
    pub attempt: u8,
    /// When each colour reached the screen (host report, else the time it was asked for),
    /// camera clock.
    pub presented_ms: Vec<u64>,
    pub reported: bool,
    pub restored_ms: u64,
    /// Capture time and RGB tile of every kept frame.
    pub tiles: Vec<(u64, Arc<Vec<u8>>)>,
    pub judgement: Judgement,
}

pub(crate) enum LightProgress {
    Running {
        screen: Option<ScreenRequest>,
        guidance: Option<Guidance>,
        progress: f32,
    },
    Done {
        screen: Option<ScreenRequest>,
        outcome: Box<LightOutcome>,
    },
}

pub(crate) struct LightStep {
    nonce: Nonce,
    salts: [[u8; SALT_BYTES]; 2],
    attempt: u8,
    sequence: Vec<LightColour>,
    /// When the run's lead-in began (the first frame with a usable face).
    began: Option<u64>,
    requested: Vec<u64>,
    presented: Vec<Option<u64>>,
    restored: Option<u64>,
    tiles: Vec<(u64, Arc<Vec<u8>>)>,
    last_face: Option<u64>,
    /// Set while the retry guidance shows.
    paused_until: Option<u64>,
    /// The face size the run needs to start (a second run after a far face needs more).
    min_face_size: Option<f32>,
    /// The user was asked to come closer, and since when the face has been close enough.
    asked_closer: bool,
    close_since: Option<u64>,
    /// When the run started waiting for a usable face.
    waiting_since: Option<u64>,
    /// The face's size on each kept frame of the run.
    sizes: Vec<f32>,
    /// The guidance while the retry pause shows.
    retry_guidance: Guidance,
}

impl LightStep {
    pub(crate) fn new(nonce: Nonce, salts: [[u8; SALT_BYTES]; 2]) -> Self {
        Self {
            sequence: derive_light(&nonce, &salts[0]),
            nonce,
            salts,
            attempt: 1,
            began: None,
            requested: Vec::new(),
            presented: Vec::new(),
            restored: None,
            tiles: Vec::new(),
            last_face: None,
            paused_until: None,
            min_face_size: None,
            asked_closer: false,
            close_since: None,
            waiting_since: None,
            sizes: Vec::new(),
            retry_guidance: Guidance::ScreenLightWeak,
        }
    }

    /// Why the session ends if the input stops now: a second run means the first saw no
    /// reflection.
    pub(crate) fn timeout_reason(&self) -> Option<&'static str> {
        (self.attempt == 2).then_some(reasons::NO_REFLECTION)
    }

    /// The host's report that colour `index` reached the screen at `t_ms` (camera clock).
    pub(crate) fn presented(&mut self, index: u8, t_ms: u64) {
        if let Some(p) = self.presented.get_mut(usize::from(index)) {
            p.get_or_insert(t_ms);
        }
    }

    /// When colour `k` started showing, as well as the engine knows.
    fn start_of(&self, k: usize) -> u64 {
        self.presented[k].unwrap_or(self.requested[k])
    }

    /// A weak first run: a face smaller than `retry_face_size` was too far for the screen to
    /// light (the user is asked to come closer, and the second run waits for it); otherwise
    /// the room's light swamped the screen's.
    fn reset_for_retry(&mut self, t: u64, retry_face_size: f32) {
        let mut sizes = std::mem::take(&mut self.sizes);
        sizes.sort_by(f32::total_cmp);
        let median = sizes.get(sizes.len() / 2).copied().unwrap_or(0.0);
        if median < retry_face_size {
            self.min_face_size = Some(retry_face_size);
            self.retry_guidance = Guidance::TooFar;
        }
        self.asked_closer = false;
        self.close_since = None;
        self.waiting_since = None;
        self.attempt = 2;
        self.sequence = derive_light(&self.nonce, &self.salts[1]);
        self.began = None;
        self.requested.clear();
        self.presented.clear();
        self.restored = None;
        self.tiles.clear();
        self.last_face = None;
        self.paused_until = Some(t + RETRY_PAUSE_MS);
    }

    /// The kept tiles' region means as the server will measure them, out of the evidence's
    /// JPEG mosaic, so that both decide on the same pixels.
    fn received_samples(&self) -> Vec<(u64, RegionMeans)> {
        let raw: Vec<Vec<u8>> = self.tiles.iter().map(|(_, t)| t.to_vec()).collect();
        // An encoder failure leaves the raw tiles; the server then refuses the mosaic anyway.
        let seen = liveness_light::as_received(&raw).unwrap_or(raw);
        self.tiles
            .iter()
            .zip(&seen)
            .filter_map(|((t, _), tile)| Some((*t, region_means(tile)?)))
            .collect()
    }

    /// One frame. `usable`: a single face with no guidance to show.
    pub(crate) fn push(
        &mut self,
        obs: &Observation,
        usable: bool,
        c: &EngineConfig,
    ) -> LightProgress {
        let t = obs.t_ms;
        if let Some(until) = self.paused_until {
            if t < until {
                return LightProgress::Running {
                    screen: None,
                    guidance: Some(self.retry_guidance),
                    progress: 0.0,
                };
            }
            self.paused_until = None;
        }
        let min_size = self.min_face_size.unwrap_or(c.light_min_face_size);
        let face_ok = usable && obs.face.as_ref().is_some_and(|f| f.face_size >= min_size);
        let Some(began) = self.began else {
            let far = usable && !face_ok;
            self.asked_closer |= far;
            if !face_ok {
                self.close_since = None;
            } else {
                let since = *self.close_since.get_or_insert(t);
                if !self.asked_closer || t >= since + SETTLE_MS {
                    self.began = Some(t);
                }
            }
            let waiting = *self.waiting_since.get_or_insert(t);
            if self.began.is_none() && t >= waiting + MAX_WAIT_MS {
                // Never a face to light: too far (after being asked closer), or none usable.
                let reason = if far || self.asked_closer {
                    reasons::NO_REFLECTION
                } else {
                    reasons::NO_FACE
                };
                let judgement = Judgement {
                    passed: false,
                    score: 0.0,
                    reason: Some(reason),
                    response: None,
                };
                return self.conclude(t, None, judgement, t, Vec::new(), c);
            }
            return LightProgress::Running {
                screen: None,
                guidance: far.then_some(Guidance::TooFar),
                progress: 0.0,
            };
        };
        // Keep this frame's tile.
        if let (Some(face), Some(tile)) = (&obs.face, &obs.light_tile)
            && obs.face_count == 1
        {
            self.sizes.push(face.face_size);
            self.last_face = Some(t);
            let gap_ok = self
                .tiles
                .last()
                .is_none_or(|(last, _)| t >= last + MIN_TILE_GAP_MS);
            if gap_ok && region_means(tile).is_some() {
                self.tiles.push((t, tile.clone()));
            }
        }
        let lost = t.saturating_sub(self.last_face.unwrap_or(began)) > MAX_LOST_MS;
        let mut screen = None;
        if self.restored.is_none() {
            let shown = self.requested.len();
            let due = if shown == 0 {
                t >= began + LEAD_IN_MS
            } else {
                t >= self.start_of(shown - 1) + u64::from(self.sequence[shown - 1].duration_ms)
            };
            if lost && shown > 0 {
                self.restored = Some(t);
                screen = Some(ScreenRequest::Restore);
            } else if due && shown < self.sequence.len() {
                self.requested.push(t);
                self.presented.push(None);
                screen = Some(ScreenRequest::Colour {
                    index: shown as u8,
                    rgb: self.sequence[shown].rgb,
                });
            } else if due {
                self.restored = Some(t);
                screen = Some(ScreenRequest::Restore);
            }
        }
        let finished = self.restored.is_some() && (t >= began + STEP_MS || lost);
        if !finished {
            let progress = (t.saturating_sub(began) as f32 / STEP_MS as f32).min(1.0);
            return LightProgress::Running {
                screen,
                guidance: None,
                progress,
            };
        }
        let restored_ms = self.restored.unwrap_or(t);
        let presented_ms: Vec<u64> = (0..self.requested.len())
            .map(|k| self.start_of(k))
            .collect();
        let judgement = if self.requested.len() < self.sequence.len() {
            Judgement {
                passed: false,
                score: 0.0,
                reason: Some(reasons::NO_FACE),
                response: None,
            }
        } else {
            let schedule = Schedule {
                colours: presented_ms
                    .iter()
                    .zip(&self.sequence)
                    .map(|(&p, c)| (p, c.rgb))
                    .collect(),
                restored_ms,
            };
            c.light.judge(&self.received_samples(), &schedule)
        };
        self.conclude(t, screen, judgement, restored_ms, presented_ms, c)
    }

    /// A run's end: a weak first run starts the second, anything else decides.
    fn conclude(
        &mut self,
        t: u64,
        screen: Option<ScreenRequest>,
        judgement: Judgement,
        restored_ms: u64,
        presented_ms: Vec<u64>,
        c: &EngineConfig,
    ) -> LightProgress {
        let weak = matches!(
            judgement.reason,
            Some(reasons::NO_REFLECTION | reasons::NO_FACE)
        );
        if weak && self.attempt == 1 {
            self.reset_for_retry(t, c.light_retry_face_size);
            return LightProgress::Running {
                screen,
                guidance: Some(self.retry_guidance),
                progress: 0.0,
            };
        }
        LightProgress::Done {
            screen,
            outcome: Box::new(LightOutcome {
                salt: self.salts[usize::from(self.attempt - 1)],
                attempt: self.attempt,
                reported: self.presented.iter().all(Option::is_some),
                presented_ms,
                restored_ms,
                tiles: std::mem::take(&mut self.tiles),
                judgement,
            }),
        }
    }
}
