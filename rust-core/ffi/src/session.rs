//! The session object the bindings hold: frames in (pushed, JNI or a provider), events out
//! through the observer, `run` (or `record` then `submit`) as async calls.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use liveness_session::{
    CancelHandle, FramePusher, FrameSource, Observer, PushOutcome, PushSource, Recorded,
    SessionDescriptor, SessionEvent, device_key,
};
use tokio::runtime::Runtime;

use crate::error::{LivenessError, guard, panic_message};
use crate::host::{
    AttestationBridge, AttestationProvider, DeviceKeyStore, FrameProvider, HostFrame,
    KeyStoreBridge, LivenessObserver, ObserverBridge, ProviderSource,
};
use crate::sinks;
use crate::types::{LivenessConfig, LivenessResult, SessionInfo};

/// One runtime for every session of the process: two workers for uploads and polling; the
/// frame analysis runs on its own blocking thread.
fn runtime() -> Result<&'static Runtime, LivenessError> {
    static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("liveness-sdk")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| LivenessError::internal(format!("could not start the SDK's runtime: {e}")))
}

/// Runs `fut` on the SDK's runtime and waits for it from whatever executor the bindings use
/// (Kotlin coroutines, Swift tasks). If the caller stops waiting (its coroutine is cancelled),
/// the session is cancelled too, so the camera is released and nothing is uploaded. An error
/// (a panic included) also reaches the observer, from the SDK's thread like every event, so
/// a UI driven by events alone sees how the session ended.
async fn on_runtime<T: Send + 'static>(
    cancel: CancelHandle,
    observer: Arc<dyn Observer>,
    fut: impl Future<Output = Result<T, LivenessError>> + Send + 'static,
) -> Result<T, LivenessError> {
    struct CancelOnDrop(Option<CancelHandle>);
    impl Drop for CancelOnDrop {
        fn drop(&mut self) {
            if let Some(c) = self.0.take() {
                c.cancel();
            }
        }
    }
    let mut armed = CancelOnDrop(Some(cancel));
    let rt = runtime()?;
    let inner = rt.spawn(fut);
    let reported = rt.spawn(async move {
        let r = match inner.await {
            Ok(r) => r,
            Err(e) if e.is_panic() => Err(LivenessError::internal(format!(
                "the SDK panicked: {}",
                panic_message(&*e.into_panic())
            ))),
            Err(e) => Err(LivenessError::internal(format!(
                "the SDK's task failed: {e}"
            ))),
        };
        if let Err(e) = &r {
            observer.on_event(SessionEvent::Error {
                code: static_code(e.code()),
                message: e.to_string(),
            });
        }
        r
    });
    let out = reported.await.unwrap_or_else(|e| {
        Err(LivenessError::internal(format!(
            "the SDK's task failed: {e}"
        )))
    });
    armed.0 = None;
    out
}

/// What a push did with the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum PushResult {
    Accepted,
    /// Accepted; the frame still waiting for analysis was dropped (analysis is slower than
    /// the camera; nothing queues up).
    ReplacedOlder,
    /// The session has ended: stop the camera.
    Closed,
}

impl From<PushOutcome> for PushResult {
    fn from(o: PushOutcome) -> Self {
        match o {
            PushOutcome::Accepted => Self::Accepted,
            PushOutcome::ReplacedOlder => Self::ReplacedOlder,
            PushOutcome::Closed => Self::Closed,
        }
    }
}

/// Signed evidence recorded on the device, not yet (or not successfully) uploaded. Submitting
/// it again after a network error is safe: the server answers the same upload with the same job.
#[derive(Debug, uniffi::Object)]
pub struct RecordedEvidence {
    recorded: Recorded,
    started: Instant,
    session_id: String,
}

#[uniffi::export]
impl RecordedEvidence {
    /// The JPEGs that will be uploaded, the photo first.
    pub fn images(&self) -> Vec<Vec<u8>> {
        self.recorded.frames.clone()
    }

    pub fn local_passed(&self) -> bool {
        self.recorded.local_passed
    }

    pub fn local_failure(&self) -> Option<String> {
        self.recorded.local_failure.clone()
    }

    pub fn frames_analysed(&self) -> u64 {
        self.recorded.frames_analysed
    }
}

/// One liveness session: create it with the session JSON the app's backend got from
/// `POST /v1/sessions`, feed it frames, await `run`.
#[derive(uniffi::Object)]
pub struct LivenessSession {
    inner: Arc<liveness_session::LivenessSession>,
    observer: Arc<dyn Observer>,
    cancel: CancelHandle,
    pusher: FramePusher,
    push_source: Mutex<Option<PushSource>>,
    recording: AtomicBool,
    info: SessionInfo,
    sink: u64,
}

impl std::fmt::Debug for LivenessSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LivenessSession")
            .field("session_id", &self.info.session_id)
            .finish_non_exhaustive()
    }
}

impl Drop for LivenessSession {
    fn drop(&mut self) {
        sinks::unregister(self.sink);
        self.pusher.close();
        self.cancel.cancel();
    }
}

impl LivenessSession {
    fn take_source(
        &self,
        provider: Option<Arc<dyn FrameProvider>>,
    ) -> Result<Box<dyn FrameSource>, LivenessError> {
        if self.recording.swap(true, Ordering::SeqCst) {
            return Err(LivenessError::invalid_input(
                "this session has already recorded; create a new session to try again",
            ));
        }
        let pushed = self
            .push_source
            .lock()
            .map_err(|_| LivenessError::internal("session lock poisoned"))?
            .take();
        Ok(match provider {
            Some(provider) => {
                // Frames come from the provider; anything pushed would never be read.
                self.pusher.close();
                Box::new(ProviderSource {
                    provider,
                    stopped: false,
                })
            }
            None => Box::new(pushed.ok_or_else(|| LivenessError::internal("no frame source"))?),
        })
    }

    /// `notify`: a capture that fails (cancelled, camera, device) tells the server, as `run`
    /// promises; `record` alone sends nothing.
    async fn record_inner(
        &self,
        provider: Option<Arc<dyn FrameProvider>>,
        notify: bool,
    ) -> Result<Arc<RecordedEvidence>, LivenessError> {
        let source = self.take_source(provider)?;
        let inner = self.inner.clone();
        let started = Instant::now();
        let recorded = on_runtime(self.cancel.clone(), self.observer.clone(), async move {
            match inner.record(source).await {
                Ok(recorded) => Ok(recorded),
                Err(e) => {
                    if let Some(reason) = liveness_session::cancel_reason(&e).filter(|_| notify) {
                        // Best effort: a lost notice leaves the session to end when its
                        // submission window closes.
                        let _ = inner.abandon(reason).await;
                    }
                    Err(e.into())
                }
            }
        })
        .await?;
        Ok(Arc::new(RecordedEvidence {
            recorded,
            started,
            session_id: self.info.session_id.clone(),
        }))
    }

    async fn submit_inner(
        &self,
        evidence: Arc<RecordedEvidence>,
    ) -> Result<LivenessResult, LivenessError> {
        // The evidence is signed for its own session and token: another session's would only
        // be refused by the server after an upload.
        if evidence.session_id != self.info.session_id {
            return Err(LivenessError::invalid_input(format!(
                "this evidence was recorded for session {}, not {}",
                evidence.session_id, self.info.session_id
            )));
        }
        let inner = self.inner.clone();
        on_runtime(self.cancel.clone(), self.observer.clone(), async move {
            let r = inner
                .submit(evidence.recorded.clone(), evidence.started)
                .await?;
            Ok(LivenessResult::from(r))
        })
        .await
    }
}

/// The session crate's events carry `&'static str` codes; ours are the same strings.
fn static_code(code: &str) -> &'static str {
    liveness_session::SdkError::CODES
        .iter()
        .copied()
        .find(|c| *c == code)
        .unwrap_or("internal")
}

#[uniffi::export]
impl LivenessSession {
    /// `session_json` is the server's answer to `POST /v1/sessions` as the app's backend
    /// passed it on (its result token, if present, is ignored: it belongs on the backend).
    /// The device key comes from `key_store`, generated on first use.
    #[uniffi::constructor]
    pub fn new(
        server_url: String,
        session_json: String,
        config: LivenessConfig,
        key_store: Arc<dyn DeviceKeyStore>,
        observer: Arc<dyn LivenessObserver>,
        attestation: Option<Arc<dyn AttestationProvider>>,
    ) -> Result<Arc<Self>, LivenessError> {
        guard(|| {
            let descriptor = SessionDescriptor::from_json(&server_url, session_json.as_bytes())?;
            let (mut session_config, frame_timeout) = config.to_session_config()?;
            session_config.attestation = attestation.map(|a| {
                Arc::new(AttestationBridge(a)) as Arc<dyn liveness_session::AttestationProvider>
            });
            let key = device_key(&KeyStoreBridge(key_store))?;
            let observer: Arc<dyn Observer> = Arc::new(ObserverBridge(observer));
            let info = SessionInfo {
                session_id: descriptor.session_id.clone(),
                challenges: descriptor
                    .plan
                    .steps
                    .iter()
                    .map(|s| s.kind.into())
                    .collect(),
                expires_at: descriptor.submission_expires_at,
                server_url: descriptor.server_url.clone(),
            };
            let inner = liveness_session::LivenessSession::new(
                descriptor,
                session_config,
                key,
                observer.clone(),
            )?;
            let (source, pusher) = PushSource::new(frame_timeout);
            let sink = sinks::register(pusher.clone());
            Ok(Arc::new(Self {
                cancel: inner.cancel_handle(),
                inner: Arc::new(inner),
                observer,
                pusher,
                push_source: Mutex::new(Some(source)),
                recording: AtomicBool::new(false),
                info,
                sink,
            }))
        })
    }

    pub fn info(&self) -> SessionInfo {
        self.info.clone()
    }

    /// The whole session: frames (pushed, or from `provider`) → challenges → signed evidence
    /// → upload → the server's answer. Cancelling the caller's task cancels the session.
    pub async fn run(
        &self,
        provider: Option<Arc<dyn FrameProvider>>,
    ) -> Result<LivenessResult, LivenessError> {
        let evidence = self.record_inner(provider, true).await?;
        self.submit_inner(evidence).await
    }

    /// The on-device half only: nothing is sent.
    pub async fn record(
        &self,
        provider: Option<Arc<dyn FrameProvider>>,
    ) -> Result<Arc<RecordedEvidence>, LivenessError> {
        self.record_inner(provider, false).await
    }

    /// Uploads recorded evidence (with retries) and waits for the server's job. Safe to call
    /// again with the same evidence after a network error.
    pub async fn submit(
        &self,
        evidence: Arc<RecordedEvidence>,
    ) -> Result<LivenessResult, LivenessError> {
        self.submit_inner(evidence).await
    }

    /// Hands over a camera frame by copy. A malformed frame is refused here with
    /// `InvalidFrame`; the session itself carries on.
    pub fn push_frame(&self, frame: HostFrame) -> Result<PushResult, LivenessError> {
        guard(|| {
            let frame = frame.into_source_frame()?;
            Ok(self.pusher.push(frame).into())
        })
    }

    /// The light step: colour `index` (from a `Screen` event) reached the screen at `t_ms`,
    /// in the clock of the frames' timestamps (iOS: the display link's target time in the
    /// capture clock; Android: the Choreographer frame time, both monotonic). Without these
    /// reports the session uses the time it asked for each colour.
    pub fn screen_presented(&self, index: u8, t_ms: u64) {
        self.inner.screen_reports().presented(index, t_ms);
    }

    /// The camera stopped: the session sees the end of the stream.
    pub fn end_of_frames(&self) {
        self.pusher.close();
    }

    /// The host could not start or keep its camera (Android: CameraX `bindToLifecycle`
    /// threw; iOS: the capture session failed): `run` fails with `CameraUnavailable` carrying
    /// `detail`, and the server is told `camera_unavailable`, rather than the session ending
    /// as "no evidence". Does nothing once the frames have ended.
    pub fn camera_failed(&self, detail: String) {
        self.pusher
            .fail(liveness_session::SdkError::CameraUnavailable(detail));
    }

    /// The user refused the camera (and will not be asked again): `run` fails with
    /// `PermissionDenied` at once, and the server is told, so the integrator's verdict does
    /// not wait for the submission window to close.
    pub fn camera_permission_denied(&self) {
        self.pusher
            .fail(liveness_session::SdkError::PermissionDenied);
    }

    /// Stops the session from any thread: the camera is released, nothing (more) is uploaded
    /// and `run` fails with `Cancelled`.
    pub fn cancel(&self) {
        self.cancel.cancel();
        self.pusher.close();
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// The handle the Android zero-copy path (`NativeFrames.pushYuv420`) takes. Valid while
    /// this object lives; a stale handle is refused, never dereferenced.
    pub fn frame_sink(&self) -> u64 {
        self.sink
    }
}
