//! Verdict keys: a verdict verifies offline from the published JWKS before and after a key
//! rotation; two rotations later its key is retired and it no longer does.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use liveness_protocol::{ProtocolError, SignedVerdict};
use liveness_server::admin;
use serde_json::{Value, json};
use support::{Harness, backends, device_key, faceless_upload};

async fn verdict(h: &Harness) -> SignedVerdict {
    let s = h.create_session(json!({"action": "Smile"})).await;
    let r = h
        .submit(
            s["submission_token"].as_str().unwrap(),
            &faceless_upload(&s, &device_key()),
        )
        .await;
    let job: Value = r.json().await.unwrap();
    let done = h.wait_job(job["job_id"].as_str().unwrap()).await;
    serde_json::from_value(done["result"]["verdict"].clone()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verdicts_verify_offline_across_a_rotation() {
    for backend in backends() {
        let h = Harness::start(backend).await;
        let db = &h.server.state.db;
        let old = verdict(&h).await;
        let before = h.jwks().await;
        assert_eq!(before.keys.len(), 1);
        before.verify(&old).unwrap();

        let kid = admin::rotate_signing_key(db, h.clock.now_ms())
            .await
            .unwrap();
        let new = verdict(&h).await;
        assert_eq!(new.kid, kid);
        assert_ne!(new.kid, old.kid);
        let after = h.jwks().await;
        assert_eq!(after.keys.len(), 2);
        after.verify(&old).unwrap();
        after.verify(&new).unwrap();
        // The old key set does not know the new key.
        assert!(matches!(
            before.verify(&new),
            Err(ProtocolError::UnknownKeyId { .. })
        ));

        admin::rotate_signing_key(db, h.clock.now_ms())
            .await
            .unwrap();
        let later = h.jwks().await;
        assert_eq!(later.keys.len(), 2);
        later.verify(&new).unwrap();
        assert!(matches!(
            later.verify(&old),
            Err(ProtocolError::UnknownKeyId { .. })
        ));
        let listed = admin::signing_keys(db).await.unwrap();
        let statuses: Vec<&str> = listed.iter().map(|k| k.status.as_str()).collect();
        assert_eq!(statuses, ["current", "previous", "retired"]);
        h.server.shutdown().await;
    }
}
