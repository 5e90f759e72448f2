//! `liveness demo`: the whole product on one machine. An in-process verification server on a
//! free loopback port over a temporary SQLite file; a tenant; a session created over HTTP as
//! an integrator's backend would; the SDK session performing the plan with the synthetic
//! subject (or an attack) and live guidance in the terminal; the upload; the verdict, checked
//! offline against the server's JWKS. `session-bench` runs one session against a server in
//! another process and reports the SDK's own memory, evidence size and time to verdict.

use std::sync::Arc;
use std::time::{Duration, Instant};

use liveness_protocol::{Jwks, ResultBody, Sha256Digest};
use liveness_server::{Server, ServerConfig, admin};
use liveness_session::source::RenderedSource;
use liveness_session::{
    FrameSource, LivenessResult, LivenessSession, MemoryKeyStore, SessionConfig, SessionDescriptor,
    SessionEvent, device_key,
};
use liveness_testkit::Script;
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Attack {
    /// A printed photo turned in front of the camera.
    Print,
    /// A video replayed on a screen held up to the camera.
    Replay,
    /// A still photo.
    Static,
}

impl Attack {
    fn script(self) -> &'static str {
        match self {
            Self::Print => include_str!("../../testkit/subjects/attack_print.toml"),
            Self::Replay => include_str!("../../testkit/subjects/attack_screen_replay.toml"),
            Self::Static => include_str!("../../testkit/subjects/attack_static_photo.toml"),
        }
    }
}

fn fail(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Prints what a phone would show: prompts, guidance, progress, the upload.
pub(crate) fn terminal_observer(started: Instant) -> Arc<dyn liveness_session::Observer> {
    Arc::new(move |e: SessionEvent| {
        let t = started.elapsed().as_secs_f32();
        match e {
            SessionEvent::Prompt { text, .. } => println!("  {t:5.1}s  ▶ {text}"),
            SessionEvent::Guidance {
                text: Some(text), ..
            } => println!("  {t:5.1}s  ! {text}"),
            SessionEvent::ChallengeFinished {
                index,
                kind,
                passed,
                reason,
            } => println!(
                "  {t:5.1}s  {} challenge {} {}{}",
                if passed { "✓" } else { "✗" },
                index + 1,
                kind.name(),
                reason.map(|r| format!(" ({r})")).unwrap_or_default()
            ),
            SessionEvent::LocalOutcome { passed, failure } => println!(
                "  {t:5.1}s  on the device: {}",
                if passed {
                    "all challenges passed".to_owned()
                } else {
                    format!("failed ({})", failure.unwrap_or_default())
                }
            ),
            SessionEvent::Submitting { attempt } => {
                println!("  {t:5.1}s  uploading signed evidence (attempt {attempt})")
            }
            SessionEvent::Submitted { job_id } => {
                println!("  {t:5.1}s  accepted as {job_id}; the server re-checks it")
            }
            SessionEvent::Error { code, message } => {
                println!("  {t:5.1}s  error [{code}]: {message}")
            }
            _ => {}
        }
    })
}

#[cfg(feature = "camera")]
pub(crate) fn camera_source() -> Result<Box<dyn FrameSource>, String> {
    let cam = liveness_session::camera::CameraSource::open(
        0,
        Duration::from_secs(10),
        Duration::from_secs(5),
    )
    .map_err(|e| format!("[{}] {e} — {}", e.code(), e.recovery()))?;
    Ok(Box::new(cam))
}

#[cfg(not(feature = "camera"))]
pub(crate) fn camera_source() -> Result<Box<dyn FrameSource>, String> {
    Err("this build has no webcam support (built without the `camera` feature)".into())
}

fn performer(d: &SessionDescriptor) -> Result<Script, String> {
    liveness_testkit::performing_plan(&d.plan).map_err(fail)
}

async fn post_session(
    http: &reqwest::Client,
    base: &str,
    api_key: &str,
    options: Value,
) -> Result<(SessionDescriptor, Value), String> {
    let r = http
        .post(format!("{base}/v1/sessions"))
        .bearer_auth(api_key)
        .json(&options)
        .send()
        .await
        .map_err(fail)?;
    if r.status() != 201 {
        return Err(format!(
            "creating the session: {} {}",
            r.status(),
            r.text().await.unwrap_or_default()
        ));
    }
    let bytes = r.bytes().await.map_err(fail)?;
    let created: Value = serde_json::from_slice(&bytes).map_err(fail)?;
    Ok((
        SessionDescriptor::from_json(base, &bytes).map_err(fail)?,
        created,
    ))
}

/// The integrator's view of a session: its stored result, read with the result token.
pub(crate) async fn read_result(
    http: &reqwest::Client,
    base: &str,
    session_id: &str,
    result_token: &str,
) -> Result<ResultBody, String> {
    http.get(format!("{base}/v1/sessions/{session_id}/result"))
        .query(&[("token", result_token)])
        .send()
        .await
        .map_err(|e| format!("reading the result: {e}"))?
        .json()
        .await
        .map_err(|e| format!("reading the result: {e}"))
}

/// Runs the demo; `Ok(true)` when the outcome is the expected one (genuine: live; attack: not).
pub fn demo(attack: Option<Attack>, camera: bool, fast: bool) -> Result<bool, String> {
    // Open the camera first: no camera is a clear error before anything else starts.
    let mut webcam = if camera { Some(camera_source()?) } else { None };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(fail)?;
    runtime.block_on(async move {
        let started = Instant::now();
        let dir = std::env::temp_dir().join(format!("liveness-demo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(fail)?;
        let db = dir.join("demo.db");
        println!("1. Verification server (in-process, SQLite at {})", db.display());
        let server = Server::start(ServerConfig {
            bind: "127.0.0.1:0".parse().map_err(fail)?,
            database_url: format!("sqlite://{}?mode=rwc", db.display()),
            workers: 1,
            poll_interval: Duration::from_millis(50),
            ..ServerConfig::default()
        })
        .await
        .map_err(fail)?;
        let base = server.url();
        let tenant = admin::create_tenant(&server.state.db, "Demo Bank", server.state.clock.now_ms())
            .await
            .map_err(fail)?;
        println!("   listening on {base}; tenant {} with API key {}…", tenant.tenant_id, &tenant.key.api_key[..14]);

        let http = reqwest::Client::new();
        let options = match attack {
            None => json!({"available_actions": ["HeadLeft", "HeadRight", "BlinkEyes", "Smile", "HeadUp"], "challenge_count": 2, "relay_state": "demo"}),
            Some(_) => json!({"action": "HeadLeft", "relay_state": "demo"}),
        };
        let (descriptor, created) = post_session(&http, &base, &tenant.key.api_key, options).await?;
        let kinds: Vec<&str> = descriptor.plan.steps.iter().map(|s| s.kind.name()).collect();
        println!("2. Integrator backend created session {} — challenges: {}", descriptor.session_id, kinds.join(" → "));

        let source: Box<dyn FrameSource> = match webcam.take() {
            Some(cam) => {
                println!("3. The SDK runs on your webcam: follow the prompts.");
                cam
            }
            None => {
                let script = match attack {
                    None => performer(&descriptor)?,
                    Some(a) => Script::parse(a.script()).map_err(fail)?,
                };
                println!(
                    "3. The phone runs the SDK: {} (rendered synthetic subject, {}):",
                    match attack {
                        None => "a genuine user".to_owned(),
                        Some(a) => format!("ATTACK: {a:?}"),
                    },
                    if fast { "as fast as possible" } else { "in real time" }
                );
                Box::new(RenderedSource::new(script, !fast).mirrored(true))
            }
        };
        let key = device_key(&MemoryKeyStore::default()).map_err(fail)?;
        let session = LivenessSession::new(
            descriptor.clone(),
            SessionConfig::default(),
            key,
            terminal_observer(Instant::now()),
        )
        .map_err(fail)?;
        let outcome: Result<LivenessResult, _> = session.run(source).await;
        match &outcome {
            Ok(r) => println!(
                "   job {} ended: {}; {} frames analysed, evidence {} bytes in {} JPEGs",
                r.job_id, r.job_status, r.frames_analysed, r.evidence_bytes, r.images.len()
            ),
            Err(e) => println!("   the SDK stopped: [{}] {e} — {}", e.code(), e.recovery()),
        }

        println!("4. Integrator backend reads the result with its result token and verifies the verdict offline");
        let result = read_result(
            &http,
            &base,
            &descriptor.session_id,
            created["result_token"].as_str().unwrap_or_default(),
        )
        .await?;
        let jwks_bytes = http
            .get(format!("{base}/.well-known/jwks.json"))
            .send()
            .await
            .map_err(fail)?
            .bytes()
            .await
            .map_err(fail)?;
        let jwks = Jwks::from_json(&jwks_bytes).map_err(fail)?;
        let live = result.live == Some(true);
        println!(
            "   status {:?}, message: {}",
            result.status,
            result.message.as_deref().unwrap_or("-")
        );
        for r in result.reasons.iter().filter(|r| !r.passed) {
            println!("   ✗ {}: {}", r.check, r.reason.as_deref().unwrap_or(""));
        }
        if let Some(signed) = &result.verdict {
            let verdict = jwks.verify(signed).map_err(|e| format!("the verdict does not verify: {e}"))?;
            println!(
                "   verdict {} (confidence {:.2}), signed by key {}: signature VALID against {}/.well-known/jwks.json",
                verdict.verdict.as_str(),
                verdict.confidence,
                signed.kid,
                base
            );
            if let (Some(digest), Ok(r)) = (verdict.photo_sha256, &outcome) {
                let photo_ok = r.images.iter().any(|i| Sha256Digest::of(i) == digest);
                println!("   the signed verdict names the photo the phone took: {}", if photo_ok { "yes" } else { "NO" });
            }
        } else {
            println!("   no verdict: nothing was submitted");
        }
        server.shutdown().await;
        let _ = std::fs::remove_dir_all(&dir);
        let expected = match attack {
            None => live,
            Some(_) => !live,
        };
        println!(
            "\n{} in {:.1} s: {}",
            if expected { "DEMO OK" } else { "DEMO FAILED" },
            started.elapsed().as_secs_f32(),
            match (attack, live) {
                (None, true) => "the genuine user was verified live".to_owned(),
                (None, false) => "the genuine user was NOT verified live".to_owned(),
                (Some(a), false) => format!("the {a:?} attack was rejected"),
                (Some(a), true) => format!("the {a:?} attack was accepted as live"),
            }
        );
        Ok(expected)
    })
}

fn peak_rss_kib() -> Option<u64> {
    std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// One genuine session against a server in another process: the SDK's figures alone.
pub fn session_bench(server: &str, api_key: &str) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(fail)?;
    runtime.block_on(async move {
        let http = reqwest::Client::new();
        let before = peak_rss_kib().unwrap_or(0);
        let (d, _) = post_session(&http, server, api_key, json!({"available_actions": ["HeadLeft", "BlinkEyes", "Smile"], "challenge_count": 3})).await?;
        let script = performer(&d)?;
        let session = LivenessSession::new(d, SessionConfig::default(), device_key(&MemoryKeyStore::default()).map_err(fail)?, Arc::new(|_: SessionEvent| {})).map_err(fail)?;
        let r = session.run(Box::new(RenderedSource::new(script, false))).await.map_err(fail)?;
        let peak = peak_rss_kib().unwrap_or(0);
        println!("session: 3 challenges, {} frames analysed ({} dropped), local outcome {}, server {}", r.frames_analysed, r.frames_dropped, if r.local_passed { "passed" } else { "failed" }, r.job_status);
        println!("peak RSS of the SDK process: {:.1} MB (target ≤ 60 MB; {:.1} MB before the session)", peak as f64 / 1024.0, before as f64 / 1024.0);
        println!("evidence: {} bytes in {} JPEGs (target ≤ 250 KB)", r.evidence_bytes, r.images.len());
        println!("first frame → local outcome: {} ms; → server verdict: {} ms (frames rendered as fast as analysed, not paced)", r.capture_ms, r.total_ms);
        Ok(())
    })
}
