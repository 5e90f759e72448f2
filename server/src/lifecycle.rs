//! The biometric data lifecycle. Face images are biometric data (GDPR art. 9, BIPA, LGPD),
//! so an integrator must be able to promise how long they live:
//!
//! - **Retention**: a decided session's images (frames, light mosaic, photo) are deleted
//!   `retention_hours` after its verdict (per tenant; the server's default otherwise). The
//!   verdict, the manifest with every frame's SHA-256 and the device's signature stay, so a
//!   signed verdict can still be checked against the evidence it names.
//! - **Erasure**: `DELETE /v1/sessions/{id}` removes images, manifest, options and verdict at
//!   once, ends a queued or running job (a worker that finishes later stores nothing), and
//!   leaves an `erased` answer for the result and a `session.erased` webhook.
//! - **Encryption at rest** of every image: [`crate::at_rest`].
//! - **Audit trail**: every read of a session, its result or its photo, every erasure and
//!   every retention deletion is recorded with who (API key id or result token) and from where.

use std::time::Duration;

use liveness_protocol::{ResultBody, ResultMessage, ResultStatus, SessionOptions};
use tokio::sync::watch;

use crate::at_rest::KeyRing;
use crate::clock::Clock;
use crate::db::Db;
use crate::error::ApiError;
use crate::server::AppState;
use crate::store::{AuditEvent, Erasure};
use crate::tokens::random_token;
use crate::worker::{SESSION_ERASED, event_webhook};

/// Who read or changed a session's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    ApiKey(String),
    ResultToken,
    Retention,
}

impl Actor {
    fn as_string(&self) -> String {
        match self {
            Self::ApiKey(id) => format!("key:{id}"),
            Self::ResultToken => "result_token".into(),
            Self::Retention => "system:retention".into(),
        }
    }
}

pub fn audit_event(
    tenant_id: &str,
    session_id: &str,
    action: &str,
    actor: &Actor,
    client: Option<&str>,
    at: i64,
) -> Result<AuditEvent, ApiError> {
    Ok(AuditEvent {
        id: random_token("aud_", 12)?,
        tenant_id: tenant_id.to_owned(),
        session_id: session_id.to_owned(),
        action: action.to_owned(),
        actor: actor.as_string(),
        client: client.map(str::to_owned),
        at,
    })
}

/// Records a read before its answer leaves: a read the trail cannot record is refused.
pub async fn record_read(
    app: &AppState,
    tenant_id: &str,
    session_id: &str,
    action: &str,
    actor: &Actor,
    client: &str,
) -> Result<(), ApiError> {
    let event = audit_event(
        tenant_id,
        session_id,
        action,
        actor,
        Some(client),
        app.clock.now_ms(),
    )?;
    app.db.audit(&event).await?;
    Ok(())
}

/// The answer an erased session's result gives.
pub fn erased_result(session_id: &str) -> ResultBody {
    let mut body = ResultBody::pending(session_id).with_message(ResultMessage::Erased);
    body.status = ResultStatus::Erased;
    body
}

/// Erases `session_id` of `tenant_id` (see the module doc). Idempotent.
pub async fn erase(
    app: &AppState,
    tenant_id: &str,
    session_id: &str,
    actor: &Actor,
    client: &str,
) -> Result<Erasure, ApiError> {
    let Some(session) = app
        .db
        .session(session_id)
        .await?
        .filter(|s| s.tenant_id == tenant_id)
    else {
        return Ok(Erasure::NotFound);
    };
    if let Some(at) = session.erased_at {
        return Ok(Erasure::AlreadyErased { at });
    }
    let now = app.clock.now_ms();
    let body = erased_result(session_id);
    let result_json =
        serde_json::to_string(&body).map_err(|e| ApiError::internal("erased result", e))?;
    // The webhook goes where the session's own webhooks went; nothing else of the options
    // (relay state, user reference) survives the erasure, not even in this message.
    let options = SessionOptions::from_json(session.options_json.as_bytes()).unwrap_or_default();
    let delivery = event_webhook(&options, tenant_id, SESSION_ERASED, &body, now)?;
    let audit = audit_event(tenant_id, session_id, "erased", actor, Some(client), now)?;
    let erasure = app
        .db
        .erase_session(
            tenant_id,
            session_id,
            &result_json,
            delivery.as_ref(),
            &audit,
        )
        .await?;
    if matches!(erasure, Erasure::Erased { .. }) && delivery.is_some() {
        app.deliveries_queued.notify_one();
    }
    Ok(erasure)
}

/// One pass of the retention sweep: deletes the images of every session past its
/// tenant's retention. Returns how many sessions lost their images.
pub async fn sweep_retention_once(app: &AppState) -> Result<usize, ApiError> {
    let default_ms = app.config.evidence_retention.as_millis() as i64;
    let mut deleted = 0;
    loop {
        let now = app.clock.now_ms();
        let due = app.db.retention_due(now, default_ms, 100).await?;
        let batch = due.len();
        for (session_id, tenant_id) in due {
            let audit = audit_event(
                &tenant_id,
                &session_id,
                "evidence_expired",
                &Actor::Retention,
                None,
                now,
            )?;
            if app.db.expire_evidence(&audit).await? {
                deleted += 1;
            }
        }
        if batch < 100 {
            return Ok(deleted);
        }
    }
}

pub async fn sweep_retention(app: AppState, mut stopped: watch::Receiver<bool>) {
    loop {
        match sweep_retention_once(&app).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(sessions = n, "retention: images deleted"),
            Err(e) => tracing::warn!(error = %e.message, "retention sweep"),
        }
        // Objects whose deletion failed when it was due (the store was unreachable).
        match app.db.delete_orphaned_objects(500).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(objects = n, "object store: deferred deletions done"),
            Err(e) => tracing::warn!(error = %e, "object deletion sweep"),
        }
        tokio::select! {
            _ = stopped.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(app.config.retention_sweep_interval) => {}
        }
    }
}

/// What [`reseal`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Resealed {
    /// Rows now sealed with the current key.
    pub resealed: u64,
    /// Rows changed by someone else meanwhile (erased, or resealed by another run).
    pub skipped: u64,
}

/// Re-seals every stored image not sealed with the ring's current key (older keys, or
/// rows from before encryption) — `liveness-server admin data-keys rotate`. Every key those
/// rows name must still be in the ring. Safe while servers run: each row is replaced only if
/// it is still as it was read.
pub async fn reseal(db: &Db, keys: &KeyRing) -> Result<Resealed, ApiError> {
    let mut done = Resealed::default();
    let current = keys.current_id().to_owned();
    loop {
        let rows = db.frames_not_sealed_with(&current, 200).await?;
        if rows.is_empty() {
            return Ok(done);
        }
        let mut progressed = false;
        for frame in rows {
            let (session_id, idx) = (&frame.session_id, frame.idx);
            let plain = keys
                .open(session_id, idx, frame.kid.as_deref(), &frame.sealed)
                .map_err(|e| ApiError::internal("reseal", e))?;
            let (new_kid, sealed) = keys
                .seal(session_id, idx, &plain)
                .map_err(|e| ApiError::internal("reseal", e))?;
            let replaced = if frame.object_key.is_some() {
                db.reseal_object_frame(&frame, &new_kid, sealed, Clock::default().now_ms())
                    .await?
            } else {
                db.reseal_frame(session_id, idx, frame.kid.as_deref(), &new_kid, &sealed)
                    .await?
            };
            if replaced {
                done.resealed += 1;
                progressed = true;
            } else {
                done.skipped += 1;
            }
        }
        if !progressed {
            // Every row of the batch changed under us; the next read sees their new state,
            // but do not spin on a table another process keeps rewriting.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
