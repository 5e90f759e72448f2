//! One liveness check in the browser, as plain Rust (the wasm-bindgen layer in `lib.rs` only
//! converts types), so it is tested natively like the rest of the core.

use liveness_capture::{CaptureError, CaptureSettings, Recorder, Recording, SessionEvent};
use liveness_challenge::{EngineConfig, Outcome};
use liveness_evidence::{EvidenceConfig, ManifestInfo};
use liveness_frame::Frame;
use liveness_protocol::manifest::{DeviceInfo, SdkInfo, check_session_id};
use liveness_protocol::{ChallengePlan, DeviceSigningKey, Nonce};
use liveness_vision::{Model, ModelKind, ModelSet, PipelineConfig, Precision};
use serde::Deserialize;
use serde_json::{Value, json};

/// The browser runs fp32: tract's int8 path is slower than fp32 on every CPU measured (#19).
pub const PRECISION: Precision = Precision::Fp32;

/// The capture ends (as timed out) this long before the submission token expires, so its
/// evidence can still be uploaded: the native SDK's default margin.
const SUBMIT_MARGIN_MS: i64 = 15_000;

/// A stable code (for the page's logic and translations) and a message (for logs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebError {
    pub code: &'static str,
    pub message: String,
}

impl WebError {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for WebError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl From<CaptureError> for WebError {
    fn from(e: CaptureError) -> Self {
        let code = match &e {
            CaptureError::ModelLoad(_) => "model_load",
            CaptureError::InvalidInput(_) => "invalid_input",
            CaptureError::InvalidFrame(_) => "invalid_frame",
            CaptureError::NoFrames => "no_evidence",
            CaptureError::Internal(_) => "internal",
        };
        Self::new(code, e.to_string())
    }
}

thread_local! {
    /// Models made ready ahead of a check: parsing and optimising the four takes ~1.5 s in a
    /// browser, which a page spends while its intro is read rather than after Start. (A
    /// browser's wasm instance has one thread.)
    static PREPARED: std::cell::RefCell<Vec<Model>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn kind_of(file: &str) -> Result<ModelKind, WebError> {
    ModelKind::ALL
        .into_iter()
        .find(|&k| {
            liveness_vision::models::manifest_entry(k, PRECISION).is_ok_and(|e| e.file == file)
        })
        .ok_or_else(|| WebError::new("model_load", format!("{file} is not a model of this build")))
}

fn parse_model(kind: ModelKind, bytes: &[u8]) -> Result<Model, WebError> {
    Model::from_bytes(kind, PRECISION, bytes)
        .map_err(|e| WebError::new("model_load", e.to_string()))
}

/// Parses, checks (SHA-256) and optimises `file`'s model for the checks this page will run
/// ([`Check::load_prepared`]); replaces one prepared before.
pub fn prepare_model(file: &str, bytes: &[u8]) -> Result<(), WebError> {
    let model = parse_model(kind_of(file)?, bytes)?;
    PREPARED.with_borrow_mut(|p| {
        p.retain(|m| m.kind() != model.kind());
        p.push(model);
    });
    Ok(())
}

/// The part of the server's session answer the page gets (never the result token).
#[derive(Debug, Clone, Deserialize)]
pub struct Descriptor {
    pub session_id: String,
    pub nonce: String,
    pub plan: ChallengePlan,
    pub submission_token: String,
    /// Unix seconds.
    pub submission_expires_at: i64,
}

impl Descriptor {
    pub fn from_json(json: &str) -> Result<Self, WebError> {
        let bad = |m: String| WebError::new("invalid_input", m);
        let d: Self =
            serde_json::from_str(json).map_err(|e| bad(format!("session descriptor: {e}")))?;
        let nonce = Nonce::from_b64url(&d.nonce).map_err(|e| bad(e.to_string()))?;
        if nonce != d.plan.nonce {
            return Err(bad("the plan was not made for this nonce".into()));
        }
        d.plan.validate().map_err(|e| bad(e.to_string()))?;
        check_session_id(&d.session_id).map_err(|e| bad(e.to_string()))?;
        if !d.submission_token.starts_with("st_") {
            return Err(bad("the submission token is not one".into()));
        }
        Ok(d)
    }
}

/// What the page tells the core about the browser.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrowserInfo {
    /// The browser and its version (`navigator.userAgentData` brands or the user agent).
    pub browser: String,
    /// The operating system, as the browser reports it.
    #[serde(default)]
    pub os: String,
    /// `webcrypto` or `wasm` (see [`DeviceInfo::key_storage`]).
    pub key_storage: String,
    /// The page's origin, recorded as the app id.
    #[serde(default)]
    pub origin: Option<String>,
}

/// The file names of the models the page must fetch, with their SHA-256, as JSON.
pub fn model_files() -> Result<Value, WebError> {
    let mut files = Vec::new();
    for kind in ModelKind::ALL {
        let e = liveness_vision::models::manifest_entry(kind, PRECISION)
            .map_err(|e| WebError::new("model_load", e.to_string()))?;
        files.push(json!({ "file": e.file, "sha256": e.sha256, "bytes": e.bytes }));
    }
    Ok(Value::Array(files))
}

enum State {
    /// Waiting for the models.
    Loading(Loaded),
    Capturing(Box<Recorder>),
    /// The engine decided (or the capture was ended); the evidence is not built yet.
    Decided(Box<Recorder>, Outcome),
    Finished(Box<Recording>),
    /// A step failed; the check cannot go on.
    Broken,
}

#[derive(Default)]
struct Loaded {
    detector: Option<Model>,
    detector_full_range: Option<Model>,
    mesh: Option<Model>,
    iris: Option<Model>,
}

/// One check: models in, frames in, events out, then the manifest to sign and the JPEGs.
pub struct Check {
    descriptor: Descriptor,
    device: DeviceInfo,
    state: State,
    first_frame_unix_ms: Option<i64>,
    last_t_ms: Option<u64>,
}

impl std::fmt::Debug for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Check")
            .field("session_id", &self.descriptor.session_id)
            .finish_non_exhaustive()
    }
}

impl Check {
    pub fn new(session_json: &str, browser_json: &str) -> Result<Self, WebError> {
        let descriptor = Descriptor::from_json(session_json)?;
        let browser: BrowserInfo = serde_json::from_str(browser_json)
            .map_err(|e| WebError::new("invalid_input", format!("browser info: {e}")))?;
        if !matches!(browser.key_storage.as_str(), "webcrypto" | "wasm") {
            return Err(WebError::new(
                "invalid_input",
                "key_storage must be webcrypto or wasm",
            ));
        }
        let device = DeviceInfo {
            platform: "web".into(),
            os_version: browser.os,
            model: browser.browser,
            app_id: browser.origin,
            key_storage: Some(browser.key_storage),
        };
        Ok(Self {
            descriptor,
            device,
            state: State::Loading(Loaded::default()),
            first_frame_unix_ms: None,
            last_t_ms: None,
        })
    }

    /// Loads one model from the bytes of `file` (a name from [`model_files`]); a file whose
    /// SHA-256 is not the one this build was made with is refused.
    pub fn load_model(&mut self, file: &str, bytes: &[u8]) -> Result<(), WebError> {
        let kind = kind_of(file)?;
        let slot = self.slot(kind)?;
        *slot = Some(parse_model(kind, bytes)?);
        Ok(())
    }

    /// Takes `file`'s model from those [`prepare_model`] made earlier on this page; `false`
    /// when there is none (load it then).
    pub fn load_prepared(&mut self, file: &str) -> Result<bool, WebError> {
        let kind = kind_of(file)?;
        let Some(model) = PREPARED.with_borrow(|p| p.iter().find(|m| m.kind() == kind).cloned())
        else {
            return Ok(false);
        };
        *self.slot(kind)? = Some(model);
        Ok(true)
    }

    fn slot(&mut self, kind: ModelKind) -> Result<&mut Option<Model>, WebError> {
        let State::Loading(loaded) = &mut self.state else {
            return Err(WebError::new(
                "invalid_state",
                "the models are already loaded",
            ));
        };
        Ok(match kind {
            ModelKind::DetectorShortRange => &mut loaded.detector,
            ModelKind::DetectorFullRange => &mut loaded.detector_full_range,
            ModelKind::FaceMesh => &mut loaded.mesh,
            ModelKind::Iris => &mut loaded.iris,
        })
    }

    /// Starts the capture once every model is loaded.
    pub fn start(&mut self) -> Result<(), WebError> {
        let State::Loading(loaded) = std::mem::replace(&mut self.state, State::Broken) else {
            return Err(WebError::new(
                "invalid_state",
                "the capture has already started",
            ));
        };
        let missing =
            |what: &str| WebError::new("model_load", format!("the {what} model is not loaded"));
        let models = ModelSet {
            detector: loaded.detector.ok_or_else(|| missing("face detector"))?,
            detector_full_range: Some(
                loaded
                    .detector_full_range
                    .ok_or_else(|| missing("full-range detector"))?,
            ),
            mesh: loaded.mesh.ok_or_else(|| missing("face mesh"))?,
            iris: Some(loaded.iris.ok_or_else(|| missing("iris"))?),
        };
        let settings = CaptureSettings {
            engine: EngineConfig::default(),
            evidence: EvidenceConfig::default(),
            pipeline: PipelineConfig::default(),
            precision: PRECISION,
            models: Some(models),
            light_salts: liveness_capture::light_salts(None)?,
        };
        let recorder = Recorder::new(self.descriptor.plan.clone(), settings)?;
        self.state = State::Capturing(Box::new(recorder));
        Ok(())
    }

    /// Analyses one RGBA frame (a canvas's `getImageData`) taken at `t_ms` (the page's
    /// `performance.now()` clock); `now_unix_ms` is `Date.now()`. Returns the events, and
    /// `done` once the engine has decided.
    pub fn push_rgba(
        &mut self,
        rgba: &[u8],
        width: u32,
        height: u32,
        t_ms: f64,
        now_unix_ms: f64,
    ) -> Result<Value, WebError> {
        let State::Capturing(recorder) = &mut self.state else {
            return Err(WebError::new("invalid_state", "the capture is not running"));
        };
        let t_ms = clock_ms(t_ms)?;
        if self.last_t_ms.is_some_and(|last| t_ms <= last) {
            // A repeated or reordered frame (the same video frame grabbed twice) carries no
            // new information and would break the engine's timing.
            return Ok(json!({ "events": [], "done": false, "skipped": true }));
        }
        let frame = Frame::rgba8(rgba, width, height, width as usize * 4)
            .map_err(|e| WebError::new("invalid_frame", e.to_string()))?;
        let now_unix_ms = now_unix_ms as i64;
        let expires_ms = self.descriptor.submission_expires_at * 1000 - SUBMIT_MARGIN_MS;
        if recorder.frames() > 0 && now_unix_ms >= expires_ms {
            return Ok(self.end("timed_out"));
        }
        self.last_t_ms = Some(t_ms);
        self.first_frame_unix_ms.get_or_insert(now_unix_ms);
        let step = match recorder.push(t_ms, &frame) {
            Ok(step) => step,
            Err(e @ CaptureError::InvalidFrame(_)) => return Err(e.into()),
            Err(e) => {
                self.state = State::Broken;
                return Err(e.into());
            }
        };
        let mut events: Vec<Value> = step.events.iter().map(event_json).collect();
        let done = if let Some(outcome) = step.outcome {
            let State::Capturing(mut recorder) = std::mem::replace(&mut self.state, State::Broken)
            else {
                return Err(WebError::new("internal", "the capture state changed"));
            };
            events.extend(recorder.conclude(&outcome).iter().map(event_json));
            self.state = State::Decided(recorder, outcome);
            true
        } else {
            false
        };
        Ok(json!({ "events": events, "done": done }))
    }

    /// Light colour `index` was on the screen from `t_ms` (a `requestAnimationFrame` time).
    pub fn screen_presented(&mut self, index: u8, t_ms: f64) {
        if let (State::Capturing(r), Ok(t)) = (&mut self.state, clock_ms(t_ms)) {
            r.screen_presented(index, t);
        }
    }

    /// Ends the capture before the engine decided: `timed_out` (the page's own clock) or
    /// anything else for frames that stopped. What was captured is judged (not live).
    pub fn end(&mut self, reason: &str) -> Value {
        let State::Capturing(mut recorder) = std::mem::replace(&mut self.state, State::Broken)
        else {
            return json!({ "events": [], "done": true });
        };
        let outcome = if reason == "timed_out" {
            recorder.end_early("timed_out")
        } else {
            recorder.end_incomplete()
        };
        let events: Vec<Value> = recorder.conclude(&outcome).iter().map(event_json).collect();
        self.state = State::Decided(recorder, outcome);
        json!({ "events": events, "done": true })
    }

    /// Builds the evidence and returns the manifest's exact bytes, to sign with the device
    /// key. Once per check.
    pub fn manifest(&mut self) -> Result<Vec<u8>, WebError> {
        let State::Decided(recorder, outcome) = std::mem::replace(&mut self.state, State::Broken)
        else {
            return Err(WebError::new("invalid_state", "the capture has not ended"));
        };
        let nonce = Nonce::from_b64url(&self.descriptor.nonce)
            .map_err(|e| WebError::new("invalid_input", e.to_string()))?;
        let info = ManifestInfo {
            session_id: self.descriptor.session_id.clone(),
            nonce,
            submission_token: self.descriptor.submission_token.clone(),
            sdk: SdkInfo {
                name: "liveness-web".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            models: Vec::new(),
            device: self.device.clone(),
            capture_started_at_ms: self.first_frame_unix_ms.unwrap_or_default(),
            attestation: None,
        };
        let recording = recorder.finish(info, outcome)?;
        let bytes = recording
            .evidence
            .manifest
            .to_json_bytes()
            .map_err(|e| WebError::new("internal", e.to_string()))?;
        self.state = State::Finished(Box::new(recording));
        Ok(bytes)
    }

    /// For a browser without WebCrypto Ed25519: signs the manifest with a key generated here
    /// for this check only. Returns the public key (32 bytes) then the signature (64).
    pub fn sign_with_ephemeral_key(&self) -> Result<Vec<u8>, WebError> {
        let State::Finished(recording) = &self.state else {
            return Err(WebError::new("invalid_state", "the manifest is not built"));
        };
        if self.device.key_storage.as_deref() != Some("wasm") {
            return Err(WebError::new(
                "invalid_state",
                "this check declared its key as webcrypto",
            ));
        }
        let key =
            DeviceSigningKey::generate().map_err(|e| WebError::new("internal", e.to_string()))?;
        let signed = key
            .sign_manifest(&recording.evidence.manifest)
            .map_err(|e| WebError::new("internal", e.to_string()))?;
        let mut out = signed.public_key.to_vec();
        out.extend_from_slice(&signed.signature);
        Ok(out)
    }

    /// The evidence JPEGs in manifest order (photo first), once the manifest is built.
    pub fn frames(&self) -> &[Vec<u8>] {
        match &self.state {
            State::Finished(r) => &r.evidence.frames,
            _ => &[],
        }
    }

    /// How the engine decided: `{passed, failure}` (what the user is told; the verdict is
    /// the server's).
    pub fn local_outcome(&self) -> Value {
        match &self.state {
            State::Decided(_, o) => json!({ "passed": o.passed, "failure": o.failure }),
            State::Finished(r) => {
                json!({ "passed": r.outcome.passed, "failure": r.outcome.failure })
            }
            _ => Value::Null,
        }
    }
}

fn clock_ms(t_ms: f64) -> Result<u64, WebError> {
    if t_ms.is_finite() && t_ms >= 0.0 {
        Ok(t_ms as u64)
    } else {
        Err(WebError::new(
            "invalid_frame",
            format!("the frame time {t_ms} is not a time"),
        ))
    }
}

/// An event as the page's JavaScript reads it: `{type, ...}` with snake_case fields.
pub fn event_json(e: &SessionEvent) -> Value {
    match e {
        SessionEvent::Guidance { code, text } => {
            json!({"type": "guidance", "code": code, "text": text})
        }
        SessionEvent::Prompt { code, text, target } => {
            json!({"type": "prompt", "code": code, "text": text, "target": target})
        }
        SessionEvent::Progress { step, session } => {
            json!({"type": "progress", "step": step, "session": session})
        }
        SessionEvent::ChallengeStarted { index, kind } => {
            json!({"type": "challenge_started", "index": index, "kind": kind.name()})
        }
        SessionEvent::ChallengeFinished {
            index,
            kind,
            passed,
            reason,
        } => json!({"type": "challenge_finished", "index": index, "kind": kind.name(),
                    "passed": passed, "reason": reason}),
        SessionEvent::Captured {
            role,
            challenge_index,
        } => {
            json!({"type": "captured", "role": format!("{role:?}"), "challenge_index": challenge_index})
        }
        SessionEvent::LocalOutcome { passed, failure } => {
            json!({"type": "local_outcome", "passed": passed, "failure": failure})
        }
        SessionEvent::Screen { index, rgb } => {
            json!({"type": "screen", "index": index, "rgb": rgb})
        }
        SessionEvent::Submitting { attempt } => json!({"type": "submitting", "attempt": attempt}),
        SessionEvent::Submitted { job_id } => json!({"type": "submitted", "job_id": job_id}),
        SessionEvent::Result { job_id, status } => {
            json!({"type": "result", "job_id": job_id, "status": status})
        }
        SessionEvent::Error { code, message } => {
            json!({"type": "error", "code": code, "message": message})
        }
        _ => json!({"type": "other"}),
    }
}
