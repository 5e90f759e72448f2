//! The SDK session against a real verification server on loopback: genuine performances pass,
//! attacks do not, an expired token and an unreachable server end in clear errors after the
//! documented retries, and cancelling mid-challenge releases the camera and uploads nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use liveness_protocol::DeviceSigningKey;
use liveness_server::{RunningServer, Server, ServerConfig, admin};
use liveness_session::client::RetryPolicy;
use liveness_session::source::RenderedSource;
use liveness_session::{
    CancelHandle, FrameSource, LivenessSession, SdkError, SessionConfig, SessionDescriptor,
    SessionEvent, SourceFrame,
};
use liveness_testkit::Script;
use serde_json::{Value, json};

struct Backend {
    server: RunningServer,
    api_key: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

async fn backend() -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        database_url: format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display()),
        workers: 1,
        poll_interval: Duration::from_millis(50),
        ..ServerConfig::default()
    };
    let server = Server::start(config).await.unwrap();
    let tenant = admin::create_tenant(&server.state.db, "app", server.state.clock.now_ms())
        .await
        .unwrap();
    Backend {
        server,
        api_key: tenant.key.api_key,
        http: reqwest::Client::new(),
        _dir: dir,
    }
}

impl Backend {
    /// What the integrator's backend does: create a session, keep the result token, hand the
    /// rest to the app.
    async fn session(&self, options: Value) -> (SessionDescriptor, Value) {
        let r = self
            .http
            .post(format!("{}/v1/sessions", self.server.url()))
            .bearer_auth(&self.api_key)
            .json(&options)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let bytes = r.bytes().await.unwrap();
        let created: Value = serde_json::from_slice(&bytes).unwrap();
        (
            SessionDescriptor::from_json(&self.server.url(), &bytes).unwrap(),
            created,
        )
    }

    async fn result(&self, created: &Value) -> Value {
        self.http
            .get(format!(
                "{}/v1/sessions/{}/result?token={}",
                self.server.url(),
                created["session_id"].as_str().unwrap(),
                created["result_token"].as_str().unwrap()
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

fn genuine(d: &SessionDescriptor) -> Script {
    liveness_testkit::performing_plan(&d.plan).unwrap()
}

fn subject(name: &str) -> Script {
    Script::from_file(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../testkit/subjects")
            .join(format!("{name}.toml")),
    )
    .unwrap()
}

type Events = Arc<Mutex<Vec<SessionEvent>>>;

/// The server's result names the light step, passed.
fn server_side_reasons_ok(result: &Value) -> bool {
    result["reasons"].as_array().is_some_and(|rs| {
        rs.iter()
            .any(|r| r["check"] == "light_reflection" && r["passed"] == true)
    })
}

fn run_session(
    d: SessionDescriptor,
    config: SessionConfig,
    observer: Arc<dyn liveness_session::Observer>,
) -> (LivenessSession, CancelHandle) {
    let s =
        LivenessSession::new(d, config, DeviceSigningKey::generate().unwrap(), observer).unwrap();
    let c = s.cancel_handle();
    (s, c)
}

fn recorder() -> (Events, Arc<dyn liveness_session::Observer>) {
    let events: Events = Arc::default();
    let e = events.clone();
    (
        events,
        Arc::new(move |ev: SessionEvent| e.lock().unwrap().push(ev)),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_genuine_session_passes_end_to_end() {
    let b = backend().await;
    let (d, created) = b
        .session(
            json!({"available_actions": ["HeadRight", "Smile", "BlinkEyes"], "challenge_count": 2}),
        )
        .await;
    let (events, observer) = recorder();
    let script = genuine(&d);
    let (s, _) = run_session(d, SessionConfig::default(), observer);
    // Mirrored, as a front camera's preview: left and right still mean the user's.
    let result = s
        .run(Box::new(RenderedSource::new(script, false).mirrored(true)))
        .await
        .unwrap();
    assert!(result.local_passed, "{result:?}");
    assert_eq!(result.job_status, "done");
    assert!(result.evidence_bytes <= 250_000);
    // A photo, a baseline and a peak per challenge, and the light step's tile mosaic.
    assert_eq!(result.images.len(), 6);
    assert!(
        server_side_reasons_ok(&b.result(&created).await),
        "the server re-judged the light step"
    );
    let server_side = b.result(&created).await;
    assert_eq!(server_side["live"], true, "{server_side:#}");
    let events = events.lock().unwrap().clone();
    for wanted in [
        "Prompt",
        "ChallengeStarted",
        "ChallengeFinished",
        "Captured",
        "Submitting",
        "Submitted",
        "Result",
        "Progress",
    ] {
        assert!(
            events.iter().any(|e| format!("{e:?}").starts_with(wanted)),
            "no {wanted} event"
        );
    }
    b.server.shutdown().await;
}

/// Records the challenge it is asked to attest.
struct FakeAttest(Mutex<Option<[u8; 32]>>);

impl liveness_session::AttestationProvider for FakeAttest {
    fn attest(
        &self,
        challenge: &[u8; 32],
    ) -> Result<Option<liveness_protocol::manifest::Attestation>, SdkError> {
        *self.0.lock().unwrap() = Some(*challenge);
        Ok(Some(liveness_protocol::manifest::Attestation {
            kind: "test".into(),
            token: hex_of(challenge),
        }))
    }
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A recording on disk (the QA path): the same genuine performance written as `.y4m` and as a
/// PNG folder, played back through the file sources, with a platform attestation attached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_sequences_play_back_and_carry_the_attestation() {
    use liveness_session::source::{png_dir, y4m};
    let b = backend().await;
    let dir = tempfile::tempdir().unwrap();
    // A recording cannot answer the light step: the no-flash path.
    let (d, created) = b
        .session(json!({"action": "BlinkEyes", "light_challenge": false}))
        .await;
    let r = liveness_testkit::Renderer::new(genuine(&d));
    let file = std::fs::File::create(dir.path().join("clip.y4m")).unwrap();
    let mut w = liveness_testkit::output::Y4mWriter::new(file, 640, 480, 30).unwrap();
    std::fs::create_dir_all(dir.path().join("png")).unwrap();
    for i in 0..r.frame_count() {
        let img = r.render(i);
        w.write(&img).unwrap();
        liveness_testkit::output::write_png(&dir.path().join("png"), i, &img).unwrap();
    }
    w.finish().unwrap();
    let provider = Arc::new(FakeAttest(Mutex::new(None)));
    let config = SessionConfig {
        attestation: Some(provider.clone()),
        ..SessionConfig::default()
    };
    let key = DeviceSigningKey::generate().unwrap();
    let public = key.public_key();
    let nonce = liveness_protocol::Nonce::from_b64url(&d.nonce).unwrap();
    let (_, observer) = recorder();
    let s = LivenessSession::new(d, config, key, observer).unwrap();
    let source = y4m(&dir.path().join("clip.y4m"), false).unwrap();
    let result = s.run(Box::new(source)).await.unwrap();
    assert!(result.local_passed);
    assert_eq!(b.result(&created).await["live"], true);
    // The attestation covers this session's nonce and this device's key.
    let mut expected = nonce.0.to_vec();
    expected.extend_from_slice(&public);
    let challenge = provider.0.lock().unwrap().unwrap();
    assert_eq!(challenge, liveness_protocol::Sha256Digest::of(&expected).0);
    use sqlx::Row;
    let manifest: Vec<u8> = sqlx::query("SELECT manifest FROM evidence WHERE session_id = $1")
        .bind(created["session_id"].as_str().unwrap())
        .fetch_one(&b.server.state.db.pool)
        .await
        .unwrap()
        .try_get("manifest")
        .unwrap();
    let m = liveness_protocol::EvidenceManifest::from_json_bytes(&manifest).unwrap();
    assert_eq!(m.attestation.unwrap().token, hex_of(&challenge));

    // The PNG folder plays the same performance.
    let (d, created) = b
        .session(json!({"action": "BlinkEyes", "light_challenge": false}))
        .await;
    let (_, observer) = recorder();
    let (s, _) = run_session(d, SessionConfig::default(), observer);
    let result = s
        .run(Box::new(
            png_dir(&dir.path().join("png"), 30, false).unwrap(),
        ))
        .await
        .unwrap();
    assert!(result.local_passed);
    assert_eq!(b.result(&created).await["live"], true);
    assert_eq!(
        png_dir(&dir.path().join("missing"), 30, false)
            .unwrap_err()
            .code(),
        "invalid_input"
    );
    b.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attacks_are_not_judged_live() {
    let b = backend().await;
    for attack in [
        "attack_print",
        "attack_static_photo",
        "attack_screen_replay",
    ] {
        let (d, created) = b.session(json!({"action": "HeadLeft"})).await;
        let (_, observer) = recorder();
        let (s, _) = run_session(d, SessionConfig::default(), observer);
        let outcome = s
            .run(Box::new(RenderedSource::new(subject(attack), false)))
            .await;
        match outcome {
            Ok(r) => {
                assert!(!r.local_passed, "{attack}: the device passed it");
                let server_side = b.result(&created).await;
                assert_eq!(server_side["live"], false, "{attack}: {server_side:#}");
            }
            // A static photo may never show a usable face at all: nothing to submit.
            Err(e) => assert_eq!(e.code(), "no_evidence", "{attack}: {e}"),
        }
    }
    b.server.shutdown().await;
}

/// A capture running out of the token's time ends early enough to upload what it has: the
/// server judges it (not live, timed out) instead of the session being lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capture_near_the_token_expiry_stops_in_time_and_is_judged() {
    let b = backend().await;
    let (mut d, created) = b.session(json!({"action": "BlinkEyes"})).await;
    // The device believes the token ends in 17 s; it keeps 15 s to upload.
    d.submission_expires_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + 17;
    let mut never_blinks = subject("neutral");
    never_blinks.duration = 30.0;
    let (_, observer) = recorder();
    let (s, _) = run_session(d, SessionConfig::default(), observer);
    let started = std::time::Instant::now();
    let r = s
        .run(Box::new(RenderedSource::new(never_blinks, true)))
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(r.local_failure.as_deref(), Some("timed_out"));
    assert_eq!(r.job_status, "done");
    let result = b.result(&created).await;
    assert_eq!(
        (result["live"].clone(), result["message_code"].clone()),
        (json!(false), json!("timed_out")),
        "{result:#}"
    );
    b.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_that_expires_mid_session_is_a_clear_error() {
    let b = backend().await;
    let (d, created) = b
        .session(json!({"action": "BlinkEyes", "submission_ttl_seconds": 30}))
        .await;
    let script = genuine(&d);
    // The server's clock passes the token's expiry while the user performs.
    b.server.state.clock.advance(Duration::from_secs(31));
    let (_, observer) = recorder();
    let (s, _) = run_session(d.clone(), SessionConfig::default(), observer);
    let e = s
        .run(Box::new(RenderedSource::new(script, false)))
        .await
        .unwrap_err();
    assert_eq!(e, SdkError::TokenExpired);
    assert_eq!(e.code(), "token_expired");
    assert!(!e.recovery().is_empty());
    assert_eq!(b.result(&created).await["status"], "incompleted");
    // Already expired on the device's clock: refused before the camera starts.
    let mut stale = d;
    stale.submission_expires_at = 1_700_000_000;
    let stopped = Arc::new(AtomicBool::new(false));
    let (_, observer) = recorder();
    let (s, _) = run_session(stale, SessionConfig::default(), observer);
    let source = Counting::new(
        RenderedSource::new(subject("blink"), false),
        stopped.clone(),
    );
    assert_eq!(
        s.run(Box::new(source)).await.unwrap_err(),
        SdkError::TokenExpired
    );
    assert!(stopped.load(Ordering::SeqCst));
    b.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_retried_then_reported() {
    let b = backend().await;
    let (mut d, _) = b.session(json!({"action": "Smile"})).await;
    let script = genuine(&d);
    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    d.server_url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let (events, observer) = recorder();
    let config = SessionConfig {
        retry: RetryPolicy {
            attempts: 3,
            first_delay: Duration::from_millis(50),
            max_delay: Duration::from_millis(200),
        },
        ..SessionConfig::default()
    };
    let (s, _) = run_session(d, config, observer);
    let e = s
        .run(Box::new(RenderedSource::new(script, false)))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "network", "{e}");
    let attempts: Vec<u32> = events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            SessionEvent::Submitting { attempt } => Some(*attempt),
            _ => None,
        })
        .collect();
    assert_eq!(attempts, [1, 2, 3]);
    assert!(events.lock().unwrap().iter().any(|e| matches!(
        e,
        SessionEvent::Error {
            code: "network",
            ..
        }
    )));
    b.server.shutdown().await;
}

/// A source that counts frames and notes when it is stopped (the camera released).
struct Counting<S> {
    inner: S,
    frames: Arc<AtomicU64>,
    stopped: Arc<AtomicBool>,
}

impl<S> Counting<S> {
    fn new(inner: S, stopped: Arc<AtomicBool>) -> Self {
        Self {
            inner,
            frames: Arc::default(),
            stopped,
        }
    }
}

impl<S: FrameSource> FrameSource for Counting<S> {
    fn next_frame(&mut self) -> Result<Option<SourceFrame>, SdkError> {
        assert!(
            !self.stopped.load(Ordering::SeqCst),
            "a frame was asked for after stop"
        );
        self.frames.fetch_add(1, Ordering::SeqCst);
        self.inner.next_frame()
    }
    fn show(&mut self, request: liveness_session::ScreenRequest, t_ms: u64) -> Option<u64> {
        self.inner.show(request, t_ms)
    }

    fn stop(&mut self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.inner.stop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_mid_challenge_releases_the_camera_and_uploads_nothing() {
    let b = backend().await;
    let (d, created) = b.session(json!({"action": "HeadLeft"})).await;
    let script = genuine(&d);
    let cancel_slot: Arc<Mutex<Option<CancelHandle>>> = Arc::default();
    let slot = cancel_slot.clone();
    let observer: Arc<dyn liveness_session::Observer> = Arc::new(move |e: SessionEvent| {
        // The user taps "cancel" as the first challenge starts.
        if matches!(e, SessionEvent::ChallengeStarted { .. })
            && let Some(c) = slot.lock().unwrap().as_ref()
        {
            c.cancel();
        }
    });
    let (s, cancel) = run_session(d, SessionConfig::default(), observer);
    *cancel_slot.lock().unwrap() = Some(cancel);
    let stopped = Arc::new(AtomicBool::new(false));
    let source = Counting::new(RenderedSource::new(script, false), stopped.clone());
    let frames = source.frames.clone();
    let e = s.run(Box::new(source)).await.unwrap_err();
    assert_eq!(e, SdkError::Cancelled);
    assert!(
        stopped.load(Ordering::SeqCst),
        "the camera was not released"
    );
    // The first challenge starts after the baseline and the 3 s light step (~110 frames).
    assert!(
        frames.load(Ordering::SeqCst) < 150,
        "frames kept coming after cancel"
    );
    let session: Value = b
        .http
        .get(format!(
            "{}/v1/sessions/{}",
            b.server.url(),
            created["session_id"].as_str().unwrap()
        ))
        .bearer_auth(&b.api_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // No evidence went up; the device told the server the user cancelled, so the
    // integrator has its (not live) verdict now rather than at the token's expiry.
    assert_eq!(
        session["status"], "cancelled",
        "not ended as cancelled: {session:#}"
    );
    assert!(
        session["job_id"].is_null(),
        "something was uploaded: {session:#}"
    );
    assert_eq!(
        session["result"]["message_code"], "cancelled",
        "{session:#}"
    );
    b.server.shutdown().await;
}
