//! # liveness-capture
//!
//! The on-device half of a session with no I/O and no threads: a [`Recorder`] takes one frame
//! at a time (pushed, with its timestamp), runs the vision pipeline and the challenge engine
//! on it, keeps evidence, and answers with the [`SessionEvent`]s a host paints (prompt,
//! guidance, progress, the light step's colours). When the engine decides, [`Recorder::finish`]
//! builds the evidence and the manifest the device signs.
//!
//! Two drivers share it, so the browser runs exactly the phone's decision:
//! `liveness-session` pulls frames from a source in a worker thread, and `liveness-web`
//! pushes each video frame from JavaScript. Neither the clock nor the network lives here:
//! the driver decides when time is up ([`Recorder::end_early`]) and where evidence goes.

#![forbid(unsafe_code)]

mod events;

use liveness_challenge::{
    EngineConfig, Event, Guidance, Observation, Outcome, Prompt, ScreenRequest, Session,
};
use liveness_evidence::{Evidence, EvidenceConfig, EvidenceError, EvidenceStore, ManifestInfo};
use liveness_frame::Frame;
use liveness_protocol::manifest::{ModelInfo, StepResult};
use liveness_protocol::{ChallengeKind, ChallengePlan, Sha256Digest};
use liveness_vision::{ModelKind, ModelSet, Pipeline, PipelineConfig, Precision};

pub use events::SessionEvent;

/// Why a capture could not go on. The session maps each onto its stable SDK error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaptureError {
    #[error("the face models could not be loaded: {0}")]
    ModelLoad(String),
    #[error("invalid settings: {0}")]
    InvalidInput(String),
    #[error("invalid frame: {0}")]
    InvalidFrame(String),
    #[error("the camera delivered no frame")]
    NoFrames,
    #[error("{0}")]
    Internal(String),
}

/// How to capture: the engine's, the evidence's and the pipeline's settings, the models.
#[derive(Debug, Clone)]
pub struct CaptureSettings {
    pub engine: EngineConfig,
    pub evidence: EvidenceConfig,
    pub pipeline: PipelineConfig,
    pub precision: Precision,
    /// Models already loaded; the bundled set of `precision` when `None`.
    pub models: Option<ModelSet>,
    /// The light step's two secret salts ([`light_salts`]).
    pub light_salts: [[u8; 16]; 2],
}

/// The light step's salts: from the OS's randomness, or (evaluation only, so a seeded
/// evaluation shows the same colours every run) derived from `seed`. An app never passes a
/// seed: the colours would be guessable.
pub fn light_salts(seed: Option<[u8; 32]>) -> Result<[[u8; 16]; 2], CaptureError> {
    let mut salts = [[0u8; 16]; 2];
    for (k, salt) in salts.iter_mut().enumerate() {
        match seed {
            Some(seed) => {
                let mut h = <sha2::Sha256 as sha2::Digest>::new();
                sha2::Digest::update(&mut h, b"liveness-eval-light-salt");
                sha2::Digest::update(&mut h, seed);
                sha2::Digest::update(&mut h, [k as u8]);
                salt.copy_from_slice(&sha2::Digest::finalize(h)[..16]);
            }
            None => getrandom::fill(salt).map_err(|e| {
                CaptureError::Internal(format!("no randomness for the light step: {e}"))
            })?,
        }
    }
    Ok(salts)
}

/// What one frame changed.
#[derive(Debug, Clone, Default)]
pub struct Step {
    /// For the host, in order; only what changed since the last frame.
    pub events: Vec<SessionEvent>,
    /// The light step's screen changes, for a driver whose source is its own screen (a
    /// rendered subject) to apply: it reports back with [`Recorder::screen_presented`].
    pub screen: Vec<ScreenRequest>,
    /// Set once the engine has decided; push no more frames after it.
    pub outcome: Option<Outcome>,
}

/// One capture, frame by frame. See the crate documentation.
pub struct Recorder {
    pipeline: Pipeline,
    engine: Session,
    store: EvidenceStore,
    iris: bool,
    models: Vec<ModelInfo>,
    frames: u64,
    shown_guidance: Option<Guidance>,
    shown_prompt: Option<(&'static str, Option<[f32; 2]>)>,
    shown_progress: (f32, f32),
    /// Whether a light colour is on the screen: however the capture ends, the host gets the
    /// normal view back.
    painting: bool,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("frames", &self.frames)
            .finish_non_exhaustive()
    }
}

/// The finished capture: evidence ready to sign and how the engine decided.
#[derive(Debug, Clone)]
pub struct Recording {
    pub evidence: Evidence,
    pub outcome: Outcome,
    pub frames: u64,
}

impl Recorder {
    pub fn new(plan: ChallengePlan, settings: CaptureSettings) -> Result<Self, CaptureError> {
        settings
            .engine
            .validate()
            .map_err(|e| CaptureError::InvalidInput(e.to_string()))?;
        let models = match settings.models {
            Some(m) => m,
            #[cfg(feature = "bundled-models")]
            None => ModelSet::bundled(settings.precision)
                .map_err(|e| CaptureError::ModelLoad(e.to_string()))?,
            #[cfg(not(feature = "bundled-models"))]
            None => {
                return Err(CaptureError::ModelLoad(
                    "this build embeds no models: load them and pass them in the settings".into(),
                ));
            }
        };
        let model_info = ModelKind::ALL
            .iter()
            .filter_map(|&k| {
                let entry = liveness_vision::models::manifest_entry(k, settings.precision).ok()?;
                Some(ModelInfo {
                    name: k.name().to_owned(),
                    version: format!("{:?}", settings.precision).to_lowercase(),
                    sha256: Sha256Digest::from_hex("sha256", &entry.sha256).ok()?,
                })
            })
            .collect();
        let iris = settings.pipeline.iris;
        let pipeline = Pipeline::new(models, settings.pipeline)
            .map_err(|e| CaptureError::ModelLoad(e.to_string()))?;
        let engine = Session::new(plan, settings.engine)
            .map_err(|e| CaptureError::InvalidInput(e.to_string()))?
            .with_light_salts(settings.light_salts);
        Ok(Self {
            pipeline,
            engine,
            store: EvidenceStore::new(settings.evidence),
            iris,
            models: model_info,
            frames: 0,
            shown_guidance: None,
            shown_prompt: None,
            shown_progress: (-1.0, -1.0),
            painting: false,
        })
    }

    /// Frames analysed so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// The models the evidence was judged with, for the manifest.
    pub fn models(&self) -> &[ModelInfo] {
        &self.models
    }

    /// Light colour `index` reached the screen at `t_ms` (the frames' clock).
    pub fn screen_presented(&mut self, index: u8, t_ms: u64) {
        self.engine.screen_presented(index, t_ms);
    }

    /// Analyses one frame taken at `t_ms` (milliseconds, increasing, the clock of
    /// [`Recorder::screen_presented`]).
    pub fn push(&mut self, t_ms: u64, frame: &Frame<'_>) -> Result<Step, CaptureError> {
        self.frames += 1;
        // The iris model runs on top of the configured pipeline only while the engine judges
        // eyes (the baseline, a blink step).
        self.pipeline
            .set_iris(self.iris || self.engine.wants_lids());
        let analysis = self
            .pipeline
            .process(frame)
            .map_err(|e| CaptureError::InvalidFrame(e.to_string()))?;
        let mut obs = Observation::from_analysis(t_ms, frame, &analysis);
        if self.engine.wants_light_tiles() {
            obs = obs.with_light_tile(frame);
        }
        let update = self
            .engine
            .push(&obs)
            .map_err(|e| CaptureError::InvalidFrame(e.to_string()))?;
        self.store
            .observe(t_ms, frame, &analysis)
            .map_err(|e| CaptureError::Internal(e.to_string()))?;
        let mut step = Step::default();
        for c in &update.captures {
            self.store
                .offer(c, t_ms, frame, &analysis)
                .map_err(|e| CaptureError::Internal(e.to_string()))?;
            step.events.push(SessionEvent::Captured {
                role: c.role,
                challenge_index: c.challenge_index,
            });
        }
        if update.guidance != self.shown_guidance {
            self.shown_guidance = update.guidance;
            step.events.push(SessionEvent::Guidance {
                code: update.guidance.map(Guidance::code),
                text: update.guidance.map(Guidance::text),
            });
        }
        let (code, text, target) = prompt_text(&update.prompt);
        if self.shown_prompt != Some((code, target)) {
            self.shown_prompt = Some((code, target));
            step.events
                .push(SessionEvent::Prompt { code, text, target });
        }
        let progress = (update.step_progress, update.session_progress);
        if (progress.0 - self.shown_progress.0).abs() >= 0.02
            || (progress.1 - self.shown_progress.1).abs() >= 0.02
        {
            self.shown_progress = progress;
            step.events.push(SessionEvent::Progress {
                step: progress.0,
                session: progress.1,
            });
        }
        for e in &update.events {
            match e {
                Event::ChallengeStarted { index, kind } => {
                    step.events.push(SessionEvent::ChallengeStarted {
                        index: *index,
                        kind: *kind,
                    });
                }
                Event::ChallengeFinished {
                    index,
                    kind,
                    result,
                    reason,
                } => step.events.push(SessionEvent::ChallengeFinished {
                    index: *index,
                    kind: *kind,
                    passed: *result == StepResult::Passed,
                    reason: reason.map(str::to_owned),
                }),
                Event::Screen(request) => {
                    let (index, rgb) = match *request {
                        ScreenRequest::Colour { index, rgb } => (Some(index), Some(rgb)),
                        ScreenRequest::Restore => (None, None),
                    };
                    self.painting = index.is_some();
                    step.events.push(SessionEvent::Screen { index, rgb });
                    step.screen.push(*request);
                }
                _ => {}
            }
        }
        step.outcome = update.outcome;
        Ok(step)
    }

    /// Ends the capture before the engine decided (`reason`: `timed_out`, ...): what was
    /// captured is judged (not live) rather than lost.
    pub fn end_early(&mut self, reason: &'static str) -> Outcome {
        self.engine.end_early(reason)
    }

    /// Ends the capture because the frames stopped.
    pub fn end_incomplete(&mut self) -> Outcome {
        self.engine.end_incomplete()
    }

    /// The events that close the capture once `outcome` is known: the normal view back if
    /// a light colour was showing, then the local outcome. Call once, before [`Recorder::finish`].
    pub fn conclude(&mut self, outcome: &Outcome) -> Vec<SessionEvent> {
        let mut events = Vec::new();
        if std::mem::take(&mut self.painting) {
            events.push(SessionEvent::Screen {
                index: None,
                rgb: None,
            });
        }
        events.push(SessionEvent::LocalOutcome {
            passed: outcome.passed,
            failure: outcome.failure.map(str::to_owned),
        });
        events
    }

    /// Encodes the evidence and builds the manifest for `outcome` (from [`Step::outcome`],
    /// [`Recorder::end_early`] or [`Recorder::end_incomplete`]); `info.models` is filled in
    /// here.
    pub fn finish(
        self,
        mut info: ManifestInfo,
        outcome: Outcome,
    ) -> Result<Recording, CaptureError> {
        info.models = self.models.clone();
        let evidence = self.store.finish(&info, &outcome).map_err(|e| match e {
            EvidenceError::NoFrames => CaptureError::NoFrames,
            other => CaptureError::Internal(other.to_string()),
        })?;
        Ok(Recording {
            evidence,
            outcome,
            frames: self.frames,
        })
    }

    /// Whether a light colour is on the screen now.
    pub fn painting(&self) -> bool {
        self.painting
    }
}

/// Every prompt code the capture can send (hosts check their translations against it).
pub fn prompt_codes() -> Vec<&'static str> {
    let mut codes: Vec<&'static str> = [
        Prompt::LookAtCamera,
        Prompt::LightCheck,
        Prompt::ReturnToCenter,
        Prompt::Done,
    ]
    .iter()
    .chain(
        ChallengeKind::ALL
            .map(|kind| Prompt::Challenge {
                index: 0,
                kind,
                target: None,
            })
            .iter(),
    )
    .map(|p| prompt_text(p).0)
    .collect();
    codes.dedup();
    codes
}

fn prompt_text(p: &Prompt) -> (&'static str, &'static str, Option<[f32; 2]>) {
    match p {
        Prompt::LookAtCamera => ("look_at_camera", "Look straight at the camera", None),
        Prompt::ReturnToCenter => ("return_to_center", "Look back at the camera", None),
        Prompt::LightCheck => (
            "light_check",
            "Hold still and look at the screen: it will change colour",
            None,
        ),
        Prompt::Done => ("done", "Done", None),
        Prompt::Challenge { kind, target, .. } => {
            let (code, text) = match kind {
                ChallengeKind::HeadLeft => ("turn_left", "Turn your head to the left"),
                ChallengeKind::HeadRight => ("turn_right", "Turn your head to the right"),
                ChallengeKind::HeadUp => ("look_up", "Tilt your head up"),
                ChallengeKind::HeadDown => ("look_down", "Tilt your head down"),
                ChallengeKind::MoveTowardsCamera => ("move_closer", "Move closer to the camera"),
                ChallengeKind::MoveAwayFromCamera => ("move_away", "Move away from the camera"),
                ChallengeKind::FollowText => {
                    ("follow_text", "Follow the moving text with your head")
                }
                ChallengeKind::BlinkEyes => ("blink", "Blink your eyes"),
                ChallengeKind::Smile => ("smile", "Smile"),
            };
            (code, text, *target)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn prompt_codes_are_unique_and_cover_every_challenge() {
        let codes = super::prompt_codes();
        let mut sorted = codes.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), codes.len());
        assert_eq!(codes.len(), 4 + liveness_protocol::ChallengeKind::ALL.len());
    }

    #[test]
    fn seeded_salts_repeat_and_random_salts_differ() {
        let seed = Some([7u8; 32]);
        assert_eq!(super::light_salts(seed), super::light_salts(seed));
        let (a, b) = (super::light_salts(None), super::light_salts(None));
        assert_ne!(a, b);
        let a = a.unwrap_or_default();
        assert_ne!(a[0], a[1]);
    }
}
