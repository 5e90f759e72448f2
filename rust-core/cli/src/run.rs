//! `liveness run`: one real SDK session from a recording (or the webcam) against a running
//! server, exactly as an app runs it — the session JSON the integrator's backend got, frames
//! through vision and the challenges with prompts and guidance, the signed upload, the
//! verdict. QA teams record sequences on devices and replay them against staging with it.
//!
//! Exit codes: 0 the server said live; 1 it said not live; 2 bad arguments; 3 the session
//! ended without a verdict the tool could read (an SDK error, or no result token in the
//! session JSON to read it with).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use liveness_session::{
    FrameSource, LivenessSession, MemoryKeyStore, SessionConfig, SessionDescriptor, SessionEvent,
    device_key,
};
use serde_json::{Value, json};

/// The arguments of `liveness run` (documented on the subcommand).
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// The server's base URL.
    #[arg(long)]
    pub server: String,
    /// The session JSON the backend got from `POST /v1/sessions` (with its `result_token`,
    /// the verdict is read and printed).
    #[arg(long)]
    pub session: PathBuf,
    /// A .y4m recording (any 8-bit 4:2:0 or mono stream ffmpeg writes).
    #[arg(long, conflicts_with_all = ["frames", "camera"])]
    pub input: Option<PathBuf>,
    /// A folder of PNG frames, in name order.
    #[arg(long, conflicts_with = "camera")]
    pub frames: Option<PathBuf>,
    /// Frame rate of a PNG folder.
    #[arg(long, default_value_t = 30)]
    pub fps: u32,
    /// The webcam (needs the `camera` feature).
    #[arg(long)]
    pub camera: bool,
    /// The recording is a mirrored (selfie) preview.
    #[arg(long)]
    pub mirrored: bool,
    /// Events and the verdict as JSON lines.
    #[arg(long)]
    pub json: bool,
    /// Play the recording at its own frame rate instead of as fast as it is analysed.
    #[arg(long)]
    pub realtime: bool,
}

/// How the run ended, as an exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Live,
    NotLive,
    NoVerdict,
}

fn emit_json(v: Value) {
    println!("{v}");
}

/// Prints each event: as a line a QA engineer reads, or as JSON lines.
fn observer(json_lines: bool, started: Instant) -> Arc<dyn liveness_session::Observer> {
    if !json_lines {
        return crate::demo::terminal_observer(started);
    }
    Arc::new(move |e: SessionEvent| {
        let t = started.elapsed().as_millis() as u64;
        let v = match e {
            SessionEvent::Prompt { code, text, target } => {
                json!({"event": "prompt", "t_ms": t, "code": code, "text": text, "target": target})
            }
            SessionEvent::Guidance { code, text } => {
                json!({"event": "guidance", "t_ms": t, "code": code, "text": text})
            }
            SessionEvent::ChallengeStarted { index, kind } => {
                json!({"event": "challenge_started", "t_ms": t, "index": index, "kind": kind.name()})
            }
            SessionEvent::ChallengeFinished {
                index,
                kind,
                passed,
                reason,
            } => {
                json!({"event": "challenge_finished", "t_ms": t, "index": index, "kind": kind.name(), "passed": passed, "reason": reason})
            }
            SessionEvent::LocalOutcome { passed, failure } => {
                json!({"event": "local_outcome", "t_ms": t, "passed": passed, "failure": failure})
            }
            SessionEvent::Submitting { attempt } => {
                json!({"event": "submitting", "t_ms": t, "attempt": attempt})
            }
            SessionEvent::Submitted { job_id } => {
                json!({"event": "submitted", "t_ms": t, "job_id": job_id})
            }
            SessionEvent::Result { job_id, status } => {
                json!({"event": "result", "t_ms": t, "job_id": job_id, "status": status})
            }
            SessionEvent::Error { code, message } => {
                json!({"event": "error", "t_ms": t, "code": code, "message": message})
            }
            _ => return,
        };
        emit_json(v);
    })
}

fn source(args: &RunArgs) -> Result<Box<dyn FrameSource>, String> {
    let source: Box<dyn FrameSource> = match (&args.input, &args.frames, args.camera) {
        (Some(path), None, false) => {
            let y4m = liveness_session::source::y4m(path, args.realtime)
                .map_err(|e| format!("[{}] {e}", e.code()))?;
            Box::new(y4m.mirrored(args.mirrored))
        }
        (None, Some(dir), false) => {
            let frames = liveness_session::source::png_dir(dir, args.fps, args.realtime)
                .map_err(|e| format!("[{}] {e}", e.code()))?;
            if args.mirrored {
                Box::new(Mirrored(Box::new(frames)))
            } else {
                Box::new(frames)
            }
        }
        (None, None, true) => crate::demo::camera_source()?,
        _ => return Err("give exactly one of --input, --frames or --camera".into()),
    };
    Ok(source)
}

/// Marks every frame of a source as a mirrored (selfie) preview.
struct Mirrored(Box<dyn FrameSource>);

impl FrameSource for Mirrored {
    fn next_frame(
        &mut self,
    ) -> Result<Option<liveness_session::SourceFrame>, liveness_session::SdkError> {
        Ok(self.0.next_frame()?.map(|mut f| {
            f.mirrored = true;
            f
        }))
    }

    fn dropped(&self) -> u64 {
        self.0.dropped()
    }

    fn stop(&mut self) {
        self.0.stop();
    }
}

pub fn run(args: RunArgs) -> Result<Ended, String> {
    let bytes = std::fs::read(&args.session)
        .map_err(|e| format!("cannot read {}: {e}", args.session.display()))?;
    let created: Value = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{}: not JSON: {e}", args.session.display()))?;
    let base = args.server.trim_end_matches('/').to_owned();
    let descriptor = SessionDescriptor::from_json(&base, &bytes)
        .map_err(|e| format!("{}: [{}] {e}", args.session.display(), e.code()))?;
    let source = source(&args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let started = Instant::now();
        let kinds: Vec<&str> = descriptor.plan.steps.iter().map(|s| s.kind.name()).collect();
        if !args.json {
            println!("session {} — challenges: {}", descriptor.session_id, kinds.join(" → "));
            if descriptor.plan.light.is_some() && !args.camera {
                // The step needs a screen lighting the face as it is filmed.
                println!(
                    "note: this session has the screen-light step, which a recording cannot \
                     answer (it ends not live, light_no_reflection); for recordings create \
                     sessions with \"light_challenge\": false"
                );
            }
        }
        let key = device_key(&MemoryKeyStore::default()).map_err(|e| e.to_string())?;
        let session = LivenessSession::new(
            descriptor.clone(),
            SessionConfig::default(),
            key,
            observer(args.json, started),
        )
        .map_err(|e| format!("[{}] {e}", e.code()))?;
        let outcome = session.run(source).await;
        if let Err(e) = &outcome
            && !args.json
        {
            println!("the SDK stopped: [{}] {e} — {}", e.code(), e.recovery());
        }
        let Some(token) = created["result_token"].as_str() else {
            let status = outcome.as_ref().map(|r| r.job_status.clone()).ok();
            if args.json {
                emit_json(json!({"event": "verdict", "readable": false, "job_status": status}));
            } else {
                println!(
                    "server job status: {}; the session JSON has no result_token, so the verdict cannot be read here",
                    status.as_deref().unwrap_or("none")
                );
            }
            return Ok(Ended::NoVerdict);
        };
        let http = reqwest::Client::new();
        let result = crate::demo::read_result(&http, &base, &descriptor.session_id, token).await?;
        let ended = match result.live {
            Some(true) => Ended::Live,
            Some(false) => Ended::NotLive,
            None => Ended::NoVerdict,
        };
        if args.json {
            emit_json(json!({"event": "verdict", "readable": true, "result": result}));
        } else {
            println!(
                "verdict: {} — {} ({:?}, {:.1} s)",
                match ended {
                    Ended::Live => "LIVE",
                    Ended::NotLive => "NOT LIVE",
                    Ended::NoVerdict => "none yet",
                },
                result.message.as_deref().unwrap_or("-"),
                result.status,
                started.elapsed().as_secs_f32()
            );
            for r in result.reasons.iter().filter(|r| !r.passed) {
                println!("  ✗ {}: {}", r.check, r.reason.as_deref().unwrap_or(""));
            }
        }
        Ok(ended)
    })
}
