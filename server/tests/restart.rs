//! The server as a process: killed with SIGKILL in the middle of a webhook delivery and
//! started again on the same database, the delivery is sent again with the same idempotency
//! key and body (at least once, as documented in `webhooks.rs`); stopped with SIGTERM, it
//! exits cleanly and leaves no job half-done.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use support::{Receiver, ReceiverMode, device_key, faceless_upload};

const BIN: &str = env!("CARGO_BIN_EXE_liveness-server");

fn admin(db: &str, args: &[&str]) -> Value {
    let out = Command::new(BIN)
        .args(["--database-url", db, "--log-format", "text", "admin"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A data key ring file made by `admin data-keys new`, as an operator makes one.
fn key_file(dir: &std::path::Path) -> std::path::PathBuf {
    let out = Command::new(BIN)
        .args(["admin", "data-keys", "new"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let path = dir.join("data.keys");
    std::fs::write(&path, &out.stdout).unwrap();
    path
}

/// Starts `liveness-server serve` and returns it with its base URL.
fn serve(db: &str, keys: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args([
            "--database-url",
            db,
            "--log-format",
            "text",
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--data-key-file",
            keys.to_str().unwrap(),
        ])
        .args([
            "--workers",
            "1",
            "--webhook-lease-ms",
            "2000",
            "--webhook-backoff-base-ms",
            "200",
        ])
        .args(["--poll-interval-ms", "50", "--allow-loopback-webhooks"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let v: Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("{line}"));
    (child, v["listening"].as_str().unwrap().to_owned())
}

async fn ready(http: &reqwest::Client, base: &str) {
    for _ in 0..600 {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await
            && r.status() == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server never became ready");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_delivery_then_restarted_delivers_again_with_the_same_key() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("server.db").display()
    );
    let tenant = admin(&db, &["tenant", "create", "--name", "Initech"]);
    let api_key = tenant["api_key"].as_str().unwrap();
    let http = reqwest::Client::new();

    // Without a data key ring the server refuses to start, and says how to make one.
    let refused = Command::new(BIN)
        .args(["--database-url", &db, "serve", "--bind", "127.0.0.1:0"])
        .env_remove("LIVENESS_DATA_KEY_FILE")
        .env_remove("LIVENESS_DATA_KEYS")
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(why.contains("admin data-keys new"), "{why}");

    let keys = key_file(dir.path());
    let (mut first, base) = serve(&db, &keys);
    ready(&http, &base).await;
    let receiver = Receiver::start().await;
    receiver.set(ReceiverMode::Hang);
    let created: Value = http
        .post(format!("{base}/v1/sessions"))
        .bearer_auth(api_key)
        .json(&json!({"action": "BlinkEyes", "webhook_url": receiver.url}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let upload = faceless_upload(&created, &device_key());
    let r = http
        .post(format!("{base}/v1/submissions"))
        .bearer_auth(created["submission_token"].as_str().unwrap())
        .multipart(upload.form())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);

    // The receiver has the request; the server waits for its answer. Kill it there.
    assert!(receiver.wait_for(1, Duration::from_secs(20)).await);
    first.kill().unwrap();
    first.wait().unwrap();
    receiver.set(ReceiverMode::Ok);

    let (mut second, base) = serve(&db, &keys);
    ready(&http, &base).await;
    assert!(
        receiver.wait_for(2, Duration::from_secs(20)).await,
        "the delivery was not retried after the restart"
    );
    let requests = receiver.requests.lock().unwrap().clone();
    assert_eq!(
        requests[0].0["idempotency-key"],
        requests[1].0["idempotency-key"]
    );
    assert_eq!(requests[0].1, requests[1].1);

    let id = created["session_id"].as_str().unwrap();
    let mut listed = Value::Null;
    for _ in 0..100 {
        listed = http
            .get(format!("{base}/v1/sessions/{id}/webhooks"))
            .bearer_auth(api_key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if listed["deliveries"][0]["status"] == "delivered" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(listed["deliveries"][0]["status"], "delivered", "{listed}");

    // SIGTERM: a clean exit, and no job left claimed.
    let s = http
        .post(format!("{base}/v1/sessions"))
        .bearer_auth(api_key)
        .json(&json!({"action": "Smile"}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let r = http
        .post(format!("{base}/v1/submissions"))
        .bearer_auth(s["submission_token"].as_str().unwrap())
        .multipart(faceless_upload(&s, &device_key()).form())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let status = Command::new("kill")
        .args(["-TERM", &second.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = second.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
    receiver.stop();

    use sqlx::Row;
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&db).await.unwrap();
    let running: i64 = sqlx::query("SELECT COUNT(*) AS n FROM jobs WHERE status = 'running'")
        .fetch_one(&pool)
        .await
        .unwrap()
        .try_get("n")
        .unwrap();
    assert_eq!(running, 0, "a job was abandoned mid-way");
}
