//! The biometric data lifecycle: retention of images after the verdict, erasure on the
//! integrator's request, and the audit trail of reads.

use sqlx::Row;

use super::*;
use crate::db::Db;

/// One audited access to a session's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: String,
    pub tenant_id: String,
    pub session_id: String,
    /// `session_read`, `result_read`, `photo_read`, `erased` or `evidence_expired`.
    pub action: String,
    /// `key:<api key id>`, `result_token` or `system:retention`.
    pub actor: String,
    /// The client address, for requests.
    pub client: Option<String>,
    pub at: i64,
}

/// What erasing a session did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Erasure {
    /// Erased now, at this time.
    Erased {
        at: i64,
    },
    /// Erased before, at this time (erasure is idempotent).
    AlreadyErased {
        at: i64,
    },
    NotFound,
}

pub(super) async fn insert_audit(tx: &mut Tx<'_>, e: &AuditEvent) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_events (id, tenant_id, session_id, action, actor, client, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&e.id)
    .bind(&e.tenant_id)
    .bind(&e.session_id)
    .bind(&e.action)
    .bind(&e.actor)
    .bind(&e.client)
    .bind(e.at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn audit_event(row: &AnyRow) -> Result<AuditEvent, sqlx::Error> {
    Ok(AuditEvent {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        session_id: row.try_get("session_id")?,
        action: row.try_get("action")?,
        actor: row.try_get("actor")?,
        client: row.try_get("client")?,
        at: row.try_get("at")?,
    })
}

impl Db {
    pub async fn audit(&self, e: &AuditEvent) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        insert_audit(&mut tx, e).await?;
        tx.commit().await
    }

    /// A tenant's audit trail, newest first, optionally for one session.
    pub async fn audit_events(
        &self,
        tenant_id: &str,
        session_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<AuditEvent>, sqlx::Error> {
        let rows =
            match session_id {
                Some(session) => {
                    sqlx::query(
                        "SELECT * FROM audit_events WHERE tenant_id = $1 AND session_id = $2 \
                     ORDER BY at DESC, id LIMIT $3",
                    )
                    .bind(tenant_id)
                    .bind(session)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?
                }
                None => sqlx::query(
                    "SELECT * FROM audit_events WHERE tenant_id = $1 ORDER BY at DESC, id LIMIT $2",
                )
                .bind(tenant_id)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?,
            };
        rows.iter().map(audit_event).collect()
    }

    /// Sets how long a tenant's images are kept after the verdict (`None`: the default).
    pub async fn set_retention(
        &self,
        tenant_id: &str,
        hours: Option<i64>,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("UPDATE tenants SET retention_hours = $2 WHERE id = $1")
            .bind(tenant_id)
            .bind(hours)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Decided sessions whose images outlived their tenant's retention at `now`
    /// (`default_ms` where the tenant set none), oldest first.
    pub async fn retention_due(
        &self,
        now: i64,
        default_ms: i64,
        limit: i64,
    ) -> Result<Vec<(String, String)>, sqlx::Error> {
        sqlx::query(
            "SELECT s.id, s.tenant_id FROM sessions s JOIN tenants t ON t.id = s.tenant_id \
             WHERE s.evidence_deleted_at IS NULL AND s.completed_at IS NOT NULL \
             AND s.submitted_at IS NOT NULL \
             AND s.completed_at + COALESCE(t.retention_hours * 3600000, $2) <= $1 \
             ORDER BY s.completed_at LIMIT $3",
        )
        .bind(now)
        .bind(default_ms)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("tenant_id")?)))
        .collect()
    }

    /// Deletes a decided session's images (the photo included); the verdict, the manifest
    /// with its frame hashes and the device's signature stay. Once per session.
    pub async fn expire_evidence(&self, audit: &AuditEvent) -> Result<bool, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let marked = sqlx::query(
            "UPDATE sessions SET evidence_deleted_at = $2 WHERE id = $1 \
             AND evidence_deleted_at IS NULL AND completed_at IS NOT NULL",
        )
        .bind(&audit.session_id)
        .bind(audit.at)
        .execute(&mut *tx)
        .await?;
        if marked.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        super::objects::orphan_session_objects(&mut tx, &audit.session_id, audit.at).await?;
        sqlx::query("DELETE FROM evidence_frames WHERE session_id = $1")
            .bind(&audit.session_id)
            .execute(&mut *tx)
            .await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        self.delete_orphans_now().await;
        Ok(true)
    }

    /// Erases a session in one transaction: its images and manifest, its options (they may
    /// hold the integrator's user reference), the stored answer of its idempotency key, the
    /// bodies of its webhooks (an undelivered one is not sent); its job, queued or running,
    /// ends as `erased`, so a worker finishing it afterwards stores nothing. The session
    /// keeps only `result_json` (the erased answer) and its times. `delivery` is the
    /// `session.erased` webhook.
    pub async fn erase_session(
        &self,
        tenant_id: &str,
        session_id: &str,
        result_json: &str,
        delivery: Option<&DeliveryRow>,
        audit: &AuditEvent,
    ) -> Result<Erasure, sqlx::Error> {
        let now = audit.at;
        let mut tx = self.pool.begin().await?;
        let current =
            sqlx::query("SELECT erased_at FROM sessions WHERE id = $1 AND tenant_id = $2")
                .bind(session_id)
                .bind(tenant_id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(current) = current else {
            tx.rollback().await?;
            return Ok(Erasure::NotFound);
        };
        if let Some(at) = current.try_get::<Option<i64>, _>("erased_at")? {
            tx.rollback().await?;
            return Ok(Erasure::AlreadyErased { at });
        }
        let erased = sqlx::query(
            "UPDATE sessions SET status = 'erased', erased_at = $2, \
             evidence_deleted_at = COALESCE(evidence_deleted_at, $2), options_json = '{}', \
             result_json = $3, verdict = NULL, device_key = NULL, cooldown_subjects = NULL, \
             completed_at = COALESCE(completed_at, $2) WHERE id = $1 AND erased_at IS NULL",
        )
        .bind(session_id)
        .bind(now)
        .bind(result_json)
        .execute(&mut *tx)
        .await?;
        if erased.rows_affected() != 1 {
            // Another request erased it between our read and this update.
            tx.rollback().await?;
            return Ok(
                match self.session(session_id).await?.and_then(|s| s.erased_at) {
                    Some(at) => Erasure::AlreadyErased { at },
                    None => Erasure::NotFound,
                },
            );
        }
        sqlx::query(
            "UPDATE jobs SET status = 'erased', lease_until = NULL, finished_at = $2 \
             WHERE session_id = $1 AND status IN ('queued', 'running')",
        )
        .bind(session_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        super::objects::orphan_session_objects(&mut tx, session_id, now).await?;
        for table in ["evidence_frames", "evidence"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE session_id = $1"))
                .bind(session_id)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "UPDATE idempotency_keys SET response_json = NULL, response_until = NULL \
             WHERE session_id = $1",
        )
        .bind(session_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE webhook_deliveries SET body = $2, \
             last_error = CASE WHEN status = 'pending' THEN 'session erased before delivery' ELSE last_error END, \
             status = CASE WHEN status = 'pending' THEN 'failed' ELSE status END, \
             lease_until = NULL WHERE session_id = $1",
        )
        .bind(session_id)
        .bind(&b"{}"[..])
        .execute(&mut *tx)
        .await?;
        if let Some(d) = delivery {
            insert_delivery(&mut tx, d).await?;
        }
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        self.delete_orphans_now().await;
        Ok(Erasure::Erased { at: now })
    }

    /// Frames not sealed with `current_kid` (older keys, or stored before encryption), a
    /// batch at a time, with their sealed bytes read from wherever they are.
    pub async fn frames_not_sealed_with(
        &self,
        current_kid: &str,
        limit: i64,
    ) -> Result<Vec<StaleFrame>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT session_id, idx, key_id, bytes, object_key FROM evidence_frames \
             WHERE key_id IS NULL OR key_id <> $1 ORDER BY session_id, idx LIMIT $2",
        )
        .bind(current_kid)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let object_key: Option<String> = r.try_get("object_key")?;
            let sealed = match (&object_key, &self.objects) {
                (None, _) => r.try_get("bytes")?,
                (Some(key), Some(objects)) => objects
                    .get(key)
                    .await
                    .map_err(super::objects::object_error)?,
                (Some(_), None) => {
                    return Err(super::objects::object_error(
                        crate::objects::ObjectError::Config(
                            "frames are in object storage: give the --s3-… options".into(),
                        ),
                    ));
                }
            };
            out.push(StaleFrame {
                session_id: r.try_get("session_id")?,
                idx: r.try_get("idx")?,
                kid: r.try_get("key_id")?,
                sealed,
                object_key,
            });
        }
        Ok(out)
    }

    /// Re-seals a frame kept in object storage: the new copy goes to a new key first, then
    /// the row names it (only if the row is still as it was read) and the old copy is
    /// orphaned; if the row changed meanwhile, the new copy is discarded.
    pub async fn reseal_object_frame(
        &self,
        frame: &StaleFrame,
        new_kid: &str,
        bytes: Vec<u8>,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        let (Some(objects), Some(old_key)) = (&self.objects, &frame.object_key) else {
            return Err(sqlx::Error::Protocol("not an object-stored frame".into()));
        };
        let new_key = objects.resealed_key(old_key, new_kid);
        objects
            .put(&new_key, bytes)
            .await
            .map_err(super::objects::object_error)?;
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE evidence_frames SET key_id = $3, object_key = $4 \
             WHERE session_id = $1 AND idx = $2 AND object_key = $5",
        )
        .bind(&frame.session_id)
        .bind(frame.idx)
        .bind(new_kid)
        .bind(&new_key)
        .bind(old_key)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            tx.rollback().await?;
            self.discard_objects(&[new_key], now).await;
            return Ok(false);
        }
        super::objects::orphan_object(&mut tx, old_key, now).await?;
        tx.commit().await?;
        self.delete_orphans_now().await;
        Ok(true)
    }

    /// Replaces one frame's sealed bytes, only if it is still sealed as it was read (an
    /// erasure or another rotation in between wins).
    pub async fn reseal_frame(
        &self,
        session_id: &str,
        idx: i64,
        old_kid: Option<&str>,
        new_kid: &str,
        bytes: &[u8],
    ) -> Result<bool, sqlx::Error> {
        // Two statements, not `$5 IS NULL`: PostgreSQL cannot type a parameter only
        // compared with NULL.
        let sql = match old_kid {
            Some(_) => {
                "UPDATE evidence_frames SET key_id = $3, bytes = $4 \
                 WHERE session_id = $1 AND idx = $2 AND key_id = $5"
            }
            None => {
                "UPDATE evidence_frames SET key_id = $3, bytes = $4 \
                 WHERE session_id = $1 AND idx = $2 AND key_id IS NULL"
            }
        };
        let mut query = sqlx::query(sql)
            .bind(session_id)
            .bind(idx)
            .bind(new_kid)
            .bind(bytes);
        if let Some(old) = old_kid {
            query = query.bind(old);
        }
        let done = query.execute(&self.pool).await?;
        Ok(done.rows_affected() == 1)
    }

    /// Rows per key id (`None`: unencrypted), for the operator.
    pub async fn frames_per_key(&self) -> Result<Vec<(Option<String>, i64)>, sqlx::Error> {
        sqlx::query(
            "SELECT key_id, COUNT(*) AS n FROM evidence_frames GROUP BY key_id ORDER BY key_id",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("key_id")?, r.try_get("n")?)))
        .collect()
    }
}

/// A frame [`Db::frames_not_sealed_with`] found.
#[derive(Debug, Clone)]
pub struct StaleFrame {
    pub session_id: String,
    pub idx: i64,
    pub kid: Option<String>,
    pub sealed: Vec<u8>,
    /// Where the sealed bytes live when not in the row.
    pub object_key: Option<String>,
}
