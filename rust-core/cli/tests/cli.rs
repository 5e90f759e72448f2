//! The `liveness` binary as users run it.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;

fn liveness(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_liveness"))
        .args(args)
        .output()
        .unwrap()
}

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../protocol/tests/vectors")
}

#[test]
fn protocol_demo_runs_and_refuses_every_tampered_copy() {
    let out = liveness(&["protocol-demo"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.matches("refused:").count(), 7, "{stdout}");
    assert!(stdout.contains("Protocol demo complete."));
}

#[test]
fn verify_verdict_accepts_the_reference_and_rejects_a_tampered_copy() {
    let dir = tempdir();
    let text = std::fs::read_to_string(vectors_dir().join("reference.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let jwks = dir.join("jwks.json");
    std::fs::write(&jwks, v["verdict"]["jwks"].to_string()).unwrap();
    let jws = v["verdict"]["jws"].as_str().unwrap();

    let ok = liveness(&[
        "verify-verdict",
        "--jwks",
        jwks.to_str().unwrap(),
        "--jws",
        jws,
    ]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("signature OK"));

    let signed = dir.join("verdict.json");
    let mut sv = v["verdict"]["signed_verdict"].clone();
    std::fs::write(&signed, sv.to_string()).unwrap();
    let ok = liveness(&[
        "verify-verdict",
        "--jwks",
        jwks.to_str().unwrap(),
        "--signed-verdict",
        signed.to_str().unwrap(),
    ]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    sv["verdict"] = "spoof".into();
    std::fs::write(&signed, sv.to_string()).unwrap();
    let bad = liveness(&[
        "verify-verdict",
        "--jwks",
        jwks.to_str().unwrap(),
        "--signed-verdict",
        signed.to_str().unwrap(),
    ]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("[bad_signature]"));

    let missing = liveness(&[
        "verify-verdict",
        "--jwks",
        "/nonexistent/jwks.json",
        "--jws",
        jws,
    ]);
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn plan_and_vectors_commands() {
    let nonce = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let out = liveness(&[
        "plan",
        "--nonce",
        nonce,
        "--options",
        r#"{"action":"Smile"}"#,
    ]);
    assert!(out.status.success());
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["steps"][0]["kind"], "Smile");
    let bad = liveness(&["plan", "--nonce", "short", "--options", "{}"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid_"));

    let dir = tempdir();
    let file = dir.join("v.json");
    let seed = "00".repeat(32);
    let out = liveness(&[
        "vectors",
        "--seed",
        &seed,
        "--now",
        "1767225600",
        "--out",
        file.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let again = liveness(&["vectors", "--seed", &seed, "--now", "1767225600"]);
    assert_eq!(
        std::fs::read(&file).unwrap(),
        again.stdout,
        "same seed and time, same bytes"
    );
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "liveness-cli-test-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn rand_suffix() -> u64 {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).unwrap();
    u64::from_le_bytes(b)
}

#[test]
fn render_then_analyze_a_script() {
    let dir = tempdir();
    let script = dir.join("s.toml");
    std::fs::write(
        &script,
        "name = \"s\"\nduration = 0.2\nwidth = 320\nheight = 240\n[[keys]]\nt = 0\nyaw = 15\n",
    )
    .unwrap();
    let frames = dir.join("frames");
    let out = liveness(&[
        "render",
        script.to_str().unwrap(),
        "--out",
        frames.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("ms/frame rendering"));
    assert_eq!(std::fs::read_dir(&frames).unwrap().count(), 6);
    let out = liveness(&["analyze", frames.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 6);
    assert_eq!(lines[0]["face_count"], 1);
    assert!(lines[5]["signals"]["pose"]["yaw"].as_f64().unwrap() > 5.0);
    let bad = liveness(&[
        "render",
        "/nonexistent.toml",
        "--out",
        frames.to_str().unwrap(),
    ]);
    assert_eq!(bad.status.code(), Some(2));
    std::fs::remove_dir_all(&dir).unwrap();
}
