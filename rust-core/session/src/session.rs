//! [`LivenessSession`]: one run from the first frame to the server's answer.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use liveness_capture::{CaptureSettings, Recorder, light_salts};
use liveness_challenge::{EngineConfig, Outcome, ScreenRequest};
use liveness_evidence::{EvidenceConfig, ManifestInfo};
use liveness_protocol::manifest::{Attestation, DeviceInfo, SdkInfo};
use liveness_protocol::{ChallengePlan, DeviceSigningKey, Nonce, Sha256Digest};
use liveness_vision::{ModelSet, PipelineConfig, Precision};
use serde::Deserialize;
use tokio::sync::Notify;

use crate::client::{PinSet, RetryPolicy, ServerClient, Upload};
use crate::error::SdkError;
use crate::events::{Observer, ScreenReports, SessionEvent};
use crate::source::FrameSource;
pub use liveness_capture::prompt_codes;

/// What the app gets from its backend for one session (the server's `POST /v1/sessions`
/// answer without the result token, which stays with the backend).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SessionDescriptor {
    /// The verification server's base URL (https; http only on loopback).
    #[serde(default)]
    pub server_url: String,
    pub session_id: String,
    pub nonce: String,
    pub plan: ChallengePlan,
    pub submission_token: String,
    /// Unix seconds.
    pub submission_expires_at: i64,
}

impl SessionDescriptor {
    /// Parses the server's session JSON (extra fields, like the result token, are ignored).
    pub fn from_json(server_url: &str, json: &[u8]) -> Result<Self, SdkError> {
        let mut d: Self = serde_json::from_slice(json)
            .map_err(|e| SdkError::InvalidInput(format!("session descriptor: {e}")))?;
        d.server_url = server_url.to_owned();
        d.validate()?;
        Ok(d)
    }

    pub fn validate(&self) -> Result<(), SdkError> {
        let bad = |m: String| Err(SdkError::InvalidInput(m));
        crate::client::check_server_url(&self.server_url)?;
        let nonce =
            Nonce::from_b64url(&self.nonce).map_err(|e| SdkError::InvalidInput(e.to_string()))?;
        if nonce != self.plan.nonce {
            return bad("the plan was not made for this nonce".into());
        }
        self.plan
            .validate()
            .map_err(|e| SdkError::InvalidInput(e.to_string()))?;
        liveness_protocol::manifest::check_session_id(&self.session_id)
            .map_err(|e| SdkError::InvalidInput(e.to_string()))?;
        if !self.submission_token.starts_with("st_") {
            return bad("the submission token is not one".into());
        }
        Ok(())
    }
}

/// A platform attestation (App Attest, Play Integrity) for the manifest. `challenge` is
/// SHA-256(nonce ‖ device public key), to put in the attestation's client data.
pub trait AttestationProvider: Send + Sync {
    fn attest(&self, challenge: &[u8; 32]) -> Result<Option<Attestation>, SdkError>;
}

#[derive(Clone)]
pub struct SessionConfig {
    pub engine: EngineConfig,
    pub evidence: EvidenceConfig,
    pub pipeline: PipelineConfig,
    pub precision: Precision,
    /// Models already loaded (several sessions in one process share them).
    pub models: Option<ModelSet>,
    pub retry: RetryPolicy,
    pub pins: PinSet,
    pub http_timeout: Duration,
    pub poll_interval: Duration,
    pub poll_timeout: Duration,
    /// The capture ends (as timed out) this long before the submission token expires, so
    /// its evidence can still be uploaded and judged: a session that ends on the device
    /// always ends on the server too.
    pub submit_margin: Duration,
    pub sdk: SdkInfo,
    pub device: DeviceInfo,
    pub attestation: Option<Arc<dyn AttestationProvider>>,
    /// Evaluation only: the light step's salts are derived from this value instead of drawn
    /// from the OS, so a seeded evaluation gives the same colours every run. An app never
    /// sets it (the salts would be guessable).
    pub light_salt_seed: Option<[u8; 32]>,
}

impl std::fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionConfig")
            .field("precision", &self.precision)
            .field("retry", &self.retry)
            .field("pins", &self.pins.0.len())
            .finish_non_exhaustive()
    }
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            engine: EngineConfig::default(),
            evidence: EvidenceConfig::default(),
            pipeline: PipelineConfig::default(),
            precision: Precision::Fp32,
            models: None,
            retry: RetryPolicy::default(),
            pins: PinSet::default(),
            http_timeout: Duration::from_secs(20),
            poll_interval: Duration::from_millis(250),
            poll_timeout: Duration::from_secs(60),
            submit_margin: Duration::from_secs(15),
            sdk: SdkInfo {
                name: "liveness-sdk".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            device: DeviceInfo {
                platform: std::env::consts::OS.into(),
                os_version: String::new(),
                model: String::new(),
                app_id: None,
                key_storage: None,
            },
            attestation: None,
            light_salt_seed: None,
        }
    }
}

/// Cancels a running session from any thread (a button, the app going to the background).
#[derive(Debug, Clone, Default)]
pub struct CancelHandle {
    flag: Arc<AtomicBool>,
    notify: Arc<Notify>,
}

impl CancelHandle {
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    async fn cancelled(&self) {
        loop {
            let notified = self.notify.notified();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }
}

/// What the host gets back: like the `onSuccess(jobID, images)` of existing SDKs, plus the
/// local outcome and the figures QA asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct LivenessResult {
    pub job_id: String,
    /// The server's job as the device sees it: `done` once the evidence is judged. How it was
    /// judged (live or not, and why) is for the integrator's backend to read with its result
    /// token: a device that learnt its verdict could tune a spoof against it.
    pub job_status: String,
    pub local_passed: bool,
    pub local_failure: Option<String>,
    /// The uploaded JPEGs, photo first.
    pub images: Vec<Vec<u8>>,
    pub evidence_bytes: usize,
    pub frames_analysed: u64,
    pub frames_dropped: u64,
    /// First frame to local outcome, and to the server's answer.
    pub capture_ms: u64,
    pub total_ms: u64,
}

fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

struct Captured {
    recorder: Recorder,
    outcome: Outcome,
    dropped: u64,
    started: Option<Instant>,
}

pub struct LivenessSession {
    descriptor: SessionDescriptor,
    config: SessionConfig,
    key: DeviceSigningKey,
    observer: Arc<dyn Observer>,
    cancel: CancelHandle,
    screen: ScreenReports,
}

impl std::fmt::Debug for LivenessSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LivenessSession")
            .field("session_id", &self.descriptor.session_id)
            .finish_non_exhaustive()
    }
}

impl LivenessSession {
    pub fn new(
        descriptor: SessionDescriptor,
        config: SessionConfig,
        key: DeviceSigningKey,
        observer: Arc<dyn Observer>,
    ) -> Result<Self, SdkError> {
        descriptor.validate()?;
        config
            .engine
            .validate()
            .map_err(|e| SdkError::InvalidInput(e.to_string()))?;
        Ok(Self {
            descriptor,
            config,
            key,
            observer,
            cancel: CancelHandle::default(),
            screen: ScreenReports::default(),
        })
    }

    pub fn cancel_handle(&self) -> CancelHandle {
        self.cancel.clone()
    }

    /// Where the host reports the light colours' presentation times.
    pub fn screen_reports(&self) -> ScreenReports {
        self.screen.clone()
    }

    fn expired(&self) -> bool {
        unix_ms() >= self.descriptor.submission_expires_at * 1000
    }

    /// Runs the whole session on `source`. The source is stopped (camera released) before
    /// this returns, however it ends. Must run inside a tokio runtime.
    pub async fn run(self, source: Box<dyn FrameSource>) -> Result<LivenessResult, SdkError> {
        let result = self.run_inner(source).await;
        if let Err(e) = &result {
            self.observer.on_event(SessionEvent::Error {
                code: e.code(),
                message: e.to_string(),
            });
        }
        result
    }

    async fn run_inner(&self, source: Box<dyn FrameSource>) -> Result<LivenessResult, SdkError> {
        let started = Instant::now();
        let recorded = match self.record(source).await {
            Ok(r) => r,
            Err(e) => {
                if let Some(reason) = cancel_reason(&e) {
                    // Best effort: if the notice is lost, the server ends the session when
                    // the submission window closes.
                    let _ = self.abandon(reason).await;
                }
                return Err(e);
            }
        };
        self.submit(recorded, started).await
    }

    /// Tells the server this session ended on the device without evidence, so the
    /// integrator gets a (not live) verdict at once. `run` does this itself when a capture
    /// is cancelled or the camera fails; apps that call `record` and `submit` themselves
    /// call it when they give up. `reason`: `user_cancelled`, `camera_unavailable` or
    /// `device_error`.
    pub async fn abandon(&self, reason: &str) -> Result<(), SdkError> {
        let client = ServerClient::new(
            &self.descriptor.server_url,
            &self.config.pins,
            self.config.http_timeout.min(Duration::from_secs(5)),
        )?;
        client
            .cancel(&self.descriptor.submission_token, reason)
            .await
    }

    /// The on-device half: frames from `source` through the challenges into signed evidence.
    /// The source is stopped before this returns. Nothing is sent anywhere.
    pub async fn record(&self, mut source: Box<dyn FrameSource>) -> Result<Recorded, SdkError> {
        if self.expired() {
            source.stop();
            return Err(SdkError::TokenExpired);
        }
        let plan = self.descriptor.plan.clone();
        let config = self.config.clone();
        let observer = self.observer.clone();
        let cancel = self.cancel.clone();
        let reports = self.screen.clone();
        // The capture must end early enough for its evidence to be uploaded.
        let expires_ms = self.descriptor.submission_expires_at * 1000
            - self.config.submit_margin.as_millis() as i64;
        let captured = tokio::task::spawn_blocking(move || {
            let r = capture(
                &mut *source,
                plan,
                &config,
                &*observer,
                &cancel,
                &reports,
                expires_ms,
            );
            source.stop();
            r
        })
        .await
        .map_err(|e| SdkError::Internal(format!("the capture thread failed: {e}")))??;
        let capture_ms = captured
            .started
            .map_or(0, |s| s.elapsed().as_millis() as u64);
        if self.cancel.is_cancelled() {
            return Err(SdkError::Cancelled);
        }

        let nonce = Nonce::from_b64url(&self.descriptor.nonce)
            .map_err(|e| SdkError::InvalidInput(e.to_string()))?;
        let attestation = match &self.config.attestation {
            Some(p) => {
                let mut challenge = nonce.0.to_vec();
                challenge.extend_from_slice(&self.key.public_key());
                p.attest(&Sha256Digest::of(&challenge).0)?
            }
            None => None,
        };
        let info = ManifestInfo {
            session_id: self.descriptor.session_id.clone(),
            nonce,
            submission_token: self.descriptor.submission_token.clone(),
            sdk: self.config.sdk.clone(),
            models: Vec::new(),
            device: self.config.device.clone(),
            capture_started_at_ms: unix_ms() - capture_ms as i64,
            attestation,
        };
        let local_passed = captured.outcome.passed;
        let local_failure = captured.outcome.failure.map(str::to_owned);
        let recording = captured.recorder.finish(info, captured.outcome)?;
        let evidence = recording.evidence;
        let signed = self
            .key
            .sign_manifest(&evidence.manifest)
            .map_err(|e| SdkError::Internal(e.to_string()))?;
        Ok(Recorded {
            signed,
            frames: evidence.frames,
            local_passed,
            local_failure,
            frames_analysed: recording.frames,
            frames_dropped: captured.dropped,
            capture_ms,
        })
    }

    /// The server half: uploads recorded evidence (with retries) and waits for the job.
    /// `started` is when the session began, for the result's total time.
    pub async fn submit(
        &self,
        recorded: Recorded,
        started: Instant,
    ) -> Result<LivenessResult, SdkError> {
        let client = ServerClient::new(
            &self.descriptor.server_url,
            &self.config.pins,
            self.config.http_timeout,
        )?;
        let upload = Upload {
            signed: &recorded.signed,
            frames: &recorded.frames,
        };
        let token = &self.descriptor.submission_token;
        let job_id = tokio::select! {
            r = client.submit(token, &upload, &self.config.retry, &*self.observer) => r?,
            _ = self.cancel.cancelled() => return Err(SdkError::Cancelled),
        };
        self.observer.on_event(SessionEvent::Submitted {
            job_id: job_id.clone(),
        });
        let job_status = tokio::select! {
            r = client.wait_job(token, &job_id, self.config.poll_interval, self.config.poll_timeout) => r?,
            _ = self.cancel.cancelled() => return Err(SdkError::Cancelled),
        };
        self.observer.on_event(SessionEvent::Result {
            job_id: job_id.clone(),
            status: job_status.clone(),
        });
        Ok(LivenessResult {
            job_id,
            job_status,
            local_passed: recorded.local_passed,
            local_failure: recorded.local_failure,
            evidence_bytes: recorded.frames.iter().map(Vec::len).sum(),
            images: recorded.frames,
            frames_analysed: recorded.frames_analysed,
            frames_dropped: recorded.frames_dropped,
            capture_ms: recorded.capture_ms,
            total_ms: started.elapsed().as_millis() as u64,
        })
    }
}

/// The server notice a failed capture sends (see [`LivenessSession::abandon`]); `None` for
/// errors after which there is nothing to tell or no way to tell it.
pub fn cancel_reason(e: &SdkError) -> Option<&'static str> {
    match e {
        SdkError::Cancelled => Some("user_cancelled"),
        SdkError::CameraUnavailable(_)
        | SdkError::PermissionDenied
        | SdkError::Timeout(_)
        | SdkError::NoEvidence(_) => Some("camera_unavailable"),
        SdkError::ModelLoad(_) | SdkError::InvalidFrame(_) | SdkError::Internal(_) => {
            Some("device_error")
        }
        SdkError::TokenExpired
        | SdkError::Network(_)
        | SdkError::ServerRejected { .. }
        | SdkError::InvalidInput(_)
        | SdkError::KeyStore(_) => None,
    }
}

/// Signed evidence ready to upload, and how the capture went.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub signed: liveness_protocol::SignedManifest,
    /// The JPEGs in manifest order, photo first.
    pub frames: Vec<Vec<u8>>,
    pub local_passed: bool,
    pub local_failure: Option<String>,
    pub frames_analysed: u64,
    pub frames_dropped: u64,
    pub capture_ms: u64,
}

/// The blocking part: frames from `source` into the [`Recorder`], its events to the observer.
fn capture(
    source: &mut dyn FrameSource,
    plan: ChallengePlan,
    config: &SessionConfig,
    observer: &dyn Observer,
    cancel: &CancelHandle,
    reports: &ScreenReports,
    expires_ms: i64,
) -> Result<Captured, SdkError> {
    let settings = CaptureSettings {
        engine: config.engine.clone(),
        evidence: config.evidence.clone(),
        pipeline: config.pipeline.clone(),
        precision: config.precision,
        models: config.models.clone(),
        light_salts: light_salts(config.light_salt_seed)?,
    };
    let mut recorder = Recorder::new(plan, settings)?;
    let mut started = None;
    let outcome = loop {
        if cancel.is_cancelled() {
            return Err(SdkError::Cancelled);
        }
        if recorder.frames() > 0 && unix_ms() >= expires_ms {
            // Out of time to finish and still upload: what was captured is judged (not
            // live, timed out) rather than lost.
            break recorder.end_early("timed_out");
        }
        let Some(sf) = source.next_frame()? else {
            break recorder.end_incomplete();
        };
        started.get_or_insert_with(Instant::now);
        let frame = sf.frame()?;
        for (index, t_ms) in reports.drain() {
            recorder.screen_presented(index, t_ms);
        }
        let step = recorder.push(sf.t_ms, &frame)?;
        for event in step.events {
            observer.on_event(event);
        }
        for request in step.screen {
            // A source that is its own screen knows when the colour showed.
            if let (ScreenRequest::Colour { index, .. }, Some(at)) =
                (request, source.show(request, sf.t_ms))
            {
                recorder.screen_presented(index, at);
            }
        }
        if let Some(o) = step.outcome {
            break o;
        }
    };
    if recorder.painting() {
        let _ = source.show(ScreenRequest::Restore, 0);
    }
    for event in recorder.conclude(&outcome) {
        observer.on_event(event);
    }
    Ok(Captured {
        recorder,
        outcome,
        dropped: source.dropped(),
        started,
    })
}
