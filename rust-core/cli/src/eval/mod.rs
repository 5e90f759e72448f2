//! `liveness eval`: the product's one decision — live or attack — measured the way ISO/IEC
//! 30107-3 reports it, on sessions the project's tests never contained.
//!
//! Every session is the real thing end to end: a session created on an in-process
//! verification server (SQLite, loopback HTTP), the SDK session running the frames through
//! vision, the challenge engine and the evidence store, the signed upload, the server's
//! re-check, and the integrator reading the verdict with its result token. The sessions are
//! a seeded grid of rendered conditions and attacks ([`grid`]) and windows of real
//! recordings ([`clips`]); the report ([`report`]) gives APCER per attack type, BPCER, both
//! by condition, every miss with its reasons, and the head-pose error against the renderer's
//! ground truth ([`pose`]).

mod chart;
mod clips;
mod grid;
mod pose;
mod report;
mod sources;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use liveness_protocol::{ChallengeKind, SessionOptions};
use liveness_server::{RunningServer, Server, ServerConfig, admin};
use liveness_session::source::{RenderedSource, UserCues, y4m};
use liveness_session::{
    FrameSource, LivenessSession, MemoryKeyStore, SessionConfig, SessionDescriptor, SessionEvent,
    device_key,
};
use liveness_vision::{ModelSet, Precision};

use grid::{Scenario, SourceSpec};
pub use report::Record;

/// The head-pose error curve, every `step` degrees.
pub fn pose_curve(step: usize) -> Result<pose::PoseCurve, String> {
    pose::error_curve(step)
}

#[derive(Debug, Clone)]
pub struct EvalArgs {
    pub quick: bool,
    pub out: PathBuf,
    pub seed: u64,
    pub clips: Option<PathBuf>,
    /// Fail when the real clips are missing instead of reporting without them.
    pub require_clips: bool,
    pub jobs: usize,
    /// Only sessions whose id contains this.
    pub filter: Option<String>,
    /// Every session on the no-flash path (`light_challenge: false`): the figures without the
    /// light step (the daylight sessions, which test it, are left out).
    pub no_light: bool,
}

fn fail(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Runs the evaluation; `Ok(true)` when every target is met.
pub fn eval(args: EvalArgs) -> Result<bool, String> {
    let clip_dir = clips::clip_dir(args.clips.as_deref());
    let missing = clips::missing(&clip_dir);
    if !missing.is_empty() && args.require_clips {
        return Err(format!(
            "real clips missing from {}: {} (scripts/setup.sh downloads them)",
            clip_dir.display(),
            missing.join(", ")
        ));
    }
    let mut scenarios = grid::scenarios(args.quick, args.seed);
    let rendered = scenarios.len() as u64;
    if missing.is_empty() {
        scenarios.extend(clips::scenarios(&clip_dir, args.quick, args.seed, rendered));
    } else {
        eprintln!(
            "note: real clips missing from {} ({}): rendered sessions only",
            clip_dir.display(),
            missing.join(", ")
        );
    }
    if let Some(f) = &args.filter {
        scenarios.retain(|s| s.id.contains(f.as_str()));
    }
    if args.no_light {
        scenarios.retain(|s| !s.id.starts_with("rendered/daylight/"));
        for s in &mut scenarios {
            s.options.light_challenge = Some(false);
        }
    }
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let started = Instant::now();
    eprintln!(
        "liveness eval: {} sessions ({}), seed {}, {} at a time",
        scenarios.len(),
        if args.quick { "quick" } else { "full grid" },
        args.seed,
        args.jobs
    );
    let pose = pose::error_curve(if args.quick { 15 } else { 5 })?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(fail)?;
    let records = runtime.block_on(run_all(scenarios, args.jobs.max(1)))?;
    let report = report::Report::new(records, pose, args.quick, args.seed, started.elapsed());
    report.write(&args.out)?;
    println!("{}", report.summary());
    println!("report: {}", args.out.join("report.md").display());
    Ok(report.targets_met())
}

/// What every session shares: the server, the tenant, the models.
struct Ctx {
    server: RunningServer,
    tenant_id: String,
    http: reqwest::Client,
    models: ModelSet,
}

async fn run_all(scenarios: Vec<Scenario>, jobs: usize) -> Result<Vec<Record>, String> {
    let dir = std::env::temp_dir().join(format!("liveness-eval-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(fail)?;
    let server = Server::start(ServerConfig {
        bind: "127.0.0.1:0".parse().map_err(fail)?,
        database_url: format!("sqlite://{}?mode=rwc", dir.join("eval.db").display()),
        workers: 1,
        poll_interval: Duration::from_millis(50),
        ..ServerConfig::default()
    })
    .await
    .map_err(fail)?;
    let tenant = admin::create_tenant(&server.state.db, "Evaluation", server.state.clock.now_ms())
        .await
        .map_err(fail)?;
    let models = ModelSet::bundled(Precision::Fp32).map_err(fail)?;
    let ctx = Arc::new(Ctx {
        server,
        tenant_id: tenant.tenant_id,
        http: reqwest::Client::new(),
        models,
    });
    let bar = ProgressBar::new(scenarios.len() as u64);
    if let Ok(style) = ProgressStyle::with_template(
        "{msg:>10} [{bar:40}] {pos}/{len} sessions, {elapsed} elapsed, eta {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message("eval");
    let scenarios = Arc::new(scenarios);
    let next = Arc::new(AtomicUsize::new(0));
    let records = Arc::new(Mutex::new(Vec::new()));
    let mut workers = Vec::new();
    for _ in 0..jobs {
        let (ctx, scenarios, next, records, bar) = (
            ctx.clone(),
            scenarios.clone(),
            next.clone(),
            records.clone(),
            bar.clone(),
        );
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(s) = scenarios.get(i) else { break };
                let record = run_one(&ctx, s).await;
                if let Ok(mut r) = records.lock() {
                    r.push((i, record));
                }
                bar.inc(1);
            }
        }));
    }
    for w in workers {
        w.await.map_err(fail)?;
    }
    bar.finish_and_clear();
    let mut records = std::mem::take(&mut *records.lock().map_err(fail)?);
    records.sort_by_key(|r| r.0);
    if let Ok(ctx) = Arc::try_unwrap(ctx) {
        ctx.server.shutdown().await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(records.into_iter().map(|r| r.1).collect())
}

/// What the observer saw during one session.
#[derive(Debug, Default)]
struct Seen {
    guidance: Vec<String>,
    prompts: Vec<String>,
    challenges: Vec<String>,
}

async fn run_one(ctx: &Ctx, s: &Scenario) -> Record {
    let started = Instant::now();
    let mut record = Record::new(s);
    match session(ctx, s, &mut record).await {
        Ok(()) => {}
        Err(e) => record.harness_error = Some(e),
    }
    record.seconds = started.elapsed().as_secs_f32();
    if !record.missed() {
        record.script = None;
    }
    record
}

async fn session(ctx: &Ctx, s: &Scenario, record: &mut Record) -> Result<(), String> {
    let created = liveness_server::api::create_session(
        &ctx.server.state,
        &ctx.tenant_id,
        s.options.clone(),
        s.nonce,
    )
    .await
    .map_err(|e| e.message)?;
    record.plan = created
        .plan
        .steps
        .iter()
        .map(|p| p.kind.name().to_owned())
        .collect();
    let json = serde_json::to_vec(&created).map_err(fail)?;
    let base = ctx.server.url();
    let descriptor = SessionDescriptor::from_json(&base, &json).map_err(fail)?;
    let cues = UserCues::new();
    let (source, script) = source_for(s, &descriptor, &cues)?;
    record.script = script;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let observer = {
        let seen = seen.clone();
        Arc::new(move |e: SessionEvent| {
            cues.on_event(&e);
            let Ok(mut seen) = seen.lock() else { return };
            match e {
                SessionEvent::Guidance { code: Some(c), .. }
                    if seen.guidance.last().map(String::as_str) != Some(c) =>
                {
                    seen.guidance.push(c.to_owned());
                }
                SessionEvent::Prompt { code, .. }
                    if seen.prompts.last().map(String::as_str) != Some(code) =>
                {
                    seen.prompts.push(code.to_owned());
                }
                SessionEvent::ChallengeFinished {
                    kind,
                    passed,
                    reason,
                    ..
                } => seen.challenges.push(format!(
                    "{} {}",
                    kind.name(),
                    if passed {
                        "passed".to_owned()
                    } else {
                        format!("failed ({})", reason.unwrap_or_default())
                    }
                )),
                _ => {}
            }
        })
    };
    let config = SessionConfig {
        models: Some(ctx.models.clone()),
        poll_interval: Duration::from_millis(50),
        // The scenario's own nonce seeds the light colours: the same seed, the same run.
        light_salt_seed: Some(s.nonce.0),
        ..SessionConfig::default()
    };
    let key = device_key(&MemoryKeyStore::default()).map_err(fail)?;
    let session = LivenessSession::new(descriptor, config, key, observer).map_err(fail)?;
    match session.run(source).await {
        Ok(r) => {
            record.local_passed = Some(r.local_passed);
            record.local_failure = r.local_failure;
            record.frames = r.frames_analysed;
        }
        Err(e) => record.sdk_error = Some(format!("{} ({e})", e.code())),
    }
    if let Ok(seen) = seen.lock() {
        record.guidance = seen.guidance.clone();
        record.prompts = seen.prompts.clone();
        record.challenges = seen.challenges.clone();
    }
    // The integrator's view: the stored result, read with the result token over HTTP.
    let result =
        crate::demo::read_result(&ctx.http, &base, &created.session_id, &created.result_token)
            .await?;
    record.set_result(&result);
    Ok(())
}

/// Another plan than `descriptor`'s, for a recording made for a different session.
fn other_plan(
    d: &SessionDescriptor,
    nonce_seed: &[u8],
) -> Result<liveness_protocol::ChallengePlan, String> {
    let first = d.plan.steps.first().map(|s| s.kind);
    let pos = ChallengeKind::ALL
        .iter()
        .position(|k| Some(*k) == first)
        .unwrap_or(0);
    // The next kind (never FollowText, whose path belongs to its own session).
    let mut kind = ChallengeKind::ALL[(pos + 1) % ChallengeKind::ALL.len()];
    if kind == ChallengeKind::FollowText {
        kind = ChallengeKind::BlinkEyes;
    }
    let options = SessionOptions {
        available_actions: Some(vec![
            kind,
            if kind == ChallengeKind::Smile {
                ChallengeKind::HeadUp
            } else {
                ChallengeKind::Smile
            },
        ]),
        challenge_count: Some(2),
        ..Default::default()
    };
    let nonce = liveness_protocol::Nonce(liveness_protocol::Sha256Digest::of(nonce_seed).0);
    let mut plan = liveness_protocol::derive_plan(&nonce, &options).map_err(fail)?;
    // The recording was made for a plan starting elsewhere: put the other kind first.
    plan.steps.sort_by_key(|s| s.kind != kind);
    for (i, s) in plan.steps.iter_mut().enumerate() {
        s.index = i as u8;
    }
    Ok(plan)
}

/// The session's frames, and the script that rendered them (kept with a miss, so
/// `liveness render` can reproduce it).
type Source = (Box<dyn FrameSource>, Option<liveness_testkit::Script>);

/// `cues`: what the session shows, for a genuine subject who reacts to it.
fn source_for(s: &Scenario, d: &SessionDescriptor, cues: &UserCues) -> Result<Source, String> {
    Ok(match &s.source {
        SourceSpec::Performer(c) => {
            let script = grid::performer(&d.plan, c)?;
            (
                rendered_with(script.clone(), c, true, Some(cues.clone())),
                Some(script),
            )
        }
        SourceSpec::Attack {
            kind,
            conditions,
            param,
        } => {
            let other = other_plan(d, s.id.as_bytes())?;
            let script = grid::attack_script(*kind, conditions, *param, &d.plan, &other)?;
            // A stream injected past the camera never sees this session's screen; it shows
            // the light of the session it was recorded in.
            let injected = *kind == grid::AttackType::InjectedOwnPlan
                || (*kind == grid::AttackType::ReplayOtherPlan && *param > 1.5);
            // A replay plays on regardless of what the session shows.
            (
                rendered_with(script.clone(), conditions, !injected, None),
                Some(script),
            )
        }
        SourceSpec::Clip {
            path,
            start_ms,
            end_ms,
        } => {
            let clip = y4m(path, false).map_err(fail)?;
            let window = sources::Window::new(Box::new(clip), *start_ms, *end_ms);
            (Box::new(window), None)
        }
    })
}

/// `lit`: the screen lights the scene (closed loop); otherwise the frames carry another
/// session's light, as a recording does. `cues`: the subject reacts to the session.
fn rendered_with(
    script: liveness_testkit::Script,
    c: &grid::Conditions,
    lit: bool,
    cues: Option<UserCues>,
) -> Box<dyn FrameSource> {
    let interval = 1000 / u64::from(script.fps.max(1));
    let source = RenderedSource::new(script, false).mirrored(c.mirrored);
    let source = if lit { source } else { source.recorded_light() };
    let source = match cues {
        Some(cues) => source.responsive(cues),
        None => source,
    };
    let inner = Box::new(source);
    if c.repeat > 1 || c.fps < 30 {
        // A real camera's delivery: repeats, uneven stamps.
        Box::new(sources::Delivery::new(inner, c.repeat, interval, 4, c.seed))
    } else {
        inner
    }
}
