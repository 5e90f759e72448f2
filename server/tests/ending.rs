//! Every session that ends on the device ends on the server, with a stored, signed verdict
//! (not live, and why) and the integrator's webhook — never a refused upload or a result left
//! pending: a capture that ended early (a step failed, the user never got back to neutral,
//! the face was covered the whole time) is accepted and judged; a cancelled one is ended by
//! the device's notice; an abandoned one by the expiry sweep. On SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use liveness_protocol::{ResultBody, SignedVerdict, VerdictKind};
use liveness_testkit::Script;
use serde_json::{Value, json};
use support::{Backend, Harness, Receiver, backends, code, device_key, faceless_upload, perform};

async fn cancel(h: &Harness, token: &str, body: Option<Value>) -> reqwest::Response {
    let mut r = h
        .http
        .post(h.url("/v1/submissions/cancel"))
        .bearer_auth(token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    r.send().await.unwrap()
}

/// The stored result, checked: decided, not live, with a verdict that verifies offline.
async fn decided_not_live(h: &Harness, created: &Value) -> ResultBody {
    let result: ResultBody = serde_json::from_value(h.result(created).await).unwrap();
    assert_eq!(result.live, Some(false), "{result:?}");
    let signed: &SignedVerdict = result.verdict.as_ref().expect("a signed verdict");
    let verdict = h.jwks().await.verify(signed).unwrap();
    assert_ne!(verdict.verdict, VerdictKind::Live);
    result
}

/// Waits for the webhook of one session and returns its body.
async fn webhook(receiver: &Receiver, session_id: &str) -> Value {
    for _ in 0..200 {
        let seen: Vec<Value> = receiver
            .requests
            .lock()
            .unwrap()
            .iter()
            .map(|(_, body)| serde_json::from_slice(body).unwrap())
            .filter(|v: &Value| v["data"]["session_id"] == session_id)
            .collect();
        if let Some(v) = seen.first() {
            assert_eq!(seen.len(), 1, "one webhook per session");
            return v.clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no webhook for {session_id}");
}

async fn cancelled_by_the_device(backend: Backend) {
    let h = Harness::start(backend).await;
    let receiver = Receiver::start().await;
    let created = h
        .create_session(
            json!({"action": "Smile", "webhook_url": receiver.url, "relay_state": "r-1"}),
        )
        .await;
    let token = created["submission_token"].as_str().unwrap();
    let id = created["session_id"].as_str().unwrap();
    assert_eq!(
        code(cancel(&h, token, Some(json!({"reason": "teleported"}))).await).await,
        (400, "malformed_cancel".into())
    );
    assert_eq!(
        code(cancel(&h, "st_unknown", None).await).await,
        (401, "invalid_submission_token".into())
    );
    let r = cancel(&h, token, Some(json!({"reason": "user_cancelled"}))).await;
    assert_eq!(r.status(), 200);
    let result = decided_not_live(&h, &created).await;
    assert_eq!(
        (result.status, result.message.as_deref()),
        (
            liveness_protocol::ResultStatus::Incompleted,
            Some("The user cancelled the session")
        )
    );
    assert_eq!(result.relay_state.as_deref(), Some("r-1"));
    assert!(
        result.reasons[0]
            .reason
            .as_deref()
            .unwrap()
            .contains("user_cancelled")
    );
    let hook = webhook(&receiver, id).await;
    assert_eq!(hook["data"]["message_code"], "cancelled", "{hook}");
    // Saying it again answers the same; the token is spent for uploads.
    let again = cancel(&h, token, None).await;
    assert_eq!(again.status(), 200);
    let upload = faceless_upload(&created, &device_key());
    assert_eq!(
        code(h.submit(token, &upload).await).await,
        (409, "submission_token_used".into())
    );
    assert_eq!(h.stored(id).await.0, "cancelled");

    // After an upload, the device cannot cancel any more.
    let other = h.create_session(json!({"action": "Smile"})).await;
    let t = other["submission_token"].as_str().unwrap();
    assert_eq!(
        h.submit(t, &faceless_upload(&other, &device_key()))
            .await
            .status(),
        202
    );
    assert_eq!(
        code(cancel(&h, t, None).await).await,
        (409, "submission_token_used".into())
    );
    h.server.shutdown().await;
}

async fn abandoned_sessions_end_at_expiry(backend: Backend) {
    let h = Harness::start_with(backend, |c| {
        c.expiry_sweep_interval = Duration::from_millis(100);
    })
    .await;
    let receiver = Receiver::start().await;
    let created = h
        .create_session(json!({
            "action": "BlinkEyes",
            "submission_ttl_seconds": 30,
            "webhook_url": receiver.url,
        }))
        .await;
    let id = created["session_id"].as_str().unwrap();
    let live_one = h.create_session(json!({"action": "BlinkEyes"})).await;
    h.clock.advance(Duration::from_secs(31));
    for _ in 0..100 {
        if h.stored(id).await.0 == "expired" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(h.stored(id).await.0, "expired");
    let result = decided_not_live(&h, &created).await;
    assert_eq!(result.message.as_deref(), Some("The session timed out"));
    assert_eq!(
        webhook(&receiver, id).await["data"]["message_code"],
        "timed_out"
    );
    let token = created["submission_token"].as_str().unwrap();
    assert_eq!(
        code(cancel(&h, token, None).await).await,
        (401, "submission_token_expired".into())
    );
    // A session whose window is still open is left alone (its token lives 300 s).
    assert_eq!(
        h.stored(live_one["session_id"].as_str().unwrap()).await.0,
        "created"
    );
    h.server.shutdown().await;
}

/// A capture that ended early is this session's evidence: accepted, judged, not live.
async fn every_ended_capture_is_judged(backend: Backend) {
    let h = Harness::start(backend).await;
    let key = device_key();
    // HeadLeft passes, then the user never comes back to face the camera: the session ends
    // between its two steps (the timeline is shorter than the plan and its last step passed).
    let created = h
        .create_session(json!({"available_actions": ["HeadLeft", "Smile"], "challenge_count": 2}))
        .await;
    let plan = support::plan_of(&created);
    let script = if plan.steps[0].kind == liveness_protocol::ChallengeKind::HeadLeft {
        // Turns, starts back (the turn passes below half its peak), turns away again.
        "duration = 9.0\n[[keys]]\nt = 0\nnoise = 2\nyaw = 0\n[[keys]]\nt = 1.0\nyaw = 0\n\
         [[keys]]\nt = 1.6\nyaw = 30\n[[keys]]\nt = 2.1\nyaw = 30\n[[keys]]\nt = 2.6\nyaw = 11\n\
         [[keys]]\nt = 2.75\nyaw = 30"
    } else {
        // Smiles, then looks up while still smiling, and stays so.
        "duration = 9.0\n[[keys]]\nt = 0\nnoise = 2\nsmile = 0\npitch = 0\n[[keys]]\nt = 1.0\n\
         smile = 0\n[[keys]]\nt = 1.4\nsmile = 1\n[[keys]]\nt = 2.2\nsmile = 1\npitch = 0\n\
         [[keys]]\nt = 2.5\npitch = 25"
    };
    let script = Script::parse(script).unwrap();
    let upload = perform(&created, Some(script), &key).await;
    assert!(!upload.passed_locally);
    h.submit_and_wait(&created, &upload).await;
    decided_not_live(&h, &created).await;

    // A hand over the face from the first frame: no baseline ever, still judged.
    let created = h.create_session(json!({"action": "Smile"})).await;
    let covered = Script::parse(
        "duration = 4.0\nseed = 5\n[[keys]]\nt = 0\nnoise = 2\n\
         [occluder]\ndx = 0.0\ndy = 0.15\nwidth = 1.1\nheight = 1.0",
    )
    .unwrap();
    let upload = perform(&created, Some(covered), &key).await;
    h.submit_and_wait(&created, &upload).await;
    let result = decided_not_live(&h, &created).await;
    assert_eq!(
        result.status,
        liveness_protocol::ResultStatus::Incompleted,
        "{result:?}"
    );

    // FollowText done right is live on the server too (its peak frame is kept).
    let created = h.create_session(json!({"action": "FollowText"})).await;
    let upload = perform(&created, None, &key).await;
    assert!(upload.passed_locally);
    h.submit_and_wait(&created, &upload).await;
    let result: ResultBody = serde_json::from_value(h.result(&created).await).unwrap();
    assert_eq!(result.live, Some(true), "{:#?}", result.reasons);
    h.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled() {
    for backend in backends() {
        cancelled_by_the_device(backend).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned() {
    for backend in backends() {
        abandoned_sessions_end_at_expiry(backend).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ended_early() {
    for backend in backends() {
        every_ended_capture_is_judged(backend).await;
    }
}
