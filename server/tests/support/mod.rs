//! Test harness: a real server on a loopback port over a real database (a temporary SQLite
//! file, or a fresh database in the PostgreSQL named by `LIVENESS_TEST_POSTGRES_URL`), a
//! real HTTP client, and the device: the SDK's own capture (`liveness-session`) performing the
//! server's plan with the synthetic subject, or evidence a malicious device forges.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use liveness_evidence::{EvidenceConfig, EvidenceStore, ManifestInfo};
use liveness_protocol::encoding::b64url_encode;
use liveness_protocol::manifest::{DeviceInfo, ModelInfo, SdkInfo};
use liveness_protocol::{
    ChallengePlan, DeviceSigningKey, EvidenceManifest, Jwks, Nonce, Sha256Digest, SignedManifest,
};
use liveness_server::admin::{self, NewTenant};
use liveness_server::{Clock, RunningServer, Server, ServerConfig};
use liveness_testkit::{Renderer, Script};
use liveness_vision::{ModelSet, Pipeline, PipelineConfig, Precision};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// SQLite always; PostgreSQL when `LIVENESS_TEST_POSTGRES_URL` names a server (CI starts
/// one). `LIVENESS_REQUIRE_POSTGRES=1` turns its absence into a failure.
pub fn backends() -> Vec<Backend> {
    let mut out = vec![Backend::Sqlite];
    if std::env::var("LIVENESS_TEST_POSTGRES_URL").is_ok() {
        out.push(Backend::Postgres);
    } else if std::env::var("LIVENESS_REQUIRE_POSTGRES").as_deref() == Ok("1") {
        panic!("LIVENESS_REQUIRE_POSTGRES=1 but LIVENESS_TEST_POSTGRES_URL is not set");
    } else {
        eprintln!("note: LIVENESS_TEST_POSTGRES_URL is not set; PostgreSQL runs are skipped");
    }
    out
}

/// An API answer's status and error code (`""` when it has none).
pub async fn code(r: reqwest::Response) -> (u16, String) {
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    (
        status,
        body["error"]["code"].as_str().unwrap_or("").to_owned(),
    )
}

/// One `#[tokio::test]` per `test => scenario`, each running its scenario on every backend.
#[allow(unused_macros)]
macro_rules! on_every_backend {
    ($($test:ident => $scenario:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $test() {
            for backend in $crate::support::backends() {
                $scenario(backend).await;
            }
        }
    )*};
}
#[allow(unused_imports)]
pub(crate) use on_every_backend;

/// A database URL for one test: a new SQLite file, or a new PostgreSQL database.
pub async fn database_url(backend: Backend, dir: &tempfile::TempDir) -> String {
    match backend {
        Backend::Sqlite => format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display()),
        Backend::Postgres => {
            use sqlx::Connection;
            let base = std::env::var("LIVENESS_TEST_POSTGRES_URL").unwrap();
            sqlx::any::install_default_drivers();
            let mut conn = sqlx::AnyConnection::connect(&base).await.unwrap();
            let mut r = [0u8; 6];
            getrandom::fill(&mut r).unwrap();
            let name = format!("liveness_test_{}", hex::encode(r));
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .await
                .unwrap();
            let (prefix, _) = base.rsplit_once('/').unwrap();
            format!("{prefix}/{name}")
        }
    }
}

/// Test timings: quick polling and retries, one worker (two cores).
pub fn test_config(database_url: String) -> ServerConfig {
    ServerConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        metrics_bind: Some("127.0.0.1:0".parse().unwrap()),
        database_url,
        workers: 1,
        poll_interval: Duration::from_millis(50),
        webhook_backoff_base: Duration::from_millis(200),
        webhook_backoff_max: Duration::from_secs(2),
        webhook_timeout: Duration::from_secs(3),
        webhook_lease: Duration::from_secs(5),
        // The receivers in these tests listen on loopback.
        allow_loopback_webhooks: true,
        ..ServerConfig::default()
    }
}

pub struct Harness {
    pub server: RunningServer,
    pub clock: Arc<Clock>,
    pub http: reqwest::Client,
    pub base: String,
    pub tenant: NewTenant,
    pub backend: Backend,
    pub dir: tempfile::TempDir,
}

impl Harness {
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, |_| {}).await
    }

    pub async fn start_with(backend: Backend, tweak: impl FnOnce(&mut ServerConfig)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(database_url(backend, &dir).await);
        tweak(&mut config);
        let clock = Arc::new(Clock::default());
        let server = Server::start_with_clock(config, clock.clone())
            .await
            .unwrap();
        let tenant = admin::create_tenant(&server.state.db, "Acme", clock.now_ms())
            .await
            .unwrap();
        let base = server.url();
        // Wait for the worker's models, as a load balancer would wait for /readyz.
        let http = reqwest::Client::new();
        for _ in 0..600 {
            let r = http.get(format!("{base}/readyz")).send().await.unwrap();
            if r.status() == 200 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self {
            server,
            clock,
            http,
            base,
            tenant,
            backend,
            dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn api_key(&self) -> &str {
        &self.tenant.key.api_key
    }

    /// The published JWKS, as an integrator fetches it for offline verification.
    pub async fn jwks(&self) -> Jwks {
        let bytes = self
            .http
            .get(self.url("/.well-known/jwks.json"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        Jwks::from_json(&bytes).unwrap()
    }

    pub async fn create_session_as(&self, api_key: &str, options: Value) -> reqwest::Response {
        self.http
            .post(self.url("/v1/sessions"))
            .bearer_auth(api_key)
            .json(&options)
            .send()
            .await
            .unwrap()
    }

    pub async fn create_session(&self, options: Value) -> Value {
        let r = self.create_session_as(self.api_key(), options).await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        r.json().await.unwrap()
    }

    pub async fn submit(&self, token: &str, upload: &Upload) -> reqwest::Response {
        self.http
            .post(self.url("/v1/submissions"))
            .bearer_auth(token)
            .multipart(upload.form())
            .send()
            .await
            .unwrap()
    }

    /// Uploads `upload` for `created`, which must be accepted, and waits for its job to end.
    pub async fn submit_and_wait(&self, created: &Value, upload: &Upload) {
        let r = self
            .submit(created["submission_token"].as_str().unwrap(), upload)
            .await;
        assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
        let accepted: Value = r.json().await.unwrap();
        self.wait_job(accepted["job_id"].as_str().unwrap()).await;
    }

    /// Polls the job as the integrator until it ends.
    pub async fn wait_job(&self, job_id: &str) -> Value {
        for _ in 0..1200 {
            let r = self
                .http
                .get(self.url(&format!("/v1/jobs/{job_id}")))
                .bearer_auth(self.api_key())
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let v: Value = r.json().await.unwrap();
            if v["status"] == "done" || v["status"] == "failed" {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("job {job_id} did not finish in 60 s");
    }

    /// `GET path` with `token` as the bearer (an API key, a result or submission token).
    pub async fn get_as(&self, path: &str, token: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// `DELETE /v1/sessions/{session_id}` (the erasure) as the tenant of `api_key`.
    pub async fn erase_as(&self, session_id: &str, api_key: &str) -> reqwest::Response {
        self.http
            .delete(self.url(&format!("/v1/sessions/{session_id}")))
            .bearer_auth(api_key)
            .send()
            .await
            .unwrap()
    }

    pub async fn result(&self, created: &Value) -> Value {
        let r = self
            .http
            .get(self.url(&format!(
                "/v1/sessions/{}/result?token={}",
                created["session_id"].as_str().unwrap(),
                created["result_token"].as_str().unwrap()
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    /// Row counts that tell whether a rejected upload stored anything.
    pub async fn stored(&self, session_id: &str) -> (String, i64, i64) {
        use sqlx::Row;
        let pool = &self.server.state.db.pool;
        let status: String = sqlx::query("SELECT status FROM sessions WHERE id = $1")
            .bind(session_id)
            .fetch_one(pool)
            .await
            .unwrap()
            .try_get("status")
            .unwrap();
        let count = |table: &'static str| async move {
            sqlx::query(&format!(
                "SELECT COUNT(*) AS n FROM {table} WHERE session_id = $1"
            ))
            .bind(session_id)
            .fetch_one(pool)
            .await
            .unwrap()
            .try_get::<i64, _>("n")
            .unwrap()
        };
        (status, count("evidence_frames").await, count("jobs").await)
    }
}

/// A device upload: the signed manifest and its frames.
#[derive(Debug, Clone)]
pub struct Upload {
    pub signed: SignedManifest,
    pub frames: Vec<Vec<u8>>,
    pub passed_locally: bool,
}

impl Upload {
    pub fn form(&self) -> reqwest::multipart::Form {
        let mut form = reqwest::multipart::Form::new()
            .part(
                "manifest",
                reqwest::multipart::Part::bytes(self.signed.manifest_bytes.clone())
                    .mime_str("application/json")
                    .unwrap(),
            )
            .text("public_key", b64url_encode(self.signed.public_key))
            .text("signature", b64url_encode(self.signed.signature));
        for f in &self.frames {
            form = form.part(
                "frame",
                reqwest::multipart::Part::bytes(f.clone())
                    .mime_str("image/jpeg")
                    .unwrap(),
            );
        }
        form
    }

    pub fn manifest(&self) -> EvidenceManifest {
        EvidenceManifest::from_json_bytes(&self.signed.manifest_bytes).unwrap()
    }

    /// Re-signs an edited manifest with `key` (what a malicious device can always do).
    pub fn resigned(&self, manifest: &EvidenceManifest, key: &DeviceSigningKey) -> Self {
        Self {
            signed: key.sign_manifest(manifest).unwrap(),
            frames: self.frames.clone(),
            passed_locally: self.passed_locally,
        }
    }
}

fn models() -> ModelSet {
    static MODELS: OnceLock<ModelSet> = OnceLock::new();
    MODELS
        .get_or_init(|| ModelSet::bundled(Precision::Fp32).unwrap())
        .clone()
}

pub fn device_key() -> DeviceSigningKey {
    DeviceSigningKey::generate().unwrap()
}

/// The plan's challenge names, for [`liveness_testkit::performing`].
pub fn plan_of(created: &Value) -> ChallengePlan {
    serde_json::from_value(created["plan"].clone()).unwrap()
}

/// Performs the session's plan with `script` (or the genuine subject for the plan) through
/// the SDK's own capture (vision, engine, evidence), signed with `key`; nothing is uploaded.
pub async fn perform(created: &Value, script: Option<Script>, key: &DeviceSigningKey) -> Upload {
    use liveness_session::source::RenderedSource;
    use liveness_session::{LivenessSession, SessionConfig, SessionDescriptor, SessionEvent};
    let plan = plan_of(created);
    let script = script.unwrap_or_else(|| liveness_testkit::performing_plan(&plan).unwrap());
    // Recording never talks to the server: the URL is not used.
    let descriptor =
        SessionDescriptor::from_json("http://127.0.0.1:9", &serde_json::to_vec(created).unwrap())
            .unwrap();
    let config = SessionConfig {
        models: Some(models()),
        ..SessionConfig::default()
    };
    let key = DeviceSigningKey::from_seed(&key.seed());
    let session =
        LivenessSession::new(descriptor, config, key, Arc::new(|_: SessionEvent| {})).unwrap();
    let recorded = session
        .record(Box::new(RenderedSource::new(script, false)))
        .await
        .unwrap();
    Upload {
        signed: recorded.signed,
        frames: recorded.frames,
        passed_locally: recorded.local_passed,
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn manifest_info(created: &Value, capture_started_at_ms: i64) -> ManifestInfo {
    ManifestInfo {
        session_id: created["session_id"].as_str().unwrap().to_owned(),
        nonce: Nonce::from_b64url(created["nonce"].as_str().unwrap()).unwrap(),
        submission_token: created["submission_token"].as_str().unwrap().to_owned(),
        sdk: SdkInfo {
            name: "liveness-server-tests".into(),
            version: "0".into(),
        },
        models: vec![ModelInfo {
            name: "face_landmark".into(),
            version: "fp32".into(),
            sha256: Sha256Digest::of(b"face_landmark"),
        }],
        device: DeviceInfo {
            platform: "linux".into(),
            os_version: "test".into(),
            model: "synthetic subject".into(),
            app_id: None,
            key_storage: None,
        },
        capture_started_at_ms,
        attestation: None,
    }
}

/// What a malicious device can send: frames of `script` picked at the given times (seconds)
/// for the given roles, and a timeline claiming every step of the plan passed, with no
/// failed local check. Only the server's own look at the pixels stands in its way.
pub fn forged_upload(
    created: &Value,
    script: Script,
    picks: &[(liveness_protocol::FrameRole, Option<u8>, f32)],
    key: &DeviceSigningKey,
) -> Upload {
    use liveness_challenge::{Capture, Outcome};
    use liveness_protocol::manifest::{StepRecord, StepResult};
    let plan = plan_of(created);
    let r = Renderer::new(script);
    let mut pipeline = Pipeline::new(models(), PipelineConfig::default()).unwrap();
    let mut store = EvidenceStore::new(EvidenceConfig::default());
    for &(role, challenge_index, seconds) in picks {
        let i = (seconds * r.script().fps as f32).round() as usize;
        let img = r.render(i);
        let frame = img.frame().unwrap();
        pipeline.reset();
        let analysis = pipeline.process(&frame).unwrap();
        let capture = Capture {
            role,
            challenge_index,
            quality: 1.0,
        };
        store
            .offer(&capture, r.timestamp_us(i) / 1000, &frame, &analysis)
            .unwrap();
    }
    let outcome = Outcome {
        passed: true,
        failure: None,
        light: None,
        checks: vec![],
        timeline: plan
            .steps
            .iter()
            .map(|s| StepRecord {
                index: s.index,
                kind: s.kind,
                started_ms: 700 + u32::from(s.index) * 3000,
                ended_ms: 2900 + u32::from(s.index) * 3000,
                result: StepResult::Passed,
                reason: None,
            })
            .collect(),
    };
    let evidence = store
        .finish(&manifest_info(created, now_ms() - 10_000), &outcome)
        .unwrap();
    Upload {
        signed: key.sign_manifest(&evidence.manifest).unwrap(),
        frames: evidence.frames,
        passed_locally: true,
    }
}

/// An upload that is well formed and correctly bound but shows no face: quick to make and to
/// verify (inconclusive, "No face detected"). For tests about transport, tokens and webhooks.
pub fn faceless_upload(created: &Value, key: &DeviceSigningKey) -> Upload {
    use liveness_protocol::FrameRole;
    use liveness_protocol::manifest::{
        FrameRecord, LandmarkSummary, MANIFEST_FORMAT_VERSION, StepRecord, StepResult,
    };
    let plan = plan_of(created);
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 80)
        .encode(
            &[128u8; 64 * 64 * 3],
            64,
            64,
            image::ExtendedColorType::Rgb8,
        )
        .unwrap();
    let landmarks = LandmarkSummary {
        face_count: 1,
        face_box: [0.3, 0.3, 0.4, 0.4],
        yaw_deg: 0.0,
        pitch_deg: 0.0,
        roll_deg: 0.0,
        left_eye_openness: 0.3,
        right_eye_openness: 0.3,
        mouth_openness: 0.0,
        smile: 1.0,
    };
    let mut frames = vec![(FrameRole::Photo, None, 100u32)];
    let mut timeline = Vec::new();
    for step in &plan.steps {
        let start = 1000 + u32::from(step.index) * 2000;
        frames.push((FrameRole::Baseline, Some(step.index), start));
        frames.push((FrameRole::ChallengePeak, Some(step.index), start + 800));
        timeline.push(StepRecord {
            index: step.index,
            kind: step.kind,
            started_ms: start,
            ended_ms: start + 1500,
            result: StepResult::Passed,
            reason: None,
        });
    }
    let started = now_ms() - 20_000;
    let manifest = EvidenceManifest {
        format_version: MANIFEST_FORMAT_VERSION,
        session_id: created["session_id"].as_str().unwrap().to_owned(),
        nonce: plan.nonce,
        submission_token_sha256: Sha256Digest::of(created["submission_token"].as_str().unwrap()),
        sdk: SdkInfo {
            name: "liveness-server-tests".into(),
            version: "0".into(),
        },
        models: vec![],
        device: DeviceInfo {
            platform: "linux".into(),
            os_version: "test".into(),
            model: "faceless".into(),
            app_id: None,
            key_storage: None,
        },
        capture_started_at_ms: started.max(0),
        light: None,
        frames: frames
            .iter()
            .enumerate()
            .map(|(i, (role, challenge_index, t))| FrameRecord {
                index: i as u16,
                timestamp_ms: *t,
                sha256: Sha256Digest::of(&jpeg),
                role: *role,
                challenge_index: *challenge_index,
                width: 64,
                height: 64,
                landmarks: landmarks.clone(),
            })
            .collect(),
        timeline,
        local_checks: vec![],
        attestation: None,
    };
    Upload {
        signed: key.sign_manifest(&manifest).unwrap(),
        frames: vec![jpeg; frames.len()],
        passed_locally: true,
    }
}

/// A local webhook receiver: records every request; answers with the status `status()` says
/// at the time (so a test can take it "down" with 503 or hold requests forever).
/// Every request a [`Receiver`] got: headers and body.
pub type Requests = Arc<std::sync::Mutex<Vec<(axum::http::HeaderMap, Vec<u8>)>>>;

pub struct Receiver {
    pub url: String,
    pub requests: Requests,
    pub mode: Arc<std::sync::Mutex<ReceiverMode>>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiverMode {
    Ok,
    Fail,
    /// Reads the request, never answers.
    Hang,
}

impl Receiver {
    pub async fn start() -> Self {
        Self::start_on("127.0.0.1:0").await
    }

    pub async fn start_on(addr: &str) -> Self {
        use axum::extract::State;
        type Shared = (Requests, Arc<std::sync::Mutex<ReceiverMode>>);
        async fn hook(
            State((requests, mode)): State<Shared>,
            headers: axum::http::HeaderMap,
            body: axum::body::Bytes,
        ) -> axum::http::StatusCode {
            requests.lock().unwrap().push((headers, body.to_vec()));
            let m = *mode.lock().unwrap();
            match m {
                ReceiverMode::Ok => axum::http::StatusCode::OK,
                ReceiverMode::Fail => axum::http::StatusCode::SERVICE_UNAVAILABLE,
                ReceiverMode::Hang => {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    axum::http::StatusCode::OK
                }
            }
        }
        let requests = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mode = Arc::new(std::sync::Mutex::new(ReceiverMode::Ok));
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(hook))
            .with_state((requests.clone(), mode.clone()));
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            url,
            requests,
            mode,
            task,
        }
    }

    pub fn set(&self, mode: ReceiverMode) {
        *self.mode.lock().unwrap() = mode;
    }

    pub fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    pub async fn wait_for(&self, n: usize, timeout: Duration) -> bool {
        let until = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < until {
            if self.count() >= n {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        false
    }

    pub fn stop(self) {
        self.task.abort();
    }
}
