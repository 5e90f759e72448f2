//! The whole integrator and device flow through a real server on loopback, on SQLite and (when
//! CI provides one) PostgreSQL: a genuine session is judged live, its verdict verifies offline
//! from the JWKS, its signed result and webhook verify with the tenant secret; forged evidence
//! is judged spoof by the server's own model re-check.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use liveness_protocol::{
    FrameRole, ResultBody, Sha256Digest, VerdictKind, verify_response, verify_webhook,
};
use serde_json::{Value, json};
use support::{Backend, Harness, Receiver, backends, device_key, perform};

async fn genuine_session_is_live_and_verifies_offline(backend: Backend) {
    let h = Harness::start(backend).await;
    let receiver = Receiver::start().await;
    let created = h
        .create_session(json!({
            // Both, in a random order: a blink and a head movement (which the 3-D check needs).
            "available_actions": ["HeadLeft", "BlinkEyes"],
            "challenge_count": 2,
            "relay_state": "order-42",
            "webhook_url": receiver.url,
        }))
        .await;
    let key = device_key();
    let upload = perform(&created, None, &key).await;
    assert!(
        upload.passed_locally,
        "the genuine subject passes on the device"
    );

    let r = h
        .submit(created["submission_token"].as_str().unwrap(), &upload)
        .await;
    assert_eq!(r.status(), 202);
    let accepted: Value = r.json().await.unwrap();
    let job_id = accepted["job_id"].as_str().unwrap().to_owned();

    // The device sees that the job ended, not the scores.
    let job = h.wait_job(&job_id).await;
    assert_eq!(job["status"], "done", "{job}");
    let device_view: Value = h
        .get_as(
            &format!("/v1/jobs/{job_id}"),
            created["submission_token"].as_str().unwrap(),
        )
        .await
        .json()
        .await
        .unwrap();
    // The device learns that its evidence was judged, never how.
    assert_eq!(device_view["status"], "done");
    assert!(device_view.get("result_status").is_none());
    assert!(device_view.get("result").is_none());

    let result: ResultBody = serde_json::from_value(h.result(&created).await).unwrap();
    assert_eq!(result.live, Some(true), "{result:#?}");
    assert_eq!(result.relay_state.as_deref(), Some("order-42"));
    assert!(
        result.reasons.iter().all(|r| r.passed),
        "{:#?}",
        result.reasons
    );
    for check in ["three_d_consistency", "landmark_consistency", "timing"] {
        assert!(
            result.reasons.iter().any(|r| r.check == check),
            "{check} missing"
        );
    }
    let signed = result.verdict.clone().unwrap();

    // Offline: the JWKS alone verifies the verdict, and the photo is the one it names.
    let jwks = h.jwks().await;
    let verdict = jwks.verify(&signed).unwrap();
    assert_eq!(verdict.verdict, VerdictKind::Live);
    let photo = h
        .http
        .get(h.url(&format!(
            "/v1/sessions/{}/photo?token={}",
            created["session_id"].as_str().unwrap(),
            created["result_token"].as_str().unwrap()
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(photo.status(), 200);
    assert_eq!(photo.headers()["content-type"], "image/jpeg");
    let photo = photo.bytes().await.unwrap();
    assert_eq!(verdict.photo_sha256, Some(Sha256Digest::of(&photo)));
    let manifest = upload.manifest();
    let photo_record = manifest
        .frames
        .iter()
        .find(|f| f.role == FrameRole::Photo)
        .unwrap();
    assert_eq!(photo_record.sha256, Sha256Digest::of(&photo));

    // A tampered verdict does not verify.
    let mut forged = signed.clone();
    forged.verdict = VerdictKind::Spoof;
    assert!(jwks.verify(&forged).is_err());

    // The signed result is an HS256 JWT under the tenant's secret.
    let jwt = h
        .http
        .get(h.url(&format!(
            "/v1/sessions/{}/result?token={}&signed=true",
            created["session_id"].as_str().unwrap(),
            created["result_token"].as_str().unwrap()
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(jwt.headers()["content-type"], "application/jwt");
    let jwt = jwt.text().await.unwrap();
    let now = h.clock.now_s();
    let (body, _iat): (ResultBody, i64) =
        verify_response(&jwt, h.tenant.webhook_secret.as_bytes(), now, 300).unwrap();
    assert_eq!(body, result);
    let other: &[u8] = b"another secret of at least 32 bytes!!";
    assert!(verify_response::<ResultBody>(&jwt, other, now, 300).is_err());

    // The webhook arrived signed, with an idempotency key, and is listed.
    assert!(receiver.wait_for(1, Duration::from_secs(20)).await);
    let (headers, body) = receiver.requests.lock().unwrap()[0].clone();
    let now = h.clock.now_s();
    let sig = headers["liveness-signature"].to_str().unwrap();
    verify_webhook(h.tenant.webhook_secret.as_bytes(), sig, &body, now).unwrap();
    let event: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(event["event"], "session.completed");
    assert_eq!(
        event["id"].as_str().unwrap(),
        headers["idempotency-key"].to_str().unwrap()
    );
    let data: ResultBody = serde_json::from_value(event["data"].clone()).unwrap();
    assert_eq!(data, result);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let listed: Value = h
        .get_as(
            &format!(
                "/v1/sessions/{}/webhooks",
                created["session_id"].as_str().unwrap()
            ),
            h.api_key(),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["deliveries"][0]["status"], "delivered", "{listed}");
    assert_eq!(listed["deliveries"][0]["attempts"][0]["status_code"], 200);

    // The integrator's own view of the session.
    let session: Value = h
        .get_as(
            &format!("/v1/sessions/{}", created["session_id"].as_str().unwrap()),
            h.api_key(),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(session["status"], "completed");
    assert_eq!(session["result"]["live"], true);
    receiver.stop();
    h.server.shutdown().await;
}

/// Uploads `upload` for `created` and waits for the verdict the integrator reads.
async fn judged(h: &Harness, created: &Value, upload: &support::Upload) -> ResultBody {
    h.submit_and_wait(created, upload).await;
    serde_json::from_value(h.result(created).await).unwrap()
}

/// A forger's upload claiming a passed head turn: the photo, a frame before and one at the
/// largest excursion of `script`.
fn forge_turn(
    created: &Value,
    script: liveness_testkit::Script,
    key: &liveness_protocol::DeviceSigningKey,
) -> support::Upload {
    support::forged_upload(
        created,
        script,
        &[
            (FrameRole::Photo, None, 0.5),
            (FrameRole::Baseline, Some(0), 0.8),
            (FrameRole::ChallengePeak, Some(0), 1.9),
        ],
        key,
    )
}

/// A malicious device keeps a genuine recording's frames but claims more than they show: the
/// server's re-check on the pixels catches each lie, whatever the manifest says.
async fn forged_evidence_is_spoof(backend: Backend) {
    let h = Harness::start(backend).await;
    let key = device_key();

    // 1. The head never turned: the "peak" frame is the baseline frame again.
    let created = h.create_session(json!({"action": "HeadLeft"})).await;
    let upload = perform(&created, None, &key).await;
    let mut m = upload.manifest();
    let b = m
        .frames
        .iter()
        .position(|f| f.role == FrameRole::Baseline)
        .unwrap();
    let p = m
        .frames
        .iter()
        .position(|f| f.role == FrameRole::ChallengePeak)
        .unwrap();
    let mut forged = upload.clone();
    forged.frames[p] = upload.frames[b].clone();
    m.frames[p].sha256 = m.frames[b].sha256;
    m.frames[p].width = m.frames[b].width;
    m.frames[p].height = m.frames[b].height;
    let forged = forged.resigned(&m, &key);
    let r = h
        .submit(created["submission_token"].as_str().unwrap(), &forged)
        .await;
    assert_eq!(r.status(), 202);
    let job: Value = r.json().await.unwrap();
    h.wait_job(job["job_id"].as_str().unwrap()).await;
    let result: ResultBody = serde_json::from_value(h.result(&created).await).unwrap();
    assert_eq!(result.live, Some(false));
    assert_eq!(result.verdict.as_ref().unwrap().verdict, VerdictKind::Spoof);
    let failed: Vec<&str> = result
        .reasons
        .iter()
        .filter(|r| !r.passed)
        .map(|r| r.check.as_str())
        .collect();
    assert!(
        failed.iter().any(|c| c.starts_with("challenge_0")),
        "{failed:?}"
    );
    assert!(failed.contains(&"landmark_consistency"), "{failed:?}");

    // 2. A printed photo turned far (50°) in front of the camera; the forger picks a frame
    // before and one at the largest turn and claims every check passed. The pose the server
    // measures on a flat photo barely changes, so the turn is not confirmed. (On the no-flash
    // path: with the light step the missing tiles decide first, as case 3 shows.)
    let created = h
        .create_session(json!({"action": "HeadLeft", "light_challenge": false}))
        .await;
    let mut script = liveness_testkit::Script::parse(include_str!(
        "../../rust-core/testkit/subjects/attack_print.toml"
    ))
    .unwrap();
    for k in &mut script.keys {
        k.yaw = k.yaw.map(|y| y * 2.0);
    }
    let forged = forge_turn(&created, script, &key);
    let result = judged(&h, &created, &forged).await;
    assert_eq!(result.live, Some(false), "{result:#?}");
    assert_ne!(result.verdict.as_ref().unwrap().verdict, VerdictKind::Live);
    assert!(
        result
            .reasons
            .iter()
            .any(|r| r.check == "challenge_0_HeadLeft" && !r.passed),
        "{:#?}",
        result.reasons
    );

    // 3. Evidence without the light step for a plan that has it (an SDK that skipped it, or
    // frames injected past it): not live, named.
    let created = h.create_session(json!({"action": "HeadLeft"})).await;
    let forged = forge_turn(
        &created,
        liveness_testkit::Script::parse(include_str!(
            "../../rust-core/testkit/subjects/head_left.toml"
        ))
        .unwrap(),
        &key,
    );
    let result = judged(&h, &created, &forged).await;
    assert_eq!(result.live, Some(false), "{result:#?}");
    assert!(
        result.reasons.iter().any(|r| r.check == "light_reflection"
            && !r.passed
            && r.reason
                .as_deref()
                .is_some_and(|w| w.starts_with("light_missing"))),
        "{:#?}",
        result.reasons
    );
    h.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn genuine_flow() {
    for backend in backends() {
        genuine_session_is_live_and_verifies_offline(backend).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_evidence() {
    for backend in backends() {
        forged_evidence_is_spoof(backend).await;
    }
}
