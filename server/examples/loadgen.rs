//! Load generator for `scripts/bench-server.sh`.
//!
//! `prepare`: creates sessions on a running server and writes one submission request per
//! session (multipart body, headers) for wrk to send. Each upload is genuine evidence of the
//! synthetic subject performing the session's plan — the frames the device would pick
//! (photo, and a baseline and a peak per challenge), rendered and analysed once per challenge
//! kind and re-encoded per session (`support::genuine`) — so the server's model re-check does
//! its real work.
//!
//! `report`: reads submission and verdict times from the server's database (SQLite or
//! PostgreSQL) and prints verifications/s and the submission-to-verdict latency percentiles.
//!
//! `audit` (for `scripts/bench-scale-out.sh`): after instances sharing one database were
//! killed mid-run, checks that every submission since a time was decided exactly once: a
//! stored verdict and a finished job for each, at most one "verified" log line per job across
//! the instances' logs, one `session.completed` delivery row per session, and, from the
//! webhook receiver's log, one distinct `Idempotency-Key` per session. Exits 1 on a violation.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::HashMap;
use std::path::PathBuf;

use liveness_protocol::encoding::b64url_encode;
use liveness_protocol::{ChallengePlan, DeviceSigningKey, Nonce};
use serde_json::{Value, json};
use support::genuine::{Binding, KINDS, Shots};

fn arg(args: &[String], name: &str) -> String {
    let i = args
        .iter()
        .position(|a| a == name)
        .unwrap_or_else(|| panic!("{name} missing"));
    args[i + 1].clone()
}

fn opt_arg(args: &[String], name: &str) -> Option<String> {
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1).cloned()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn prepare(args: &[String]) {
    let server = arg(args, "--server");
    let api_key = arg(args, "--api-key");
    let count: usize = arg(args, "--count").parse().unwrap();
    let challenges: u8 = arg(args, "--challenges").parse().unwrap();
    let out = PathBuf::from(arg(args, "--out"));
    let webhook_url = opt_arg(args, "--webhook-url");
    std::fs::create_dir_all(&out).unwrap();
    let shots = Shots::new();
    let http = reqwest::blocking::Client::new();
    let mut list = String::new();
    for n in 0..count {
        let mut options = json!({"available_actions": KINDS, "challenge_count": challenges, "light_challenge": false});
        if let Some(url) = &webhook_url {
            options["webhook_url"] = json!(url);
        }
        let created: Value = http
            .post(format!("{server}/v1/sessions"))
            .bearer_auth(&api_key)
            .json(&options)
            .send()
            .unwrap()
            .json()
            .unwrap();
        let plan: ChallengePlan = serde_json::from_value(created["plan"].clone()).unwrap();
        let nonce = Nonce::from_b64url(created["nonce"].as_str().unwrap()).unwrap();
        let binding = Binding {
            session_id: created["session_id"].as_str().unwrap(),
            nonce: &nonce,
            submission_token: created["submission_token"].as_str().unwrap(),
        };
        let evidence = shots.evidence(&plan, &binding, now_ms() - 20_000);
        // A key per session, as on distinct phones (one key would hit the device cool-down).
        let key = DeviceSigningKey::generate().unwrap();
        let signed = key.sign_manifest(&evidence.manifest).unwrap();
        let boundary = format!("liveness-bench-{n}");
        let mut body = Vec::new();
        let mut part = |name: &str, content_type: &str, bytes: &[u8]| {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\nContent-Type: {content_type}\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        };
        part("manifest", "application/json", &signed.manifest_bytes);
        part(
            "public_key",
            "text/plain",
            b64url_encode(signed.public_key).as_bytes(),
        );
        part(
            "signature",
            "text/plain",
            b64url_encode(signed.signature).as_bytes(),
        );
        for f in &evidence.frames {
            part("frame", "image/jpeg", f);
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let file = out.join(format!("req-{n}.bin"));
        std::fs::write(&file, &body).unwrap();
        list.push_str(&format!(
            "{} {} {}\n",
            created["submission_token"].as_str().unwrap(),
            boundary,
            file.display()
        ));
    }
    std::fs::write(out.join("requests.txt"), list).unwrap();
    let frames = 1 + 2 * usize::from(challenges);
    println!(
        "prepared {count} submissions of {frames} frames in {}",
        out.display()
    );
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn report(args: &[String]) {
    let db = arg(args, "--db");
    let since: i64 = arg(args, "--since-ms").parse().unwrap();
    let label = arg(args, "--label");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use sqlx::Row;
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&db).await.unwrap();
        let rows = sqlx::query(
            "SELECT submitted_at, completed_at, verdict FROM sessions WHERE submitted_at >= $1",
        )
        .bind(since)
        .fetch_all(&pool)
        .await
        .unwrap();
        let mut latencies = Vec::new();
        let mut verdicts: HashMap<String, usize> = HashMap::new();
        let (mut first, mut last, mut pending) = (i64::MAX, i64::MIN, 0);
        let submitted: Vec<i64> = rows.iter().map(|r| r.try_get("submitted_at").unwrap()).collect();
        let upload_span = (submitted.iter().max().unwrap_or(&0) - submitted.iter().min().unwrap_or(&0)).max(1);
        for r in &rows {
            let submitted: i64 = r.try_get("submitted_at").unwrap();
            let completed: Option<i64> = r.try_get("completed_at").unwrap();
            let Some(completed) = completed else {
                pending += 1;
                continue;
            };
            let verdict: Option<String> = r.try_get("verdict").unwrap();
            *verdicts.entry(verdict.unwrap_or_default()).or_default() += 1;
            latencies.push(completed - submitted);
            first = first.min(submitted);
            last = last.max(completed);
        }
        latencies.sort_unstable();
        let seconds = (last - first).max(1) as f64 / 1000.0;
        println!(
            "{label}: {} uploads accepted at {:.1}/s; {} verified in {seconds:.1} s = {:.2} verifications/s; submission→verdict p50 {} ms, p99 {} ms, max {} ms; verdicts {verdicts:?}; unfinished {pending}",
            submitted.len(),
            submitted.len() as f64 * 1000.0 / upload_span as f64,
            latencies.len(),
            latencies.len() as f64 / seconds,
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
            latencies.last().copied().unwrap_or(0),
        );
    });
}

/// Counts per key.
fn tally<'a>(keys: impl Iterator<Item = &'a str>) -> HashMap<&'a str, usize> {
    let mut counts = HashMap::new();
    for k in keys {
        *counts.entry(k).or_default() += 1;
    }
    counts
}

fn audit(args: &[String]) {
    use sqlx::Row;
    let db = arg(args, "--db");
    let since: i64 = arg(args, "--since-ms").parse().unwrap();
    let logs = arg(args, "--logs");
    let webhooks = opt_arg(args, "--webhooks");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (jobs, deliveries) = rt.block_on(async {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&db).await.unwrap();
        let jobs = sqlx::query(
            "SELECT s.id AS session_id, s.verdict, s.completed_at, j.id AS job_id, j.status, j.attempts \
             FROM sessions s LEFT JOIN jobs j ON j.session_id = s.id WHERE s.submitted_at >= $1",
        )
        .bind(since)
        .fetch_all(&pool)
        .await
        .unwrap();
        let deliveries = sqlx::query(
            "SELECT d.session_id FROM webhook_deliveries d JOIN sessions s ON s.id = d.session_id \
             WHERE s.submitted_at >= $1 AND d.event = 'session.completed'",
        )
        .bind(since)
        .fetch_all(&pool)
        .await
        .unwrap();
        (jobs, deliveries)
    });
    let mut problems = Vec::new();
    let mut attempts: HashMap<i64, usize> = HashMap::new();
    let mut sessions = Vec::new();
    let mut job_ids = Vec::new();
    for r in &jobs {
        let session: String = r.try_get("session_id").unwrap();
        let verdict: Option<String> = r.try_get("verdict").unwrap();
        let completed: Option<i64> = r.try_get("completed_at").unwrap();
        let job: Option<String> = r.try_get("job_id").unwrap();
        let status: Option<String> = r.try_get("status").unwrap();
        match (&job, status.as_deref()) {
            (None, _) => problems.push(format!("session {session}: submitted but no job")),
            (Some(j), Some("done" | "failed")) => job_ids.push(j.clone()),
            (Some(j), s) => problems.push(format!("job {j}: left {s:?}")),
        }
        if verdict.is_none() || completed.is_none() {
            problems.push(format!("session {session}: no verdict stored (lost)"));
        }
        *attempts
            .entry(r.try_get("attempts").unwrap_or(0))
            .or_default() += 1;
        sessions.push(session);
    }
    // Decisions as the instances logged them: a job logged "verified" twice was decided twice.
    let mut verified_lines = Vec::new();
    let mut other_instance = 0;
    for file in logs.split(',') {
        let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{file}: {e}"));
        for line in text.lines() {
            let Ok(v) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            match v["fields"]["message"].as_str() {
                Some("verified") => {
                    verified_lines.push(v["fields"]["job"].as_str().unwrap_or_default().to_owned())
                }
                Some("finished by another instance") => other_instance += 1,
                _ => {}
            }
        }
    }
    let logged = tally(verified_lines.iter().map(String::as_str));
    let mut unlogged = 0;
    for j in &job_ids {
        match logged.get(j.as_str()).copied().unwrap_or(0) {
            0 => unlogged += 1,
            1 => {}
            n => problems.push(format!("job {j}: decided {n} times (log lines)")),
        }
    }
    let delivered: Vec<String> = deliveries
        .iter()
        .map(|r| r.try_get("session_id").unwrap())
        .collect();
    let rows = tally(delivered.iter().map(String::as_str));
    for s in &sessions {
        match rows.get(s.as_str()).copied().unwrap_or(0) {
            1 => {}
            n => problems.push(format!("session {s}: {n} session.completed delivery rows")),
        }
    }
    let mut received_total = 0;
    if let Some(file) = &webhooks {
        // Receiver lines: `<Idempotency-Key> <event> <session_id>`.
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let mut keys: HashMap<&str, std::collections::HashSet<&str>> = HashMap::new();
        for line in text.lines() {
            let mut it = line.split(' ');
            let (Some(key), Some("session.completed"), Some(session)) =
                (it.next(), it.next(), it.next())
            else {
                continue;
            };
            received_total += 1;
            keys.entry(session).or_default().insert(key);
        }
        for s in &sessions {
            match keys.get(s.as_str()).map_or(0, |k| k.len()) {
                1 => {}
                n => problems.push(format!(
                    "session {s}: {n} distinct webhook deliveries received"
                )),
            }
        }
    }
    let mut attempts: Vec<_> = attempts.into_iter().collect();
    attempts.sort_unstable();
    println!(
        "audit: {} submissions, {} jobs finished; attempts per job {attempts:?}; {} jobs decided by an instance killed before it logged; {other_instance} re-checks finished by an instance that lost the job (work repeated, decision not); webhooks received {received_total}{}",
        sessions.len(),
        job_ids.len(),
        unlogged,
        if webhooks.is_some() {
            ""
        } else {
            " (no receiver)"
        },
    );
    if problems.is_empty() {
        println!("audit: no job lost, none decided twice");
    } else {
        for p in &problems {
            println!("audit: VIOLATION {p}");
        }
        std::process::exit(1);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("prepare") => prepare(&args),
        Some("report") => report(&args),
        Some("audit") => audit(&args),
        _ => {
            eprintln!("usage: loadgen prepare|report|audit …");
            std::process::exit(2);
        }
    }
}
