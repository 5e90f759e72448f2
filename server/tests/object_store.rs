//! Evidence in S3-compatible object storage, against a real S3 server on loopback (moto in
//! server mode, started by `scripts/test.sh`; `LIVENESS_TEST_S3_URL`), on SQLite and
//! PostgreSQL: the sealed images go to `<tenant>/<session>/<job>/…` and are read back by the
//! worker and the photo route; retention and erasure delete them; a store that fails refuses
//! the upload with a retryable 503 and stores nothing; a deletion that fails waits in the
//! outbox; a rotated data key re-seals objects under new keys; a server whose bucket is
//! missing does not start.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use liveness_server::at_rest::{KeyRing, new_key_line};
use liveness_server::objects::{ObjectError, ObjectStoreConfig, Objects};
use liveness_server::{Server, ServerConfig};
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
use serde_json::{Value, json};
use sqlx::Row;
use support::{Backend, Harness, device_key, faceless_upload, test_config};

/// The S3 server's URL; `None` (test skipped) unless CI asked for it.
fn s3_url() -> Option<String> {
    match std::env::var("LIVENESS_TEST_S3_URL") {
        Ok(url) => Some(url),
        Err(_) if std::env::var("LIVENESS_REQUIRE_S3").as_deref() == Ok("1") => {
            panic!("LIVENESS_REQUIRE_S3=1 but LIVENESS_TEST_S3_URL is not set")
        }
        Err(_) => {
            eprintln!("note: LIVENESS_TEST_S3_URL is not set; object-storage tests are skipped");
            None
        }
    }
}

fn store_config(url: &str, bucket: &str) -> ObjectStoreConfig {
    ObjectStoreConfig {
        endpoint: url.parse().unwrap(),
        bucket: bucket.into(),
        region: "us-east-1".into(),
        access_key: "test-key".into(),
        secret_key: "test-secret".into(),
        virtual_hosted: false,
        prefix: "evidence/".into(),
        timeout: Duration::from_secs(10),
    }
}

/// Creates (`PUT`) or removes (`DELETE`) a bucket, as an operator's tooling would.
async fn bucket_op(config: &ObjectStoreConfig, create: bool) {
    let bucket = Bucket::new(
        config.endpoint.clone(),
        UrlStyle::Path,
        config.bucket.clone(),
        config.region.clone(),
    )
    .unwrap();
    let creds = Credentials::new(&config.access_key, &config.secret_key);
    let http = reqwest::Client::new();
    let r = if create {
        let url = bucket.create_bucket(&creds).sign(Duration::from_secs(60));
        http.put(url)
            .header("content-length", "0")
            .send()
            .await
            .unwrap()
    } else {
        let url = bucket.delete_bucket(&creds).sign(Duration::from_secs(60));
        http.delete(url).send().await.unwrap()
    };
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
}

/// A fresh bucket of its own for one test.
async fn new_bucket(url: &str) -> ObjectStoreConfig {
    let mut r = [0u8; 6];
    getrandom::fill(&mut r).unwrap();
    let config = store_config(url, &format!("liveness-{}", hex::encode(r)));
    bucket_op(&config, true).await;
    config
}

/// A server keeping evidence in `store`, sweeping retention and deferred deletions every
/// `sweep`.
async fn start(backend: Backend, store: &ObjectStoreConfig, sweep: Duration) -> Harness {
    let store = store.clone();
    Harness::start_with(backend, move |c| {
        c.object_store = Some(store);
        c.retention_sweep_interval = sweep;
    })
    .await
}

const FAST: Duration = Duration::from_millis(50);

/// The frame rows of a session: (idx, key id, bytes in the row, object key).
async fn rows(h: &Harness, session_id: &str) -> Vec<(i64, String, Vec<u8>, Option<String>)> {
    sqlx::query(
        "SELECT idx, key_id, bytes, object_key FROM evidence_frames WHERE session_id = $1 ORDER BY idx",
    )
    .bind(session_id)
    .fetch_all(&h.server.state.db.pool)
    .await
    .unwrap()
    .iter()
    .map(|r| {
        (
            r.try_get("idx").unwrap(),
            r.try_get("key_id").unwrap(),
            r.try_get("bytes").unwrap(),
            r.try_get("object_key").unwrap(),
        )
    })
    .collect()
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

async fn all_missing(objects: &Objects, keys: &[String]) -> bool {
    for k in keys {
        match objects.get(k).await {
            Err(ObjectError::Missing(_)) => {}
            _ => return false,
        }
    }
    true
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

fn options() -> Value {
    json!({"action": "Smile", "light_challenge": false})
}

/// Stored in the bucket, sealed, per tenant and session; read back by the worker (a verdict)
/// and the photo route; erasure deletes the objects.
async fn stored_read_and_erased(backend: Backend) {
    let Some(url) = s3_url() else { return };
    let store = new_bucket(&url).await;
    let objects = Objects::new(&store).unwrap();
    let h = start(backend, &store, FAST).await;
    let created = h.create_session(options()).await;
    let session = created["session_id"].as_str().unwrap().to_owned();
    let upload = faceless_upload(&created, &device_key());
    h.submit_and_wait(&created, &upload).await;

    let stored = rows(&h, &session).await;
    assert_eq!(stored.len(), upload.frames.len());
    let folder = format!("evidence/{}/{session}/", h.tenant.tenant_id);
    let mut keys = Vec::new();
    for (idx, kid, bytes, key) in &stored {
        assert!(bytes.is_empty(), "frame {idx} kept in the row too");
        let key = key.clone().expect("an object key");
        assert!(key.starts_with(&folder), "{key} not under {folder}");
        let sealed = objects.get(&key).await.unwrap();
        let plain = &upload.frames[*idx as usize];
        assert!(
            !sealed.starts_with(&[0xFF, 0xD8]),
            "the object is a readable JPEG"
        );
        assert_ne!(&sealed, plain);
        let opened = h
            .server
            .state
            .config
            .data_keys
            .open(&session, *idx, Some(kid), &sealed)
            .unwrap();
        assert_eq!(&opened, plain);
        keys.push(key);
    }
    // The worker read the frames back: a signed verdict, not an internal failure.
    let result = h.result(&created).await;
    assert!(result["verdict"]["signature"].is_string(), "{result}");
    let r = photo(&h, &created).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.bytes().await.unwrap().as_ref(),
        upload.frames[0].as_slice()
    );

    let r = h.erase_as(&session, h.api_key()).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert!(all_missing(&objects, &keys).await, "erasure left objects");
    assert!(rows(&h, &session).await.is_empty());
    assert!(
        h.server
            .state
            .db
            .orphaned_objects()
            .await
            .unwrap()
            .is_empty()
    );
    h.server.shutdown().await;
}

/// Past the retention the objects go with the rows; the verdict stays.
async fn retention_deletes_objects(backend: Backend) {
    let Some(url) = s3_url() else { return };
    let store = new_bucket(&url).await;
    let objects = Objects::new(&store).unwrap();
    let h = start(backend, &store, FAST).await;
    let created = h.create_session(options()).await;
    let session = created["session_id"].as_str().unwrap().to_owned();
    h.submit_and_wait(&created, &faceless_upload(&created, &device_key()))
        .await;
    let keys: Vec<String> = rows(&h, &session)
        .await
        .into_iter()
        .filter_map(|r| r.3)
        .collect();
    assert!(!keys.is_empty());
    h.clock.advance(Duration::from_secs(25 * 3600));
    wait_until("the retention deletion", async || {
        rows(&h, &session).await.is_empty() && all_missing(&objects, &keys).await
    })
    .await;
    let r = photo(&h, &created).await;
    assert_eq!(support::code(r).await, (410, "evidence_deleted".into()));
    assert!(h.result(&created).await["verdict"]["signature"].is_string());
    assert!(
        h.server
            .state
            .db
            .orphaned_objects()
            .await
            .unwrap()
            .is_empty()
    );
    h.server.shutdown().await;
}

/// A store that fails: the upload answers a retryable 503 and nothing is stored, so the
/// device's retry goes through once the store is back; a deletion that fails is kept in the
/// outbox and done by a later pass.
async fn failing_store(backend: Backend) {
    let Some(url) = s3_url() else { return };
    let store = new_bucket(&url).await;
    let h = start(backend, &store, Duration::from_secs(3600)).await;
    let created = h.create_session(options()).await;
    let session = created["session_id"].as_str().unwrap().to_owned();
    let token = created["submission_token"].as_str().unwrap();
    let upload = faceless_upload(&created, &device_key());

    bucket_op(&store, false).await;
    let r = h.submit(token, &upload).await;
    assert_eq!(r.status(), 503);
    assert!(r.headers().get("retry-after").is_some());
    assert_eq!(
        support::code(r).await,
        (503, "evidence_store_unavailable".into())
    );
    assert_eq!(h.stored(&session).await, ("created".into(), 0, 0));

    bucket_op(&store, true).await;
    let r = h.submit(token, &upload).await;
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
    let job: Value = r.json().await.unwrap();
    h.wait_job(job["job_id"].as_str().unwrap()).await;
    let keys: Vec<String> = rows(&h, &session)
        .await
        .into_iter()
        .filter_map(|r| r.3)
        .collect();

    // The images expire while the store is unreachable (this handle points at a closed port).
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let dead = h
        .server
        .state
        .db
        .clone()
        .with_objects(Objects::new(&store_config(&dead_url, &store.bucket)).unwrap());
    let audit = liveness_server::lifecycle::audit_event(
        &h.tenant.tenant_id,
        &session,
        "evidence_expired",
        &liveness_server::lifecycle::Actor::Retention,
        None,
        h.clock.now_ms(),
    )
    .unwrap();
    assert!(dead.expire_evidence(&audit).await.unwrap());
    assert!(rows(&h, &session).await.is_empty());
    let mut waiting = dead.orphaned_objects().await.unwrap();
    waiting.sort();
    let mut expected = keys.clone();
    expected.sort();
    assert_eq!(waiting, expected, "the outbox keeps every undeleted object");
    let objects = Objects::new(&store).unwrap();
    assert!(objects.get(&keys[0]).await.is_ok(), "still in the store");
    // A later pass with the store reachable (what the server's sweep runs) finishes the job.
    let deleted = h
        .server
        .state
        .db
        .delete_orphaned_objects(100)
        .await
        .unwrap();
    assert_eq!(deleted, keys.len());
    assert!(
        h.server
            .state
            .db
            .orphaned_objects()
            .await
            .unwrap()
            .is_empty()
    );
    assert!(all_missing(&objects, &keys).await);
    h.server.shutdown().await;
}

/// `admin data-keys rotate` with objects: each frame is re-sealed into a new object, the row
/// names it and the old object is deleted; everything opens with the new key alone.
async fn key_rotation(backend: Backend) {
    let Some(url) = s3_url() else { return };
    let store = new_bucket(&url).await;
    let objects = Objects::new(&store).unwrap();
    let old = new_key_line().unwrap();
    let new = new_key_line().unwrap();
    let ring = |lines: &[&str]| KeyRing::parse(&lines.join("\n")).unwrap();
    let old_ring = ring(&[&old]);
    let store2 = store.clone();
    let h = Harness::start_with(backend, move |c| {
        c.object_store = Some(store2);
        c.workers = 0;
        c.data_keys = old_ring;
    })
    .await;
    let created = h.create_session(options()).await;
    let session = created["session_id"].as_str().unwrap().to_owned();
    let upload = faceless_upload(&created, &device_key());
    let r = h
        .submit(created["submission_token"].as_str().unwrap(), &upload)
        .await;
    assert_eq!(r.status(), 202);
    let before: Vec<String> = rows(&h, &session)
        .await
        .into_iter()
        .filter_map(|r| r.3)
        .collect();

    let rotated = ring(&[&new, &old]);
    let db = &h.server.state.db;
    let done = liveness_server::lifecycle::reseal(db, &rotated)
        .await
        .unwrap();
    assert_eq!(done.resealed, upload.frames.len() as u64);
    let after = rows(&h, &session).await;
    for (_, kid, _, key) in &after {
        assert_eq!(kid, rotated.current_id());
        assert!(key.as_deref().unwrap().ends_with(rotated.current_id()));
        assert!(!before.contains(key.as_ref().unwrap()));
    }
    assert!(
        all_missing(&objects, &before).await,
        "old copies left behind"
    );
    let (_, frames) = db
        .evidence(&session, &ring(&[&new]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(frames, upload.frames);
    h.server.shutdown().await;
}

/// A misconfigured store stops the server at start, not at the first upload.
#[tokio::test]
async fn a_server_without_its_bucket_does_not_start() {
    let Some(url) = s3_url() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut config: ServerConfig = test_config(support::database_url(Backend::Sqlite, &dir).await);
    config.object_store = Some(store_config(&url, "no-such-bucket-here"));
    let e = Server::start(config).await.expect_err("refused");
    assert!(e.to_string().contains("404"), "{e}");
}

support::on_every_backend!(
    evidence_lives_sealed_in_the_bucket_and_erasure_deletes_it => stored_read_and_erased,
    retention_deletes_the_objects => retention_deletes_objects,
    a_failing_store_refuses_uploads_and_defers_deletions => failing_store,
    a_rotated_data_key_reseals_objects => key_rotation,
);
