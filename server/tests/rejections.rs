//! Everything a submission or an integrator request can get wrong, each answered with its own
//! status and code, with nothing stored half-way: after every rejection the session is still
//! untouched, and a correct upload still goes through.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use liveness_server::admin;
use liveness_server::auth::{request_nonce, sign_request};
use serde_json::{Value, json};
use support::{Backend, Harness, Receiver, ReceiverMode, code, device_key, faceless_upload};

async fn submissions(backend: Backend) {
    let h = Harness::start_with(backend, |c| c.max_submission_bytes = 256 * 1024).await;
    let key = device_key();
    // Hand-made faceless evidence: the no-flash path, so the face checks decide.
    let a = h
        .create_session(json!({"action": "BlinkEyes", "light_challenge": false}))
        .await;
    let b = h
        .create_session(json!({"action": "BlinkEyes", "light_challenge": false}))
        .await;
    let (a_id, a_token) = (
        a["session_id"].as_str().unwrap(),
        a["submission_token"].as_str().unwrap(),
    );
    let b_token = b["submission_token"].as_str().unwrap();
    let good = faceless_upload(&a, &key);
    let untouched = || async { h.stored(a_id).await };
    let clean = ("created".to_owned(), 0, 0);

    // Unknown or missing token.
    let r = h.submit("st_not-a-token", &good).await;
    assert_eq!(code(r).await, (401, "invalid_submission_token".into()));
    let r = h
        .http
        .post(h.url("/v1/submissions"))
        .multipart(good.form())
        .send()
        .await
        .unwrap();
    assert_eq!(code(r).await.0, 401);

    // A tampered manifest: one byte changed after signing.
    let mut tampered = good.clone();
    let i = tampered
        .signed
        .manifest_bytes
        .iter()
        .position(|&c| c == b'0')
        .unwrap();
    tampered.signed.manifest_bytes[i] = b'1';
    assert_eq!(
        code(h.submit(a_token, &tampered).await).await,
        (422, "bad_signature".into())
    );
    assert_eq!(untouched().await, clean);

    // A tampered frame.
    let mut tampered = good.clone();
    let last = tampered.frames[1].len() - 3;
    tampered.frames[1][last] ^= 0x55;
    assert_eq!(
        code(h.submit(a_token, &tampered).await).await,
        (422, "frame_hash_mismatch".into())
    );
    // A frame missing.
    let mut short = good.clone();
    short.frames.pop();
    assert_eq!(
        code(h.submit(a_token, &short).await).await,
        (422, "frame_count_mismatch".into())
    );
    assert_eq!(untouched().await, clean);

    // A decompression bomb, correctly hashed and signed: the photo's JPEG header claims
    // 23000×23000 where the manifest says 64×64. Refused before any decoder sees it.
    let sof = good.frames[0]
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .unwrap();
    let mut bomb = good.frames[0][..sof + 9].to_vec();
    bomb[sof + 5..sof + 9].copy_from_slice(&[0x59, 0xD8, 0x59, 0xD8]);
    assert!(bomb.len() < 200, "{} bytes", bomb.len());
    // And a photo that is a web page (the photo endpoint serves what was stored).
    let html = b"<html><script>alert(document.cookie)</script></html>".to_vec();
    for (frame, expected) in [(bomb, "frame_size_mismatch"), (html, "frame_not_jpeg")] {
        let mut manifest = good.manifest();
        manifest.frames[0].sha256 = liveness_protocol::Sha256Digest::of(&frame);
        // A key of its own, so these attempts do not cool down the good upload's device.
        let mut forged = good.resigned(&manifest, &device_key());
        forged.frames[0] = frame;
        assert_eq!(
            code(h.submit(a_token, &forged).await).await,
            (422, expected.into())
        );
    }
    assert_eq!(untouched().await, clean);

    // Replayed: session A's evidence uploaded with session B's token.
    assert_eq!(
        code(h.submit(b_token, &good).await).await,
        (422, "session_mismatch".into())
    );
    assert_eq!(h.stored(b["session_id"].as_str().unwrap()).await, clean);

    // Malformed multipart, missing parts, unknown parts, wrong content type.
    let r = h
        .http
        .post(h.url("/v1/submissions"))
        .bearer_auth(a_token)
        .header("content-type", "multipart/form-data; boundary=xyz")
        .body("--xyz\r\nContent-Disposition: form-data; name=\"manifest\"\r\n\r\n{trunc")
        .send()
        .await
        .unwrap();
    assert_eq!(code(r).await, (400, "malformed_submission".into()));
    let r = h
        .http
        .post(h.url("/v1/submissions"))
        .bearer_auth(a_token)
        .multipart(reqwest::multipart::Form::new().text("manifest", "{}"))
        .send()
        .await
        .unwrap();
    assert_eq!(code(r).await, (400, "malformed_submission".into()));
    let r = h
        .http
        .post(h.url("/v1/submissions"))
        .bearer_auth(a_token)
        .multipart(good.form().text("extra", "x"))
        .send()
        .await
        .unwrap();
    assert_eq!(code(r).await, (400, "malformed_submission".into()));
    let r = h
        .http
        .post(h.url("/v1/submissions"))
        .bearer_auth(a_token)
        .json(&json!({"manifest": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(code(r).await, (400, "malformed_submission".into()));
    // Over the body limit.
    let mut big = good.clone();
    big.frames.push(vec![0u8; 300 * 1024]);
    assert_eq!(code(h.submit(a_token, &big).await).await.0, 413);
    assert_eq!(untouched().await, clean);

    // The correct upload goes through; the same upload again (a retry) is the same job;
    // a different one is refused.
    let r = h.submit(a_token, &good).await;
    assert_eq!(r.status(), 202);
    let first: Value = r.json().await.unwrap();
    let r = h.submit(a_token, &good).await;
    assert_eq!(r.status(), 202);
    let again: Value = r.json().await.unwrap();
    assert_eq!(first["job_id"], again["job_id"]);
    let other = faceless_upload(&a, &device_key());
    assert_eq!(
        code(h.submit(a_token, &other).await).await,
        (409, "submission_token_used".into())
    );
    let job = h.wait_job(first["job_id"].as_str().unwrap()).await;
    assert_eq!(job["result"]["message_code"], "no_face", "{job}");
    assert_eq!(job["result"]["verdict"]["verdict"], "inconclusive");
    let (status, frames, jobs) = h.stored(a_id).await;
    assert_eq!((status.as_str(), frames, jobs), ("completed", 3, 1));

    // An expired token: refused, and the result says the session timed out.
    let c = h
        .create_session(json!({"action": "Smile", "submission_ttl_seconds": 30}))
        .await;
    let upload = faceless_upload(&c, &key);
    h.clock.advance(Duration::from_secs(31));
    let r = h
        .submit(c["submission_token"].as_str().unwrap(), &upload)
        .await;
    assert_eq!(code(r).await, (401, "submission_token_expired".into()));
    let result = h.result(&c).await;
    assert_eq!(result["status"], "incompleted");
    assert_eq!(result["message_code"], "timed_out");
    assert_eq!(h.stored(c["session_id"].as_str().unwrap()).await, clean);
    h.server.shutdown().await;
}

async fn result_tokens_and_tenants(backend: Backend) {
    let h = Harness::start(backend).await;
    let a = h.create_session(json!({})).await;
    let id = a["session_id"].as_str().unwrap();
    let get = |path: String| {
        let http = h.http.clone();
        let url = h.url(&path);
        async move { http.get(url).send().await.unwrap() }
    };
    // Wrong token and unknown session answer alike.
    let wrong = get(format!("/v1/sessions/{id}/result?token=rt_wrong")).await;
    let unknown = get(format!(
        "/v1/sessions/ses_unknown/result?token={}",
        a["result_token"].as_str().unwrap()
    ))
    .await;
    let missing = get(format!("/v1/sessions/{id}/result")).await;
    let bodies = [wrong, unknown, missing];
    let mut seen = Vec::new();
    for r in bodies {
        seen.push((r.status().as_u16(), r.text().await.unwrap()));
    }
    assert!(seen.iter().all(|s| *s == seen[0]), "{seen:?}");
    assert_eq!(seen[0].0, 404);
    let photo = get(format!("/v1/sessions/{id}/photo?token=rt_wrong")).await;
    assert_eq!(photo.status(), 404);
    let pending = get(format!(
        "/v1/sessions/{id}/result?token={}",
        a["result_token"].as_str().unwrap()
    ))
    .await;
    let pending: Value = pending.json().await.unwrap();
    assert_eq!(pending["status"], "pending");

    // Another tenant cannot see the session, its webhooks or its job.
    let other = admin::create_tenant(&h.server.state.db, "Globex", h.clock.now_ms())
        .await
        .unwrap();
    for path in [
        format!("/v1/sessions/{id}"),
        format!("/v1/sessions/{id}/webhooks"),
    ] {
        let r = h.get_as(&path, &other.key.api_key).await;
        assert_eq!(code(r).await, (404, "not_found".into()), "{path}");
        let r = h.get_as(&path, h.api_key()).await;
        assert_eq!(r.status(), 200, "{path}");
    }
    let upload = faceless_upload(&a, &device_key());
    let accepted: Value = h
        .submit(a["submission_token"].as_str().unwrap(), &upload)
        .await
        .json()
        .await
        .unwrap();
    let job = accepted["job_id"].as_str().unwrap();
    let r = h
        .get_as(&format!("/v1/jobs/{job}"), &other.key.api_key)
        .await;
    assert_eq!(r.status(), 404);
    // Another session's submission token cannot read this job either.
    let b = h.create_session(json!({})).await;
    let r = h
        .get_as(
            &format!("/v1/jobs/{job}"),
            b["submission_token"].as_str().unwrap(),
        )
        .await;
    assert_eq!(r.status(), 404);

    // Malformed and invalid session options.
    for body in [
        "{",
        r#"{"action": "Dance"}"#,
        r#"{"challenge_count": 9}"#,
        r#"{"webhook_url": "http://example.com/hook"}"#,
        r#"{"unknown": 1}"#,
    ] {
        let r = h
            .http
            .post(h.url("/v1/sessions"))
            .bearer_auth(h.api_key())
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let (status, c) = code(r).await;
        assert_eq!(status, 400, "{body}");
        assert!(!c.is_empty(), "{body}");
    }
    let r = h
        .http
        .post(h.url("/v1/sessions"))
        .bearer_auth(h.api_key())
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(code(r).await.0, 415);
    let r = h
        .http
        .post(h.url("/v1/sessions"))
        .bearer_auth(h.api_key())
        .header("content-type", "application/json")
        .body(vec![b' '; 100 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    h.server.shutdown().await;
}

async fn authentication(backend: Backend) {
    let h = Harness::start_with(backend, |c| c.tenant_requests_per_minute = 12).await;
    let body = br#"{"action":"HeadLeft"}"#;
    let signed = |ts: i64, body: &[u8], key: &str| {
        let nonce = request_nonce().unwrap();
        let (key_id, sig) = sign_request(key, ts, &nonce, "POST", "/v1/sessions", body).unwrap();
        h.http
            .post(h.url("/v1/sessions"))
            .header("content-type", "application/json")
            .header("liveness-key-id", key_id)
            .header("liveness-timestamp", ts.to_string())
            .header("liveness-nonce", nonce)
            .header("liveness-signature", sig)
            .body(body.to_vec())
    };
    let now = h.clock.now_s();
    // 1: HMAC signed.
    assert_eq!(
        signed(now, body, h.api_key())
            .send()
            .await
            .unwrap()
            .status(),
        201
    );
    // 2: the body changed after signing.
    let nonce = request_nonce().unwrap();
    let (key_id, sig) =
        sign_request(h.api_key(), now, &nonce, "POST", "/v1/sessions", body).unwrap();
    let r = h
        .http
        .post(h.url("/v1/sessions"))
        .header("content-type", "application/json")
        .header("liveness-key-id", key_id)
        .header("liveness-timestamp", now.to_string())
        .header("liveness-nonce", nonce)
        .header("liveness-signature", sig)
        .body(r#"{"action":"Smile"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(code(r).await, (401, "invalid_credentials".into()));
    // 3: six minutes old.
    let r = signed(now - 360, body, h.api_key()).send().await.unwrap();
    assert_eq!(code(r).await, (401, "stale_timestamp".into()));
    // 4: no credentials, a wrong key.
    let r = h
        .http
        .post(h.url("/v1/sessions"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
    let forged = format!("{}x", h.api_key());
    assert_eq!(h.create_session_as(&forged, json!({})).await.status(), 401);

    // 5–6: OAuth2 client credentials, form body and HTTP Basic.
    let r = h
        .http
        .post(h.url("/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", h.tenant.key.key_id.as_str()),
            ("client_secret", h.api_key()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let token: Value = r.json().await.unwrap();
    assert_eq!(token["token_type"], "Bearer");
    let access = token["access_token"].as_str().unwrap().to_owned();
    assert_eq!(h.create_session_as(&access, json!({})).await.status(), 201);
    let r = h
        .http
        .post(h.url("/oauth/token"))
        .basic_auth(&h.tenant.key.key_id, Some("lk_wrong"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"], "invalid_client");
    let r = h
        .http
        .post(h.url("/oauth/token"))
        .form(&[("grant_type", "password")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "unsupported_grant_type"
    );

    // Rotation: both keys work during the grace period, only the new one after it.
    let db = &h.server.state.db;
    let new = admin::rotate_api_key(
        db,
        &h.tenant.key.key_id,
        Duration::from_secs(60),
        h.clock.now_ms(),
    )
    .await
    .unwrap();
    assert_eq!(
        h.create_session_as(h.api_key(), json!({})).await.status(),
        201
    ); // 7
    assert_eq!(
        h.create_session_as(&new.api_key, json!({})).await.status(),
        201
    ); // 8
    h.clock.advance(Duration::from_secs(61));
    assert_eq!(
        h.create_session_as(h.api_key(), json!({})).await.status(),
        401
    );
    assert_eq!(
        h.create_session_as(&access, json!({})).await.status(),
        401,
        "tokens die with their key"
    );
    // Revocation is immediate.
    let third = admin::create_api_key(db, &h.tenant.tenant_id, h.clock.now_ms())
        .await
        .unwrap();
    assert_eq!(
        h.create_session_as(&third.api_key, json!({}))
            .await
            .status(),
        201
    ); // 1 (new minute)
    admin::revoke_api_key(db, &third.key_id, h.clock.now_ms())
        .await
        .unwrap();
    assert_eq!(
        h.create_session_as(&third.api_key, json!({}))
            .await
            .status(),
        401
    );

    // The tenant's rate limit: 12 a minute, then 429 with Retry-After.
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(
            h.create_session_as(&new.api_key, json!({}))
                .await
                .status()
                .as_u16(),
        );
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    let r = h.create_session_as(&new.api_key, json!({})).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    h.server.shutdown().await;
}

/// Five failed sessions from one device key in three minutes: its next upload waits.
async fn device_cool_down(backend: Backend) {
    let h = Harness::start(backend).await;
    let key = device_key();
    for _ in 0..5 {
        let s = h.create_session(json!({"action": "BlinkEyes"})).await;
        let r = h
            .submit(
                s["submission_token"].as_str().unwrap(),
                &faceless_upload(&s, &key),
            )
            .await;
        assert_eq!(r.status(), 202);
        let job: Value = r.json().await.unwrap();
        h.wait_job(job["job_id"].as_str().unwrap()).await;
    }
    let s = h.create_session(json!({"action": "BlinkEyes"})).await;
    let r = h
        .submit(
            s["submission_token"].as_str().unwrap(),
            &faceless_upload(&s, &key),
        )
        .await;
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(code(r).await, (429, "device_cooling_down".into()));
    // Another device is not affected, and the cool-down ends with the window.
    let r = h
        .submit(
            s["submission_token"].as_str().unwrap(),
            &faceless_upload(&s, &device_key()),
        )
        .await;
    assert_eq!(r.status(), 202);
    h.clock.advance(Duration::from_secs(181));
    let s = h.create_session(json!({"action": "BlinkEyes"})).await;
    let r = h
        .submit(
            s["submission_token"].as_str().unwrap(),
            &faceless_upload(&s, &key),
        )
        .await;
    assert_eq!(r.status(), 202);
    h.server.shutdown().await;
}

/// The receiver is down (503) for the first attempts, then up: the delivery retries with
/// backoff and arrives, and every attempt is listed.
async fn webhook_retries(backend: Backend) {
    let h = Harness::start(backend).await;
    let receiver = Receiver::start().await;
    receiver.set(ReceiverMode::Fail);
    let s = h
        .create_session(json!({"action": "Smile", "webhook_url": receiver.url}))
        .await;
    let r = h
        .submit(
            s["submission_token"].as_str().unwrap(),
            &faceless_upload(&s, &device_key()),
        )
        .await;
    assert_eq!(r.status(), 202);
    assert!(receiver.wait_for(3, Duration::from_secs(20)).await);
    receiver.set(ReceiverMode::Ok);
    let id = s["session_id"].as_str().unwrap();
    let mut listed = Value::Null;
    for _ in 0..200 {
        listed = h
            .get_as(&format!("/v1/sessions/{id}/webhooks"), h.api_key())
            .await
            .json()
            .await
            .unwrap();
        if listed["deliveries"][0]["status"] == "delivered" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let d = &listed["deliveries"][0];
    assert_eq!(d["status"], "delivered", "{listed}");
    let attempts = d["attempts"].as_array().unwrap();
    assert!(attempts.len() >= 4, "{listed}");
    assert!(
        attempts[..attempts.len() - 1]
            .iter()
            .all(|a| a["status_code"] == 503)
    );
    assert_eq!(attempts.last().unwrap()["status_code"], 200);
    // Backoff: the gaps between attempts grow.
    let starts: Vec<i64> = attempts
        .iter()
        .map(|a| a["started_at_ms"].as_i64().unwrap())
        .collect();
    assert!(starts[2] - starts[1] > starts[1] - starts[0], "{starts:?}");
    // Every attempt carried the same idempotency key and body.
    let requests = receiver.requests.lock().unwrap().clone();
    assert!(
        requests
            .windows(2)
            .all(|w| w[0].0["idempotency-key"] == w[1].0["idempotency-key"] && w[0].1 == w[1].1)
    );
    receiver.stop();

    // Really down: nothing listens on the receiver's port (connection refused), then a
    // receiver starts there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("http://{port}/hook");
    let s = h
        .create_session(json!({"action": "Smile", "webhook_url": url}))
        .await;
    let r = h
        .submit(
            s["submission_token"].as_str().unwrap(),
            &faceless_upload(&s, &device_key()),
        )
        .await;
    assert_eq!(r.status(), 202);
    let id = s["session_id"].as_str().unwrap();
    let listed = |h: &Harness| {
        let (http, url, key) = (
            h.http.clone(),
            h.url(&format!("/v1/sessions/{id}/webhooks")),
            h.api_key().to_owned(),
        );
        async move {
            http.get(url)
                .bearer_auth(key)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let mut refused = 0;
    for _ in 0..200 {
        refused = listed(&h).await["deliveries"][0]["attempts"]
            .as_array()
            .map_or(0, Vec::len);
        if refused >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(refused >= 2);
    let d = listed(&h).await;
    assert!(d["deliveries"][0]["attempts"][0]["status_code"].is_null());
    assert!(
        d["deliveries"][0]["attempts"][0]["error"]
            .as_str()
            .unwrap()
            .contains("connect"),
        "{d}"
    );
    let up = Receiver::start_on(&port.to_string()).await;
    assert!(
        up.wait_for(1, Duration::from_secs(20)).await,
        "not delivered once the receiver was up"
    );
    up.stop();
    h.server.shutdown().await;
}

support::on_every_backend!(
    rejected_submissions_store_nothing => submissions,
    result_tokens_and_other_tenants => result_tokens_and_tenants,
    api_key_hmac_oauth_rotation_rate_limit => authentication,
    failing_device_cools_down => device_cool_down,
    webhook_retries_until_delivered => webhook_retries,
);
