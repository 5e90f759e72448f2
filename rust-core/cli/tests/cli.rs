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

/// `render --serve`'s frames: (width, height, mean R − mean G in the centre) per answered
/// request.
fn serve(
    script: &std::path::Path,
    requests: &str,
) -> (Vec<(usize, usize, f64)>, std::process::Output) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_liveness"))
        .args(["render", script.to_str().unwrap(), "--serve"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(requests.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let mut frames = Vec::new();
    let mut rest = &out.stdout[..];
    while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
        let head = String::from_utf8_lossy(&rest[..nl]).to_string();
        let parts: Vec<&str> = head.split(' ').collect();
        assert_eq!(parts[0], "frame", "{head}");
        let (w, h): (usize, usize) = (parts[1].parse().unwrap(), parts[2].parse().unwrap());
        let rgba = &rest[nl + 1..nl + 1 + w * h * 4];
        // The centre of the frame, where the face is: the screen lights the face, not the
        // room behind it.
        let (mut red, mut green, mut n) = (0.0, 0.0, 0.0);
        for y in h / 4..h * 3 / 4 {
            for x in w / 4..w * 3 / 4 {
                let p = &rgba[(y * w + x) * 4..];
                red += f64::from(p[0]);
                green += f64::from(p[1]);
                n += 1.0;
            }
        }
        frames.push((w, h, (red - green) / n));
        rest = &rest[nl + 1 + w * h * 4..];
    }
    (frames, out)
}

#[test]
fn render_serve_lights_the_subject_with_what_the_page_showed() {
    let dir = tempdir();
    let script = dir.join("s.toml");
    std::fs::write(
        &script,
        "name = \"s\"\nduration = 1.0\nwidth = 160\nheight = 120\n[[keys]]\nt = 0\n",
    )
    .unwrap();
    let (frames, out) = serve(
        &script,
        "{\"t_ms\": 0}\n\
         {\"t_ms\": 300, \"shown\": [[200, [255, 0, 0]]]}\n\
         {\"t_ms\": 600, \"shown\": [[500, null]]}\n\
         {\"t_ms\": 900, \"shown\": [[700, [0, 255, 0]]]}\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(frames.len(), 4);
    assert!(frames.iter().all(|f| (f.0, f.1) == (160, 120)));
    // Measured: R − G 16.5 unlit, 19.1 under red, 14.1 under green (the renderer's default
    // screen at arm's length); the light moves it both ways, and leaves nothing behind.
    let (dark, red, after, green) = (frames[0].2, frames[1].2, frames[2].2, frames[3].2);
    assert!(red > dark + 1.5, "red light: {dark:.1} -> {red:.1}");
    assert!(green < dark - 1.5, "green light: {dark:.1} -> {green:.1}");
    assert!(
        (after - dark).abs() < 1.0,
        "restored: {dark:.1} vs {after:.1}"
    );

    // A request that is not one ends the camera with a usage error, after what it answered.
    let (frames, out) = serve(&script, "{\"t_ms\": 0}\n{\"t_ms\": -5}\n");
    assert_eq!(frames.len(), 1);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a time"));
    let (_, out) = serve(&script, "{\"t_ms\": 0, \"colour\": 1}\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown field"));
}
