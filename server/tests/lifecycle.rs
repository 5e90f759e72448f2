//! The biometric data lifecycle, on SQLite and PostgreSQL: images sealed at rest, deleted
//! at the end of their tenant's retention (a controlled clock), erased on request — also
//! while the session's job runs — a rotated data key still opening old rows, and the audit
//! trail of every read.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use liveness_server::at_rest::{KeyRing, new_key_line};
use liveness_server::{Server, admin};
use serde_json::{Value, json};
use sqlx::Row;
use support::{Backend, Harness, Receiver, device_key, faceless_upload, test_config};

fn fast_sweeps(c: &mut liveness_server::ServerConfig) {
    c.retention_sweep_interval = Duration::from_millis(50);
}

async fn accepted(h: &Harness, created: &Value) -> String {
    let upload = faceless_upload(created, &device_key());
    let r = h
        .submit(created["submission_token"].as_str().unwrap(), &upload)
        .await;
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
    r.json::<Value>().await.unwrap()["job_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn photo(h: &Harness, created: &Value) -> reqwest::Response {
    h.get_as(
        &format!(
            "/v1/sessions/{}/photo",
            created["session_id"].as_str().unwrap()
        ),
        created["result_token"].as_str().unwrap(),
    )
    .await
}

async fn frames_of(h: &Harness, session_id: &str) -> Vec<(Option<String>, Vec<u8>)> {
    sqlx::query("SELECT key_id, bytes FROM evidence_frames WHERE session_id = $1 ORDER BY idx")
        .bind(session_id)
        .fetch_all(&h.server.state.db.pool)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.try_get("key_id").unwrap(), r.try_get("bytes").unwrap()))
        .collect()
}

async fn audit(h: &Harness, session_id: &str) -> Vec<(String, String)> {
    let r = h
        .get_as(&format!("/v1/audit?session_id={session_id}"), h.api_key())
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e["session_id"], session_id);
            (
                e["action"].as_str().unwrap().to_owned(),
                e["actor"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The session's result as its token holder sees it: the error code after an erasure.
async fn erased_result(h: &Harness, created: &Value) -> String {
    let r = h
        .get_as(
            &format!(
                "/v1/sessions/{}/result",
                created["session_id"].as_str().unwrap()
            ),
            created["result_token"].as_str().unwrap(),
        )
        .await;
    match support::code(r).await {
        (410, code) if code == "session_erased" => "erased".into(),
        (status, code) => format!("{status} {code}"),
    }
}

async fn wait_until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    for _ in 0..200 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} did not happen in 10 s");
}

/// Images are stored sealed, served opened, and deleted at the end of the tenant's
/// retention (or the default) — the verdict, its hashes and the signature stay.
async fn retention(backend: Backend) {
    let h = Harness::start_with(backend, fast_sweeps).await;
    let db = &h.server.state.db;
    let short = admin::create_tenant(db, "Short", h.clock.now_ms())
        .await
        .unwrap();
    admin::set_retention(db, &short.tenant_id, Some(1))
        .await
        .unwrap();
    assert!(
        admin::set_retention(db, &short.tenant_id, Some(100_000))
            .await
            .is_err()
    );

    let options = json!({"action": "Smile", "light_challenge": false});
    let default_kept = h.create_session(options.clone()).await;
    let r = h
        .create_session_as(&short.key.api_key, options.clone())
        .await;
    assert_eq!(r.status(), 201);
    let short_kept: Value = r.json().await.unwrap();
    for created in [&default_kept, &short_kept] {
        let job = accepted(&h, created).await;
        wait_until("the verdict", async || {
            db.job(&job).await.unwrap().unwrap().status == "done"
        })
        .await;
    }

    // At rest every image is sealed under the ring's key; the photo is served opened.
    let upload = faceless_upload(&default_kept, &device_key());
    let stored = frames_of(&h, default_kept["session_id"].as_str().unwrap()).await;
    assert_eq!(stored.len(), upload.frames.len());
    let kid = h.server.state.config.data_keys.current_id().to_owned();
    for ((key_id, bytes), plain) in stored.iter().zip(&upload.frames) {
        assert_eq!(key_id.as_deref(), Some(kid.as_str()));
        assert_ne!(bytes, plain);
        assert!(!bytes.windows(4).any(|w| w == [0xff, 0xd8, 0xff, 0xe0]));
    }
    let r = photo(&h, &default_kept).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.bytes().await.unwrap().as_ref(),
        upload.frames[0].as_slice()
    );

    let view = |created: &Value| {
        let id = created["session_id"].as_str().unwrap().to_owned();
        let key = if created == &short_kept {
            short.key.api_key.clone()
        } else {
            h.api_key().to_owned()
        };
        let http = h.http.clone();
        let url = h.url(&format!("/v1/sessions/{id}"));
        async move {
            let r = http.get(url).bearer_auth(key).send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()
        }
    };
    let before = view(&short_kept).await;
    let decided = h.clock.now_ms() / 1000;
    let due = before["evidence_expires_at"].as_i64().unwrap();
    assert!((due - decided - 3600).abs() <= 5, "{before}");

    // One hour on: only the one-hour tenant's images go.
    h.clock.advance(Duration::from_secs(3601));
    let short_id = short_kept["session_id"].as_str().unwrap().to_owned();
    wait_until("the one-hour retention", async || {
        frames_of(&h, &short_id).await.is_empty()
    })
    .await;
    let r = photo(&h, &short_kept).await;
    assert_eq!(support::code(r).await, (410, "evidence_deleted".into()));
    let after = view(&short_kept).await;
    assert!(after["evidence_deleted_at"].is_i64(), "{after}");
    assert!(after["evidence_expires_at"].is_null(), "{after}");
    // The verdict and what it was computed from are still checkable.
    let result = h.result(&short_kept).await;
    assert_ne!(result["status"], "pending", "{result}");
    assert!(result["verdict"]["signature"].is_string(), "{result}");
    assert!(result["verdict"]["photo_sha256"].is_string(), "{result}");
    let manifests: i64 = sqlx::query("SELECT COUNT(*) AS n FROM evidence WHERE session_id = $1")
        .bind(&short_id)
        .fetch_one(&db.pool)
        .await
        .unwrap()
        .try_get("n")
        .unwrap();
    assert_eq!(manifests, 1);
    assert_eq!(photo(&h, &default_kept).await.status(), 200);

    // The default (24 h) goes a day after its verdict.
    h.clock.advance(Duration::from_secs(23 * 3600));
    let default_id = default_kept["session_id"].as_str().unwrap().to_owned();
    wait_until("the default retention", async || {
        frames_of(&h, &default_id).await.is_empty()
    })
    .await;
    let events = audit(&h, &default_id).await;
    assert!(
        events.contains(&("evidence_expired".into(), "system:retention".into())),
        "{events:?}"
    );
    assert!(
        events.contains(&("photo_read".into(), "result_token".into())),
        "{events:?}"
    );
    h.server.shutdown().await;
}

/// `DELETE /v1/sessions/{id}`: everything personal goes at once, results and webhooks say
/// erased, a repeat answers the same, another tenant cannot erase it.
async fn erasure(backend: Backend) {
    let h = Harness::start(backend).await;
    let receiver = Receiver::start().await;
    let created = h
        .create_session(json!({
            "action": "Smile",
            "light_challenge": false,
            "webhook_url": receiver.url,
            "relay_state": "order-7",
            "user_reference": "user-42",
        }))
        .await;
    let id = created["session_id"].as_str().unwrap().to_owned();
    let job = accepted(&h, &created).await;
    h.wait_job(&job).await;
    assert!(receiver.wait_for(1, Duration::from_secs(10)).await);
    assert_eq!(photo(&h, &created).await.status(), 200);

    let other = admin::create_tenant(&h.server.state.db, "Other", h.clock.now_ms())
        .await
        .unwrap();
    let r = h.erase_as(&id, &other.key.api_key).await;
    assert_eq!(support::code(r).await, (404, "not_found".into()));
    assert_eq!(photo(&h, &created).await.status(), 200);

    let r = h.erase_as(&id, h.api_key()).await;
    assert_eq!(r.status(), 200);
    let first: Value = r.json().await.unwrap();
    assert_eq!(first["status"], "erased");
    // (Moving the clock past the webhook lease while the erased webhook is in flight would
    // deliver it twice: deliveries are at least once.)
    assert!(receiver.wait_for(2, Duration::from_secs(10)).await);
    h.clock.advance(Duration::from_secs(5));
    let again: Value = h.erase_as(&id, h.api_key()).await.json().await.unwrap();
    assert_eq!(again, first);

    // Everything under the session's path is gone (410, not an unknown 404).
    let token = created["result_token"].as_str().unwrap();
    for (path, auth) in [
        (format!("/v1/sessions/{id}"), h.api_key()),
        (format!("/v1/sessions/{id}/webhooks"), h.api_key()),
        (format!("/v1/sessions/{id}/result"), token),
        (format!("/v1/sessions/{id}/photo"), token),
    ] {
        let r = h.get_as(&path, auth).await;
        assert_eq!(
            support::code(r).await,
            (410, "session_erased".into()),
            "{path}"
        );
    }
    // The job, read by the integrator, says erased and nothing else.
    let r = h.get_as(&format!("/v1/jobs/{job}"), h.api_key()).await;
    let view: Value = r.json().await.unwrap();
    let result = &view["result"];
    assert_eq!(result["status"], "erased", "{view}");
    assert_eq!(result["message_code"], "erased", "{view}");
    for gone in ["verdict", "live", "score", "relay_state", "job_id"] {
        assert!(result[gone].is_null(), "{gone}: {view}");
    }

    // Nothing personal is left in the database.
    let pool = &h.server.state.db.pool;
    let row = sqlx::query(
        "SELECT status, options_json, verdict, device_key, cooldown_subjects FROM sessions WHERE id = $1",
    )
    .bind(&id)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(row.try_get::<String, _>("status").unwrap(), "erased");
    assert_eq!(row.try_get::<String, _>("options_json").unwrap(), "{}");
    for column in ["verdict", "device_key", "cooldown_subjects"] {
        assert!(row.try_get::<Option<String>, _>(column).unwrap().is_none());
    }
    assert_eq!(h.stored(&id).await.1, 0);
    for table in ["evidence", "webhook_deliveries"] {
        let leftover: i64 = sqlx::query(&format!(
            "SELECT COUNT(*) AS n FROM {table} WHERE session_id = $1 AND {}",
            if table == "evidence" {
                "1 = 1"
            } else {
                "event = 'session.completed' AND LENGTH(body) > 2"
            }
        ))
        .bind(&id)
        .fetch_one(pool)
        .await
        .unwrap()
        .try_get("n")
        .unwrap();
        assert_eq!(leftover, 0, "{table}");
    }

    // The integrator hears of it once, without the relay state.
    assert!(receiver.wait_for(2, Duration::from_secs(10)).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let bodies: Vec<Value> = receiver
        .requests
        .lock()
        .unwrap()
        .iter()
        .map(|(_, b)| serde_json::from_slice(b).unwrap())
        .collect();
    let events: Vec<&Value> = bodies.iter().map(|b| &b["event"]).collect();
    assert_eq!(bodies.len(), 2, "{events:?}");
    assert_eq!(bodies[1]["event"], "session.erased");
    assert_eq!(bodies[1]["data"]["status"], "erased");
    assert!(bodies[1]["data"]["relay_state"].is_null());

    let events = audit(&h, &id).await;
    let key = format!("key:{}", h.tenant.key.key_id);
    assert_eq!(
        events
            .iter()
            .filter(|(a, _)| a == "erased")
            .collect::<Vec<_>>(),
        vec![&("erased".to_owned(), key.clone())],
        "{events:?}"
    );
    for read in ["result_read", "photo_read"] {
        assert!(events.iter().any(|(a, _)| a == read), "{read}: {events:?}");
    }
    let r = h.erase_as("ses_unknown", h.api_key()).await;
    assert_eq!(r.status(), 404);
    receiver.stop();
    h.server.shutdown().await;
}

/// Erasure while a worker holds the job: the worker's verdict is never stored, on either
/// side of its evidence read.
async fn erasure_racing_a_job(backend: Backend) {
    let h = Harness::start_with(backend, |c| c.workers = 0).await;
    let state = &h.server.state;
    let db = &state.db;
    let options = json!({"action": "Smile", "light_challenge": false});

    // Erased after the worker read the evidence, before it stores the verdict.
    let created = h.create_session(options.clone()).await;
    let id = created["session_id"].as_str().unwrap().to_owned();
    let job_id = accepted(&h, &created).await;
    let job = db
        .claim_job(h.clock.now_ms(), 60_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.id, job_id);
    let (_, frames) = db
        .evidence(&id, &state.config.data_keys)
        .await
        .unwrap()
        .unwrap();
    assert!(!frames.is_empty());
    let r = h.erase_as(&id, h.api_key()).await;
    assert_eq!(r.status(), 200);
    let stored = db
        .finish_job(
            &job.id,
            &id,
            "done",
            None,
            "live",
            r#"{"session_id":"x","status":"success","live":true,"reasons":[]}"#,
            None,
            &[],
            h.clock.now_ms(),
        )
        .await
        .unwrap();
    assert!(!stored, "a verdict was stored for an erased session");
    assert_eq!(erased_result(&h, &created).await, "erased");
    assert_eq!(db.job(&job_id).await.unwrap().unwrap().status, "erased");

    // Erased after the claim, before the worker reads anything: the real worker path.
    let created = h.create_session(options).await;
    let id = created["session_id"].as_str().unwrap().to_owned();
    let job_id = accepted(&h, &created).await;
    let job = db
        .claim_job(h.clock.now_ms(), 60_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.id, job_id);
    let r = h.erase_as(&id, h.api_key()).await;
    assert_eq!(r.status(), 200);
    liveness_server::worker::run_claimed(state, job).await;
    assert_eq!(erased_result(&h, &created).await, "erased");
    let job = db.job(&job_id).await.unwrap().unwrap();
    assert_eq!(job.status, "erased");
    // The device, polling its job, sees it done and learns nothing more.
    let r = h
        .get_as(
            &format!("/v1/jobs/{job_id}"),
            created["submission_token"].as_str().unwrap(),
        )
        .await;
    let view: Value = r.json().await.unwrap();
    assert_eq!(view["status"], "done", "{view}");
    assert!(view["result"].is_null());

    // A worker instance started afterwards finds nothing to do.
    let mut config = test_config(state.config.database_url.clone());
    config.data_keys = state.config.data_keys.clone();
    let worker = Server::start_with_clock(config, h.clock.clone())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(db.claim_job(h.clock.now_ms(), 1).await.unwrap().is_none());
    assert_eq!(erased_result(&h, &created).await, "erased");
    worker.shutdown().await;
    h.server.shutdown().await;
}

/// Rotating the data key: rows sealed with the old key still open while it is in the ring,
/// `reseal` moves them (and rows from before encryption) to the new key, after which the old
/// key can go.
async fn key_rotation(backend: Backend) {
    let old = new_key_line().unwrap();
    let new = new_key_line().unwrap();
    let ring = |lines: &[&str]| KeyRing::parse(&lines.join("\n")).unwrap();
    let h = Harness::start_with(backend, |c| {
        c.workers = 0;
        c.data_keys = ring(&[&old]);
    })
    .await;
    let options = json!({"action": "Smile", "light_challenge": false});
    let before = h.create_session(options.clone()).await;
    accepted(&h, &before).await;
    let before_id = before["session_id"].as_str().unwrap().to_owned();
    let old_kid = h.server.state.config.data_keys.current_id().to_owned();
    let url = h.server.state.config.database_url.clone();
    let clock = h.clock.clone();
    let harness_dir = h.dir;
    let tenant = h.tenant;
    h.server.shutdown().await;

    // Restarted with the new key first and the old one still listed.
    let start = async |keys: KeyRing| {
        let mut config = test_config(url.clone());
        config.workers = 0;
        config.data_keys = keys;
        Server::start_with_clock(config, clock.clone())
            .await
            .unwrap()
    };
    let server = start(ring(&[&new, &old])).await;
    let h = Harness {
        base: server.url(),
        server,
        clock: clock.clone(),
        http: reqwest::Client::new(),
        tenant,
        backend,
        dir: harness_dir,
    };
    let upload = faceless_upload(&before, &device_key());
    let r = photo(&h, &before).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.bytes().await.unwrap().as_ref(),
        upload.frames[0].as_slice()
    );
    let after = h.create_session(options).await;
    accepted(&h, &after).await;
    let after_id = after["session_id"].as_str().unwrap().to_owned();
    let new_kid = h.server.state.config.data_keys.current_id().to_owned();
    assert_ne!(new_kid, old_kid);
    assert!(
        frames_of(&h, &before_id)
            .await
            .iter()
            .all(|(k, _)| k.as_deref() == Some(old_kid.as_str()))
    );
    assert!(
        frames_of(&h, &after_id)
            .await
            .iter()
            .all(|(k, _)| k.as_deref() == Some(new_kid.as_str()))
    );
    // A row from before encryption at rest (key id NULL, plain bytes) is served as it is.
    let db = &h.server.state.db;
    sqlx::query(
        "UPDATE evidence_frames SET key_id = NULL, bytes = $2 WHERE session_id = $1 AND idx = 1",
    )
    .bind(&after_id)
    .bind(upload.frames[1].as_slice())
    .execute(&db.pool)
    .await
    .unwrap();

    // Without the old key, the reseal refuses rather than lose rows.
    assert!(
        liveness_server::lifecycle::reseal(db, &ring(&[&new]))
            .await
            .is_err()
    );
    // It may have re-sealed the rows it could open; the old key's rows are untouched.
    assert!(
        frames_of(&h, &before_id)
            .await
            .iter()
            .all(|(k, _)| k.as_deref() == Some(old_kid.as_str()))
    );
    let not_current: i64 = db
        .frames_per_key()
        .await
        .unwrap()
        .iter()
        .filter(|(k, _)| k.as_deref() != Some(new_kid.as_str()))
        .map(|(_, n)| n)
        .sum();
    assert!(not_current >= 3);
    let done = liveness_server::lifecycle::reseal(db, &ring(&[&new, &old]))
        .await
        .unwrap();
    assert_eq!(done.resealed, not_current as u64);
    let per_key = db.frames_per_key().await.unwrap();
    assert_eq!(per_key.len(), 1, "{per_key:?}");
    assert_eq!(per_key[0].0.as_deref(), Some(new_kid.as_str()));
    h.server.shutdown().await;

    // The old key is gone from the ring; every image still opens.
    let server = start(ring(&[&new])).await;
    let (_, frames) = server
        .state
        .db
        .evidence(&after_id, &server.state.config.data_keys)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(frames[1], upload.frames[1]);
    let (_, frames) = server
        .state
        .db
        .evidence(&before_id, &server.state.config.data_keys)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(frames, upload.frames);
    server.shutdown().await;
}

support::on_every_backend!(
    images_are_sealed_and_deleted_after_their_retention => retention,
    an_erased_session_keeps_nothing_personal => erasure,
    erasure_wins_over_a_running_job => erasure_racing_a_job,
    a_rotated_data_key_still_opens_old_rows => key_rotation,
);
