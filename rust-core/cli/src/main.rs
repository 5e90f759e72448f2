//! `liveness`: the command-line tool for QA and integrators. It owns no logic of its own:
//! each subcommand drives a library crate and prints what it returns.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Parser, Subcommand};
use liveness_protocol::vectors::reference_vectors;
use liveness_protocol::{Jwks, Nonce, ProtocolError, SessionOptions, SignedVerdict, derive_plan};

mod bench;
mod demo;
mod eval;
mod protocol_demo;
mod run;
mod subject;

#[derive(Parser)]
#[command(name = "liveness", version, about = "Face-liveness SDK tools")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The end-to-end demo: an in-process server, a session created as an integrator would,
    /// the SDK performing it with a rendered subject and live guidance, the upload, and the
    /// verdict verified offline against the JWKS.
    Demo {
        /// Show an attack being rejected instead of a genuine user passing.
        #[arg(long, value_enum)]
        attack: Option<demo::Attack>,
        /// A real webcam instead of the rendered subject (needs the `camera` feature).
        #[arg(long)]
        camera: bool,
        /// Do not pace the rendered frames in real time.
        #[arg(long)]
        fast: bool,
    },
    /// One real SDK session from a recording or the webcam against a running server, as an
    /// app runs it: prompts, guidance, the upload, the verdict. Exit code 0 only when the
    /// server says live (1 not live, 2 bad arguments, 3 no verdict readable).
    Run(run::RunArgs),
    /// The evaluation: a seeded grid of rendered conditions and attacks plus windows of real
    /// recordings, each run end to end through the SDK and an in-process server; APCER per
    /// attack type and BPCER (ISO/IEC 30107-3) in report.json, report.md and report.png.
    /// Exit code 1 when a target is missed.
    Eval {
        /// A small fixed subset (minutes), as the test command runs.
        #[arg(long)]
        quick: bool,
        /// Where the reports go.
        #[arg(long, default_value = "eval-report")]
        out: PathBuf,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The folder of real clips (default: $LIVENESS_CACHE/clips, filled by setup).
        #[arg(long)]
        clips: Option<PathBuf>,
        /// Fail if the real clips are missing.
        #[arg(long)]
        require_clips: bool,
        /// Sessions at a time (default: one per core).
        #[arg(long)]
        jobs: Option<usize>,
        /// Only sessions whose id contains this.
        #[arg(long)]
        filter: Option<String>,
        /// Run every session on the no-flash path (`light_challenge: false`).
        #[arg(long)]
        no_light: bool,
    },
    /// The head-pose estimate against the renderer's ground truth (yaw and pitch −45…45°,
    /// three distances, roll 0° and 15°): prints the error curve; exit code 1 if an error
    /// within ±30° exceeds --max-error.
    PoseCheck {
        /// Degrees between measured angles.
        #[arg(long, default_value_t = 5)]
        step: usize,
        #[arg(long, default_value_t = 6.0)]
        max_error: f32,
    },
    /// One SDK session against a running server: peak RSS, evidence size, time to verdict.
    SessionBench {
        #[arg(long)]
        server: String,
        #[arg(long, env = "LIVENESS_API_KEY")]
        api_key: String,
    },
    /// Walk through one session's protocol in-process: options, plan, signed evidence,
    /// server checks, signed verdict verified offline, and tampered copies refused.
    ProtocolDemo,
    /// Measure the vision pipeline per stage (tract, and onnxruntime side by side when
    /// ORT_DYLIB_PATH names its library), fp32 and int8, on a 640x480 sequence.
    Bench {
        /// Frames per configuration.
        #[arg(long, default_value_t = 150)]
        frames: usize,
        /// Include the iris refinement.
        #[arg(long)]
        iris: bool,
        /// Also print where tract's time goes, per op type and model.
        #[arg(long)]
        ops: bool,
        /// Threads for tract's matrix kernels.
        #[arg(long, default_value_t = 1)]
        threads: usize,
    },
    /// Compare tract's model outputs with onnxruntime's on identical real inputs (needs
    /// ORT_DYLIB_PATH); exit code 1 if fp32 FaceMesh landmarks differ by more than --max-px.
    CompareEngines {
        #[arg(long, default_value_t = 1.0)]
        max_px: f32,
    },
    /// Render a synthetic-subject script (TOML/JSON) to a PNG folder or a .y4m video; or,
    /// with --for-session, the genuine subject performing a session's challenge plan.
    Render {
        #[arg(required_unless_present = "for_session")]
        script: Option<PathBuf>,
        /// A session JSON (the server's `POST /v1/sessions` answer) or a bare plan JSON.
        #[arg(long, conflicts_with = "script")]
        for_session: Option<PathBuf>,
        /// A folder (PNG frames) or a file ending in .y4m.
        #[arg(long, required_unless_present = "serve")]
        out: Option<PathBuf>,
        /// Render on request instead (the browser tests' closed-loop camera): JSON lines on
        /// stdin give the time and what the page showed, RGBA frames go to stdout; the
        /// subject reacts to the page's prompts (see `subject::serve`).
        #[arg(long, conflicts_with = "out")]
        serve: bool,
        /// Present the performance as an attack: `print` (the photo on paper, moved as the
        /// plan says) or `screen` (the recording replayed on a screen), with the renderer's
        /// default attack settings.
        #[arg(long, value_parser = ["print", "screen"])]
        attack: Option<String>,
    },
    /// Per-frame vision signals of a PNG folder or .y4m video, as JSON lines.
    Analyze {
        input: PathBuf,
        /// Include the iris refinement (lid opening per eye).
        #[arg(long)]
        iris: bool,
        /// Include the 468 FaceMesh points (x, y in frame pixels, z relative depth).
        #[arg(long)]
        landmarks: bool,
        /// Analyse the frames as a mirrored (selfie) preview, as the SDK sees them then.
        #[arg(long)]
        mirrored: bool,
        /// Frame rate of a PNG folder (a .y4m file carries its own).
        #[arg(long, default_value_t = 30)]
        fps: u32,
    },
    /// Derive the challenge plan for a nonce and session options (JSON).
    Plan {
        /// The session nonce, unpadded base64url (32 bytes).
        #[arg(long)]
        nonce: String,
        /// Session options as JSON; `@FILE` reads a file.
        #[arg(long, default_value = "{}")]
        options: String,
    },
    /// Verify a verdict offline against a JWKS file (exit code 1 if it does not verify).
    VerifyVerdict {
        /// The JWKS, as served at /.well-known/jwks.json.
        #[arg(long)]
        jwks: PathBuf,
        /// A compact JWS verdict.
        #[arg(
            long,
            conflicts_with = "signed_verdict",
            required_unless_present = "signed_verdict"
        )]
        jws: Option<String>,
        /// A JSON file holding a signed verdict (detached signature).
        #[arg(long)]
        signed_verdict: Option<PathBuf>,
    },
    /// Write a set of reference vectors (every signed artefact) as JSON, from a fresh random
    /// seed unless one is given.
    Vectors {
        /// 32-byte seed as 64 hex characters.
        #[arg(long)]
        seed: Option<String>,
        /// Unix time to stamp the artefacts with (default: now).
        #[arg(long)]
        now: Option<i64>,
        /// Output file (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// Why a command failed, with the exit code it maps to.
enum Failure {
    Usage(String),
    Protocol(ProtocolError),
    Vision(liveness_vision::VisionError),
    /// A check ran and its result was negative; it printed why.
    CheckFailed,
    /// A session ended without a verdict the tool could read; it printed why.
    NoVerdict,
}

impl From<liveness_vision::VisionError> for Failure {
    fn from(e: liveness_vision::VisionError) -> Self {
        Self::Vision(e)
    }
}

impl From<ProtocolError> for Failure {
    fn from(e: ProtocolError) -> Self {
        Self::Protocol(e)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Protocol(e)) => {
            eprintln!("error [{}]: {e}", e.code());
            ExitCode::from(1)
        }
        Err(Failure::Vision(e)) => {
            eprintln!("error [{}]: {e}", e.code());
            ExitCode::from(1)
        }
        Err(Failure::CheckFailed) => ExitCode::from(1),
        Err(Failure::NoVerdict) => ExitCode::from(3),
        Err(Failure::Usage(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn read(path: &PathBuf) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| Failure::Usage(format!("cannot read {}: {e}", path.display())))
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, Failure> {
    serde_json::to_string_pretty(value).map_err(|e| Failure::Usage(e.to_string()))
}

fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::ProtocolDemo => protocol_demo::run().map_err(Failure::from),
        Command::Demo {
            attack,
            camera,
            fast,
        } => match demo::demo(attack, camera, fast) {
            Ok(true) => Ok(()),
            Ok(false) => Err(Failure::CheckFailed),
            Err(e) => Err(Failure::Usage(e)),
        },
        Command::Run(args) => match run::run(args) {
            Ok(run::Ended::Live) => Ok(()),
            Ok(run::Ended::NotLive) => Err(Failure::CheckFailed),
            Ok(run::Ended::NoVerdict) => Err(Failure::NoVerdict),
            Err(e) => Err(Failure::Usage(e)),
        },
        Command::Eval {
            quick,
            out,
            seed,
            clips,
            require_clips,
            jobs,
            filter,
            no_light,
        } => {
            let jobs = jobs.unwrap_or_else(|| {
                std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
            });
            match eval::eval(eval::EvalArgs {
                quick,
                out,
                seed,
                clips,
                require_clips,
                jobs,
                filter,
                no_light,
            }) {
                Ok(true) => Ok(()),
                Ok(false) => Err(Failure::CheckFailed),
                Err(e) => Err(Failure::Usage(e)),
            }
        }
        Command::PoseCheck { step, max_error } => {
            let curve = eval::pose_curve(step).map_err(Failure::Usage)?;
            println!("{}", curve.markdown());
            if curve.max_abs_error_within_30 <= max_error {
                Ok(())
            } else {
                eprintln!(
                    "pose error {:.1}° exceeds {max_error}°",
                    curve.max_abs_error_within_30
                );
                Err(Failure::CheckFailed)
            }
        }
        Command::SessionBench { server, api_key } => {
            demo::session_bench(&server, &api_key).map_err(Failure::Usage)
        }
        Command::Render {
            script,
            for_session,
            out,
            serve,
            attack,
        } => subject::load_script(script.as_deref(), for_session.as_deref(), serve)
            .and_then(|script| subject::presented_as(script, attack.as_deref()))
            .and_then(|script| match out {
                Some(out) => subject::render(script, &out).map(drop),
                None => subject::serve(script),
            })
            .map_err(Failure::Usage),
        Command::Analyze {
            input,
            iris,
            landmarks,
            mirrored,
            fps,
        } => subject::analyze(&input, iris, landmarks, mirrored, fps).map_err(Failure::Usage),
        Command::Bench {
            frames,
            iris,
            ops,
            threads,
        } => {
            let with_ort = std::env::var_os("ORT_DYLIB_PATH").is_some();
            if !with_ort {
                eprintln!("note: ORT_DYLIB_PATH is not set: tract only (scripts/bench.sh sets it)");
            }
            Ok(bench::bench(frames, iris, threads, with_ort, ops)?)
        }
        Command::CompareEngines { max_px } => {
            if bench::compare(max_px)? {
                Ok(())
            } else {
                Err(Failure::CheckFailed)
            }
        }
        Command::Plan { nonce, options } => {
            let nonce = Nonce::from_b64url(&nonce)?;
            let options = match options.strip_prefix('@') {
                Some(path) => read(&PathBuf::from(path))?,
                None => options.into_bytes(),
            };
            let options = SessionOptions::from_json(&options)?;
            println!("{}", to_json(&derive_plan(&nonce, &options)?)?);
            Ok(())
        }
        Command::VerifyVerdict {
            jwks,
            jws,
            signed_verdict,
        } => {
            let jwks = Jwks::from_json(&read(&jwks)?)?;
            let verdict = match (jws, signed_verdict) {
                (Some(token), _) => jwks.verify_jws(token.trim())?,
                (None, Some(path)) => jwks.verify(&SignedVerdict::from_json(&read(&path)?)?)?,
                (None, None) => {
                    return Err(Failure::Usage("give --jws or --signed-verdict".into()));
                }
            };
            println!("signature OK");
            println!("{}", to_json(&verdict)?);
            Ok(())
        }
        Command::Vectors { seed, now, out } => {
            let seed = match seed {
                Some(hex_seed) => {
                    let mut s = [0u8; 32];
                    hex::decode_to_slice(&hex_seed, &mut s)
                        .map_err(|_| Failure::Usage("--seed takes 64 hex characters".into()))?;
                    s
                }
                None => {
                    let mut s = [0u8; 32];
                    getrandom::fill(&mut s).map_err(|e| ProtocolError::Random(e.to_string()))?;
                    s
                }
            };
            let vectors = reference_vectors(&seed, now.unwrap_or_else(unix_now))?;
            let text = to_json(&vectors)? + "\n";
            match out {
                Some(path) => std::fs::write(&path, text)
                    .map_err(|e| Failure::Usage(format!("cannot write {}: {e}", path.display())))?,
                None => print!("{text}"),
            }
            Ok(())
        }
    }
}
