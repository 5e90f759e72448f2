//! Attacks on the server, each performed for real on loopback (issue 16): what used to get
//! through, and what the server answers now. Every scenario runs on SQLite and, when CI
//! provides one, PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use liveness_server::auth::{request_nonce, sign_request};
use liveness_server::{Server, admin, webhooks};
use serde_json::{Value, json};
use sqlx::Row;
use support::{
    Backend, Harness, Receiver, ReceiverMode, code, device_key, faceless_upload, test_config,
};

async fn sessions_of(h: &Harness, tenant_id: &str) -> i64 {
    sqlx::query("SELECT COUNT(*) AS n FROM sessions WHERE tenant_id = $1")
        .bind(tenant_id)
        .fetch_one(&h.server.state.db.pool)
        .await
        .unwrap()
        .try_get("n")
        .unwrap()
}

/// The same HMAC-signed `POST /v1/sessions` sent twice made two sessions, for as long as
/// its timestamp was within the window. The nonce is signed and used once.
async fn hmac_replay(backend: Backend) {
    let h = Harness::start(backend).await;
    let body = br#"{"action":"HeadLeft"}"#;
    let ts = h.clock.now_s();
    let nonce = request_nonce().unwrap();
    let (key_id, signature) =
        sign_request(h.api_key(), ts, &nonce, "POST", "/v1/sessions", body).unwrap();
    let send = |nonce: Option<&str>, signature: &str| {
        let mut r = h
            .http
            .post(h.url("/v1/sessions"))
            .header("content-type", "application/json")
            .header("liveness-key-id", &key_id)
            .header("liveness-timestamp", ts.to_string())
            .header("liveness-signature", signature);
        if let Some(n) = nonce {
            r = r.header("liveness-nonce", n);
        }
        r.body(body.to_vec()).send()
    };
    assert_eq!(send(Some(&nonce), &signature).await.unwrap().status(), 201);
    let replayed = send(Some(&nonce), &signature).await.unwrap();
    assert_eq!(code(replayed).await, (401, "replayed_request".into()));
    // A minute later, still inside the timestamp window: still refused.
    h.clock.advance(Duration::from_secs(60));
    let replayed = send(Some(&nonce), &signature).await.unwrap();
    assert_eq!(code(replayed).await, (401, "replayed_request".into()));
    // The nonce is covered by the signature: a fresh one on the old signature is a forgery.
    let other = request_nonce().unwrap();
    let forged = send(Some(&other), &signature).await.unwrap();
    assert_eq!(code(forged).await, (401, "invalid_credentials".into()));
    let bare = send(None, &signature).await.unwrap();
    assert_eq!(code(bare).await, (401, "missing_nonce".into()));
    assert_eq!(sessions_of(&h, &h.tenant.tenant_id).await, 1);
    h.server.shutdown().await;
}

/// `Idempotency-Key` on session creation: a retry after a lost answer gets the same session
/// and tokens; the key with another body, or after the tokens' window, is refused clearly.
async fn idempotent_creation(backend: Backend) {
    let h = Harness::start(backend).await;
    let create = |api_key: String, key: &'static str, body: Value| {
        h.http
            .post(h.url("/v1/sessions"))
            .bearer_auth(api_key)
            .header("idempotency-key", key)
            .json(&body)
            .send()
    };
    let me = h.api_key().to_owned();
    let first = create(me.clone(), "order-42", json!({"action": "Smile"}))
        .await
        .unwrap();
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.unwrap();
    let again = create(me.clone(), "order-42", json!({"action": "Smile"}))
        .await
        .unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(first, again);
    assert_eq!(sessions_of(&h, &h.tenant.tenant_id).await, 1);

    let other_body = create(me.clone(), "order-42", json!({"action": "BlinkEyes"}))
        .await
        .unwrap();
    assert_eq!(
        code(other_body).await,
        (422, "idempotency_key_reused".into())
    );
    // Keys are per tenant.
    let other = admin::create_tenant(&h.server.state.db, "Other", h.clock.now_ms())
        .await
        .unwrap();
    let theirs = create(
        other.key.api_key.clone(),
        "order-42",
        json!({"action": "Smile"}),
    )
    .await
    .unwrap();
    assert_eq!(theirs.status(), 201);
    let theirs: Value = theirs.json().await.unwrap();
    assert_ne!(theirs["session_id"], first["session_id"]);
    let bad = create(me.clone(), "", json!({})).await.unwrap();
    assert_eq!(code(bad).await, (400, "invalid_idempotency_key".into()));

    // Past the submission window the answer (it holds the tokens) is no longer kept.
    h.clock.advance(Duration::from_secs(301));
    let late = create(me, "order-42", json!({"action": "Smile"}))
        .await
        .unwrap();
    let (status, code) = code(late).await;
    assert_eq!((status, code.as_str()), (409, "idempotency_key_expired"));
    assert_eq!(sessions_of(&h, &h.tenant.tenant_id).await, 1);
    h.server.shutdown().await;
}

/// A poison job: an upload whose verification takes its instance down. Simulated by three
/// instances that claimed it and died (their leases ran out); the fourth claim must fail the
/// job with a verdict instead of running it again, or one upload crash-loops every instance.
async fn poison_job(backend: Backend) {
    // An HTTP-only instance: the job waits in the queue for the "crashing" claims.
    let h = Harness::start_with(backend, |c| c.workers = 0).await;
    let created = h
        .create_session(json!({"action": "BlinkEyes", "light_challenge": false}))
        .await;
    let r = h
        .submit(
            created["submission_token"].as_str().unwrap(),
            &faceless_upload(&created, &device_key()),
        )
        .await;
    assert_eq!(r.status(), 202);
    let job_id = r.json::<Value>().await.unwrap()["job_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let db = &h.server.state.db;
    let limit = h.server.state.config.max_job_attempts;
    for attempt in 1..=limit {
        // Claimed with a lease that has already run out: the instance "died" at once.
        let claimed = db.claim_job(h.clock.now_ms(), -1).await.unwrap().unwrap();
        assert_eq!(
            (claimed.id.as_str(), claimed.attempts),
            (job_id.as_str(), attempt)
        );
    }

    let mut config = test_config(h.server.state.config.database_url.clone());
    config.workers = 1;
    let worker = Server::start_with_clock(config, h.clock.clone())
        .await
        .unwrap();
    let job = h.wait_job(&job_id).await;
    assert_eq!(job["status"], "failed", "{job}");
    let result = h.result(&created).await;
    assert_eq!(result["status"], "failed", "{result}");
    assert_eq!(result["live"], false, "{result}");
    let row = sqlx::query("SELECT attempts, error FROM jobs WHERE id = $1")
        .bind(&job_id)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(row.try_get::<i64, _>("attempts").unwrap(), limit + 1);
    let error: String = row.try_get("error").unwrap();
    assert!(error.contains("never finished"), "{error}");
    worker.shutdown().await;
    h.server.shutdown().await;
}

/// Webhook SSRF: every spelling of an internal address is refused at session creation, and
/// a server without the development setting never connects to loopback.
async fn webhook_ssrf(backend: Backend) {
    let h = Harness::start_with(backend, |c| c.allow_loopback_webhooks = false).await;
    let own = h.server.addr.port();
    let listener = Receiver::start().await;
    let port = listener
        .url
        .split(':')
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    for url in [
        format!("http://127.0.0.1:{own}/v1/sessions"),
        format!("http://localhost:{port}/hook"),
        format!("http://2130706433:{port}/hook"),
        format!("http://0x7f000001:{port}/hook"),
        format!("http://127.1:{port}/hook"),
        "https://169.254.169.254/latest/meta-data/".to_owned(),
        "https://10.0.0.7/hook".to_owned(),
        "https://0.0.0.0/hook".to_owned(),
        "https://[::]/hook".to_owned(),
        "https://[::ffff:169.254.169.254]/hook".to_owned(),
        "https://metadata.google.internal/computeMetadata/v1/".to_owned(),
    ] {
        let r = h
            .create_session_as(h.api_key(), json!({"webhook_url": url}))
            .await;
        assert_eq!(code(r).await, (400, "webhook_url_refused".into()), "{url}");
    }
    assert_eq!(sessions_of(&h, &h.tenant.tenant_id).await, 0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(listener.count(), 0);
    listener.stop();
    h.server.shutdown().await;
}

/// The device must not learn its verdict: not from `/metrics` (on the operator's listener
/// only), not from its job's status, not from the cool-down (the same words whatever the
/// count, and never in answer to a resend of the upload it just made).
async fn verdict_stays_with_the_integrator(backend: Backend) {
    let h = Harness::start_with(backend, |c| c.device_failure_limit = 1).await;
    assert_eq!(
        h.http.get(h.url("/metrics")).send().await.unwrap().status(),
        404
    );
    let key = device_key();
    let s = h.create_session(json!({"action": "BlinkEyes"})).await;
    let token = s["submission_token"].as_str().unwrap();
    let upload = faceless_upload(&s, &key);
    let r = h.submit(token, &upload).await;
    assert_eq!(r.status(), 202);
    let job_id = r.json::<Value>().await.unwrap()["job_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let job = h.wait_job(&job_id).await;
    assert_eq!(job["result"]["live"], false, "{job}");
    let device: Value = h
        .get_as(&format!("/v1/jobs/{job_id}"), token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        device,
        json!({"job_id": job_id, "session_id": s["session_id"], "status": "done"})
    );
    // That session failed, so the device is cooling down: a resend of the same upload still
    // answers with its job, as a resend after a lost answer always does.
    let again = h.submit(token, &upload).await;
    assert_eq!(again.status(), 202);
    assert_eq!(
        again.json::<Value>().await.unwrap()["job_id"],
        job_id.as_str()
    );
    let mut messages = Vec::new();
    for _ in 0..2 {
        let t = h.create_session(json!({"action": "BlinkEyes"})).await;
        let r = h
            .submit(
                t["submission_token"].as_str().unwrap(),
                &faceless_upload(&t, &key),
            )
            .await;
        assert_eq!(r.status(), 429);
        let retry = r.headers()["retry-after"].to_str().unwrap().to_owned();
        let body: Value = r.json().await.unwrap();
        messages.push((retry, body["error"].clone()));
    }
    assert_eq!(messages[0], messages[1]);
    assert!(
        !messages[0].1["message"]
            .as_str()
            .unwrap()
            .contains(char::is_numeric)
    );
    h.server.shutdown().await;
}

/// Results and photos are never cached or sniffed; the result token also works as a bearer
/// header (query strings end up in proxy logs and browser histories); axum's own rejections
/// answer in the API's JSON error format.
async fn headers_and_errors(backend: Backend) {
    let h = Harness::start(backend).await;
    let s = h.create_session(json!({"action": "Smile"})).await;
    h.submit_and_wait(&s, &faceless_upload(&s, &device_key()))
        .await;
    let id = s["session_id"].as_str().unwrap();
    let token = s["result_token"].as_str().unwrap();
    for path in ["result", "photo"] {
        let r = h.get_as(&format!("/v1/sessions/{id}/{path}"), token).await;
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["cache-control"], "no-store", "{path}");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff", "{path}");
    }
    let wrong = h
        .get_as(&format!("/v1/sessions/{id}/result"), "rt_wrong")
        .await;
    assert_eq!(code(wrong).await, (404, "not_found".into()));
    let bad_query = h
        .http
        .get(h.url(&format!(
            "/v1/sessions/{id}/result?token={token}&signed=maybe"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(code(bad_query).await, (400, "invalid_query".into()));
    let too_big = h
        .http
        .post(h.url("/v1/sessions"))
        .bearer_auth(h.api_key())
        .header("content-type", "application/json")
        .body(vec![b' '; 100 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(code(too_big).await, (413, "body_too_large".into()));
    let wrong_method = h.http.delete(h.url("/healthz")).send().await.unwrap();
    assert_eq!(code(wrong_method).await, (405, "method_not_allowed".into()));
    let jwks = h
        .http
        .get(h.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(jwks.headers()["cache-control"], "public, max-age=300");
    h.server.shutdown().await;
}

/// Reads until the server closes the connection (or `limit` passes): what it sent, and when.
async fn until_closed(
    stream: &mut tokio::net::TcpStream,
    limit: Duration,
) -> Option<(Vec<u8>, Duration)> {
    use tokio::io::AsyncReadExt;
    let started = std::time::Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(
            tokio::time::Instant::from_std(started + limit),
            stream.read(&mut buf),
        )
        .await
        {
            Ok(Ok(0)) | Ok(Err(_)) => return Some((got, started.elapsed())),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return None,
        }
    }
}

/// Slow and idle clients: partial headers, an idle connection and a body trickling in are
/// each cut off after their limit instead of holding a connection forever.
async fn slow_clients(backend: Backend) {
    use tokio::io::AsyncWriteExt;
    let h = Harness::start_with(backend, |c| {
        c.header_read_timeout = Duration::from_secs(1);
        c.idle_timeout = Duration::from_secs(1);
        c.request_timeout = Duration::from_secs(2);
    })
    .await;
    let addr = h.server.addr;
    let connect = || tokio::net::TcpStream::connect(addr);

    let mut partial = connect().await.unwrap();
    partial
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let (_, after) = until_closed(&mut partial, Duration::from_secs(10))
        .await
        .expect("partial headers held open");
    assert!(after >= Duration::from_millis(800), "{after:?}");

    let mut idle = connect().await.unwrap();
    until_closed(&mut idle, Duration::from_secs(10))
        .await
        .expect("an idle connection held open");

    // A body of 64 bytes at one byte every 200 ms: 408 after the request timeout.
    let mut slow = connect().await.unwrap();
    let head = format!(
        "POST /v1/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 64\r\n\r\n",
        h.api_key()
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    let (mut reader, mut writer) = slow.into_split();
    let trickle = tokio::spawn(async move {
        for _ in 0..64 {
            if writer.write_all(b" ").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    use tokio::io::AsyncReadExt;
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), reader.read(&mut answer))
        .await
        .expect("a trickling body held open")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]).into_owned();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"error\""), "{answer}");
    trickle.abort();
    assert_eq!(sessions_of(&h, &h.tenant.tenant_id).await, 0);
    h.server.shutdown().await;
}

/// Past the connection limit a new connection is answered 503 at once and closed; when the
/// held connections go, the server answers again.
async fn connection_limit(backend: Backend) {
    let h = Harness::start_with(backend, |c| c.max_http_connections = 4).await;
    let addr = h.server.addr;
    let mut held = Vec::new();
    let mut shed = None;
    for _ in 0..6 {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        // A connection over the limit is answered at once; one within it waits for a request.
        match until_closed(&mut s, Duration::from_millis(300)).await {
            Some((answer, _)) => {
                shed = Some(String::from_utf8_lossy(&answer).into_owned());
                break;
            }
            None => held.push(s),
        }
    }
    let shed = shed.expect("no connection was shed past the limit");
    assert!(shed.starts_with("HTTP/1.1 503"), "{shed}");
    assert!(shed.contains("overloaded"), "{shed}");
    assert!(held.len() <= 4);
    drop(held);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = reqwest::Client::new()
        .get(h.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    h.server.shutdown().await;
}

/// Webhook starvation: one tenant's receiver that never answers may hold only its share of
/// the delivery slots; another tenant's webhook goes out at once.
async fn webhook_fairness(backend: Backend) {
    let h = Harness::start_with(backend, |c| c.webhook_timeout = Duration::from_secs(6)).await;
    let hanging = Receiver::start().await;
    hanging.set(ReceiverMode::Hang);
    let cancel = |created: &Value| {
        h.http
            .post(h.url("/v1/submissions/cancel"))
            .bearer_auth(created["submission_token"].as_str().unwrap())
            .send()
    };
    for _ in 0..10 {
        let s = h
            .create_session(json!({"action": "Smile", "webhook_url": hanging.url}))
            .await;
        assert_eq!(cancel(&s).await.unwrap().status(), 200);
    }
    assert!(hanging.wait_for(1, Duration::from_secs(5)).await);
    let other = admin::create_tenant(&h.server.state.db, "Other", h.clock.now_ms())
        .await
        .unwrap();
    let receiver = Receiver::start().await;
    let r = h
        .create_session_as(
            &other.key.api_key,
            json!({"action": "Smile", "webhook_url": receiver.url}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let s: Value = r.json().await.unwrap();
    assert_eq!(cancel(&s).await.unwrap().status(), 200);
    assert!(
        receiver.wait_for(1, Duration::from_secs(3)).await,
        "another tenant's webhook waited behind a hanging receiver"
    );
    assert_eq!(
        hanging.count(),
        webhooks::PER_TENANT_DELIVERIES,
        "one tenant held more than its share of delivery slots"
    );
    receiver.stop();
    hanging.stop();
    h.server.shutdown().await;
}

/// Guessing tokens and credentials: 2000 guesses went through in 0.4 s. Failed guesses are
/// now counted per client and per target; past the limit every guess, right or wrong, is
/// refused without being looked at.
async fn throttled_guesses(backend: Backend) {
    let h = Harness::start_with(backend, |c| {
        c.failed_guesses_per_client = 5;
        c.failed_guesses_per_target = 8;
        c.trust_forwarded_for = true;
    })
    .await;
    let s = h.create_session(json!({"action": "Smile"})).await;
    let id = s["session_id"].as_str().unwrap();
    let result = |token: &str, client: &str| {
        h.http
            .get(h.url(&format!("/v1/sessions/{id}/result")))
            .bearer_auth(token)
            .header("x-forwarded-for", client)
            .send()
    };
    for _ in 0..5 {
        let r = result("rt_guess", "198.51.100.7").await.unwrap();
        assert_eq!(r.status(), 404);
    }
    let right = s["result_token"].as_str().unwrap();
    let r = result(right, "198.51.100.7").await.unwrap();
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(code(r).await, (429, "too_many_failures".into()));
    // Another client is not affected, until the session itself has seen too many guesses.
    assert_eq!(result(right, "198.51.100.8").await.unwrap().status(), 200);
    for n in 0..3 {
        let r = result("rt_guess", &format!("203.0.113.{n}")).await.unwrap();
        assert_eq!(r.status(), 404);
    }
    let r = result(right, "198.51.100.9").await.unwrap();
    assert_eq!(code(r).await, (429, "too_many_failures".into()));
    // A minute later it answers again.
    h.clock.advance(Duration::from_secs(61));
    assert_eq!(result(right, "198.51.100.7").await.unwrap().status(), 200);

    // Submission tokens and OAuth client secrets alike.
    for _ in 0..5 {
        let r = h
            .http
            .post(h.url("/v1/submissions/cancel"))
            .bearer_auth("st_guess")
            .header("x-forwarded-for", "192.0.2.1")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    let r = h
        .http
        .post(h.url("/v1/submissions/cancel"))
        .bearer_auth(s["submission_token"].as_str().unwrap())
        .header("x-forwarded-for", "192.0.2.1")
        .send()
        .await
        .unwrap();
    assert_eq!(code(r).await, (429, "too_many_failures".into()));
    let oauth = |secret: &str| {
        h.http
            .post(h.url("/oauth/token"))
            .header("x-forwarded-for", "192.0.2.2")
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", h.tenant.key.key_id.as_str()),
                ("client_secret", secret),
            ])
            .send()
    };
    for _ in 0..5 {
        assert_eq!(oauth("lk_wrong").await.unwrap().status(), 401);
    }
    let r = oauth(h.api_key()).await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "temporarily_unavailable"
    );
    h.server.shutdown().await;
}

/// Cool-down bypass: a fresh, self-made device key used to reset the failure limit. Failures
/// now also count against the integrator's user reference and the client address.
async fn cooldown_bypass(backend: Backend) {
    let h = Harness::start_with(backend, |c| {
        c.device_failure_limit = 1;
        c.client_failure_limit = Some(2);
        c.trust_forwarded_for = true;
    })
    .await;
    let attempt = |options: Value, client: &'static str| {
        let h = &h;
        async move {
            let s = h.create_session(options).await;
            let r = h
                .http
                .post(h.url("/v1/submissions"))
                .bearer_auth(s["submission_token"].as_str().unwrap())
                .header("x-forwarded-for", client)
                .multipart(faceless_upload(&s, &device_key()).form())
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            if status == 202 {
                let job: Value = r.json().await.unwrap();
                h.wait_job(job["job_id"].as_str().unwrap()).await;
            }
            status
        }
    };
    let alice = json!({"action": "Smile", "user_reference": "alice"});
    assert_eq!(attempt(alice.clone(), "198.51.100.1").await, 202);
    // A new key, another address, the same user: still cooling down.
    assert_eq!(attempt(alice, "198.51.100.2").await, 429);
    // New keys and no user reference from one address: its own, higher limit.
    let anon = json!({"action": "Smile"});
    assert_eq!(attempt(anon.clone(), "198.51.100.1").await, 202);
    assert_eq!(attempt(anon.clone(), "198.51.100.1").await, 429);
    assert_eq!(attempt(anon, "198.51.100.3").await, 202);
    h.server.shutdown().await;
}

support::on_every_backend!(
    a_signed_request_is_accepted_once => hmac_replay,
    an_idempotency_key_gives_the_same_session => idempotent_creation,
    webhooks_never_reach_internal_addresses => webhook_ssrf,
    the_device_never_learns_its_verdict => verdict_stays_with_the_integrator,
    results_are_not_cached_and_errors_are_json => headers_and_errors,
    slow_and_idle_clients_are_cut_off => slow_clients,
    connections_past_the_limit_are_shed => connection_limit,
    a_hanging_receiver_cannot_starve_other_tenants => webhook_fairness,
    failed_guesses_are_throttled => throttled_guesses,
    a_new_device_key_does_not_reset_the_cool_down => cooldown_bypass,
    a_job_that_crashes_its_instance_is_failed_not_retried_forever => poison_job,
);
