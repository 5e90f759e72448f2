//! `liveness run`: the SDK session from a recording against a server, as QA runs it — a
//! verification server started for the test (its own listener, reached over loopback HTTP
//! by the `liveness` binary in another process), sessions created as a backend would.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use liveness_server::{Server, ServerConfig, admin};

fn liveness(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_liveness"))
        .args(args)
        .output()
        .unwrap()
}

/// Runs the binary off the async threads (the server under test shares this runtime).
async fn cli(args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        liveness(&args)
    })
    .await
    .unwrap()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn tempdir() -> PathBuf {
    let mut r = [0u8; 8];
    getrandom::fill(&mut r).unwrap();
    let d = std::env::temp_dir().join(format!("liveness-run-{}", u64::from_le_bytes(r)));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Creates a session over HTTP with `options` and writes the server's answer to `path`.
async fn session(base: &str, api_key: &str, options: serde_json::Value, path: &Path) {
    let r = reqwest::Client::new()
        .post(format!("{base}/v1/sessions"))
        .bearer_auth(api_key)
        .json(&options)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    std::fs::write(path, r.bytes().await.unwrap()).unwrap();
}

fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Rewrites a y4m stream's header chroma tag (the pixel data of 4:2:0 sitings is the same).
fn with_chroma(src: &Path, dst: &Path, tag: &str) {
    let bytes = std::fs::read(src).unwrap();
    let end = bytes.iter().position(|b| *b == b'\n').unwrap();
    let header = String::from_utf8(bytes[..end].to_vec()).unwrap();
    let header: Vec<String> = header
        .split(' ')
        .map(|f| {
            if f.starts_with('C') {
                tag.to_owned()
            } else {
                f.to_owned()
            }
        })
        .filter(|f| !f.starts_with("XYSCSS"))
        .collect();
    let mut out = header.join(" ").into_bytes();
    out.extend_from_slice(&bytes[end..]);
    std::fs::write(dst, out).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_runs_against_a_server_and_the_exit_code_is_the_verdict() {
    let dir = tempdir();
    let server = Server::start(ServerConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        database_url: format!("sqlite://{}?mode=rwc", dir.join("run.db").display()),
        workers: 1,
        poll_interval: Duration::from_millis(50),
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    let base = server.url();
    let tenant = admin::create_tenant(&server.state.db, "QA", server.state.clock.now_ms())
        .await
        .unwrap();
    let key = tenant.key.api_key.clone();

    // A genuine recording of the session's own plan: live, exit code 0.
    let genuine = dir.join("genuine.json");
    session(
        &base,
        &key,
        serde_json::json!({"action": "HeadLeft", "light_challenge": false}),
        &genuine,
    )
    .await;
    let clip = dir.join("genuine.y4m");
    let rendered = cli(&[
        "render",
        "--for-session",
        path(&genuine),
        "--out",
        path(&clip),
    ])
    .await;
    assert!(rendered.status.success(), "{}", text(&rendered));
    let ran = cli(&[
        "run",
        "--server",
        &base,
        "--session",
        path(&genuine),
        "--input",
        path(&clip),
    ])
    .await;
    let out = text(&ran);
    assert_eq!(ran.status.code(), Some(0), "{out}");
    assert!(out.contains("Turn your head to the left"), "{out}");
    assert!(out.contains("verdict: LIVE"), "{out}");

    // Every 4:2:0 siting ffmpeg writes, and mono, are read; the same recording for another
    // session's plan (a smile) is judged not live: exit code 1, with the reason, as JSON.
    let smile = dir.join("smile.json");
    session(
        &base,
        &key,
        serde_json::json!({"action": "Smile", "light_challenge": false}),
        &smile,
    )
    .await;
    for tag in ["C420mpeg2", "C420paldv", "C420jpeg", "Cmono"] {
        let variant = dir.join(format!("{tag}.y4m"));
        with_chroma(&clip, &variant, tag);
        if tag != "Cmono" {
            continue;
        }
        // Mono: the luma plane alone (drop the chroma planes of every frame).
        let bytes = std::fs::read(&variant).unwrap();
        let header_end = bytes.iter().position(|b| *b == b'\n').unwrap() + 1;
        let (w, h) = (640usize, 480usize);
        let frame = 6 + w * h * 3 / 2;
        let mut mono = bytes[..header_end].to_vec();
        for f in bytes[header_end..].chunks(frame) {
            mono.extend_from_slice(&f[..6 + w * h]);
        }
        std::fs::write(&variant, mono).unwrap();
    }
    let ran = cli(&[
        "run",
        "--server",
        &base,
        "--session",
        path(&smile),
        "--input",
        path(&dir.join("C420paldv.y4m")),
        "--json",
    ])
    .await;
    let out = text(&ran);
    assert_eq!(ran.status.code(), Some(1), "{out}");
    let verdict: serde_json::Value = out
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["event"] == "verdict")
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(verdict["result"]["live"], false, "{out}");

    for tag in ["C420mpeg2", "C420jpeg", "Cmono"] {
        let v = dir.join(format!("{tag}.y4m"));
        let a = liveness(&["analyze", v.to_str().unwrap()]);
        assert!(a.status.success(), "{tag}: {}", text(&a));
        assert_eq!(
            String::from_utf8_lossy(&a.stdout).lines().count(),
            // The performance (3.5 s) and the second in view after it, at 30 fps.
            135,
            "{tag}"
        );
    }
    // Anything else is refused with a clear error before a session starts.
    let odd = dir.join("C422.y4m");
    with_chroma(&clip, &odd, "C422");
    let refused = cli(&[
        "run",
        "--server",
        &base,
        "--session",
        path(&smile),
        "--input",
        path(&odd),
    ])
    .await;
    let out = text(&refused);
    assert_eq!(refused.status.code(), Some(2), "{out}");
    assert!(out.contains("C422") && out.contains("yuv420p"), "{out}");

    // Without the result token the verdict cannot be read: exit code 3, never 0.
    session(
        &base,
        &key,
        serde_json::json!({"action": "HeadLeft", "light_challenge": false}),
        &genuine,
    )
    .await;
    let mut created: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&genuine).unwrap()).unwrap();
    created.as_object_mut().unwrap().remove("result_token");
    let tokenless = dir.join("tokenless.json");
    std::fs::write(&tokenless, created.to_string()).unwrap();
    let ran = cli(&[
        "run",
        "--server",
        &base,
        "--session",
        path(&tokenless),
        "--input",
        path(&clip),
    ])
    .await;
    assert_eq!(ran.status.code(), Some(3), "{}", text(&ran));

    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
