//! Sessions, their one submission and its evidence.

use sqlx::Row;

use super::*;
use crate::at_rest::KeyRing;
use crate::db::Db;

impl Db {
    pub async fn insert_session(&self, s: &SessionRow) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO sessions (id, tenant_id, options_json, nonce, plan_json, result_token_sha256, \
             submission_token_sha256, submission_expires_at, expires_at, created_at, status) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'created')",
        )
        .bind(&s.id)
        .bind(&s.tenant_id)
        .bind(&s.options_json)
        .bind(&s.nonce)
        .bind(&s.plan_json)
        .bind(&s.result_token_sha256)
        .bind(&s.submission_token_sha256)
        .bind(s.submission_expires_at)
        .bind(s.expires_at)
        .bind(s.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn session(&self, id: &str) -> Result<Option<SessionRow>, sqlx::Error> {
        sqlx::query("SELECT * FROM sessions WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(session)
            .transpose()
    }

    pub async fn session_by_submission_token(
        &self,
        token_sha256: &str,
    ) -> Result<Option<SessionRow>, sqlx::Error> {
        sqlx::query("SELECT * FROM sessions WHERE submission_token_sha256 = $1")
            .bind(token_sha256)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(session)
            .transpose()
    }

    /// Claims the session's single submission and stores the evidence and its job, all in
    /// one transaction: either everything is stored or nothing is.
    /// Every image is sealed with the ring's current key before it is written. With object
    /// storage the sealed images are written there first (under keys of this upload only), and
    /// deleted again if the claim does not store them.
    pub async fn store_submission(
        &self,
        s: &NewSubmission<'_>,
        keys: &KeyRing,
    ) -> Result<ClaimOutcome, sqlx::Error> {
        let mut sealed = Vec::with_capacity(s.frames.len());
        for (idx, (role, bytes)) in s.frames.iter().enumerate() {
            let (kid, bytes) = keys
                .seal(s.session_id, idx as i64, bytes)
                .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
            sealed.push(SealedFrame {
                role,
                kid,
                bytes,
                object_key: None,
            });
        }
        let written = self.put_objects(s, &mut sealed).await?;
        let outcome = self.claim_and_store(s, &sealed).await;
        if !matches!(outcome, Ok(ClaimOutcome::Stored)) {
            self.discard_objects(&written, s.now).await;
        }
        outcome
    }

    /// Writes the sealed frames to object storage (when configured), all at once; on a
    /// failure deletes what was written. Returns the keys written.
    async fn put_objects(
        &self,
        s: &NewSubmission<'_>,
        sealed: &mut [SealedFrame<'_>],
    ) -> Result<Vec<String>, sqlx::Error> {
        let Some(objects) = &self.objects else {
            return Ok(Vec::new());
        };
        let mut puts = tokio::task::JoinSet::new();
        let mut written = Vec::with_capacity(sealed.len());
        for (idx, frame) in sealed.iter_mut().enumerate() {
            let key =
                objects.frame_key(s.tenant_id, s.session_id, s.job_id, idx as i64, &frame.kid);
            let bytes = std::mem::take(&mut frame.bytes);
            frame.object_key = Some(key.clone());
            written.push(key.clone());
            let objects = objects.clone();
            puts.spawn(async move { objects.put(&key, bytes).await });
        }
        let mut failed = None;
        while let Some(done) = puts.join_next().await {
            match done {
                Ok(Ok(())) => {}
                Ok(Err(e)) => failed = failed.or(Some(e)),
                Err(e) => {
                    failed = failed.or(Some(crate::objects::ObjectError::Unreachable {
                        action: "PUT",
                        key: String::new(),
                        reason: e.to_string(),
                    }))
                }
            }
        }
        if let Some(e) = failed {
            self.discard_objects(&written, s.now).await;
            return Err(super::objects::object_error(e));
        }
        Ok(written)
    }

    async fn claim_and_store(
        &self,
        s: &NewSubmission<'_>,
        sealed: &[SealedFrame<'_>],
    ) -> Result<ClaimOutcome, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let claimed = sqlx::query(
            "UPDATE sessions SET status = 'submitted', submitted_at = $2, submission_sha256 = $3, \
             device_key = $4, job_id = $5, cooldown_subjects = $6 \
             WHERE id = $1 AND status = 'created' AND submission_expires_at > $2",
        )
        .bind(s.session_id)
        .bind(s.now)
        .bind(s.submission_sha256)
        .bind(s.device_key)
        .bind(s.job_id)
        .bind(s.cooldown_subjects)
        .execute(&mut *tx)
        .await?;
        if claimed.rows_affected() != 1 {
            tx.rollback().await?;
            let Some(current) = self.session(s.session_id).await? else {
                return Ok(ClaimOutcome::Expired);
            };
            return Ok(match (current.submission_sha256, current.job_id) {
                (Some(digest), Some(job_id)) if digest == s.submission_sha256 => {
                    ClaimOutcome::Duplicate { job_id }
                }
                (Some(_), _) => ClaimOutcome::AlreadyUsed,
                _ => ClaimOutcome::Expired,
            });
        }
        sqlx::query(
            "INSERT INTO evidence (session_id, manifest, public_key, signature) VALUES ($1, $2, $3, $4)",
        )
        .bind(s.session_id)
        .bind(s.manifest)
        .bind(s.device_key)
        .bind(s.signature)
        .execute(&mut *tx)
        .await?;
        for (idx, f) in sealed.iter().enumerate() {
            sqlx::query(
                "INSERT INTO evidence_frames (session_id, idx, role, bytes, key_id, object_key) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(s.session_id)
            .bind(idx as i64)
            .bind(f.role.as_str())
            .bind(f.bytes.as_slice())
            .bind(f.kid.as_str())
            .bind(f.object_key.as_deref())
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "INSERT INTO jobs (id, session_id, status, attempts, created_at) VALUES ($1, $2, 'queued', 0, $3)",
        )
        .bind(s.job_id)
        .bind(s.session_id)
        .bind(s.now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(ClaimOutcome::Stored)
    }

    /// The manifest and the opened frames, in upload order.
    pub async fn evidence(
        &self,
        session_id: &str,
        keys: &KeyRing,
    ) -> Result<Option<(Vec<u8>, Vec<Vec<u8>>)>, sqlx::Error> {
        let Some(row) = sqlx::query("SELECT manifest FROM evidence WHERE session_id = $1")
            .bind(session_id)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let manifest: Vec<u8> = row.try_get("manifest")?;
        let rows = sqlx::query(
            "SELECT idx, key_id, bytes, object_key FROM evidence_frames WHERE session_id = $1 ORDER BY idx",
        )
        .bind(session_id)
        .fetch_all(&self.pool)
        .await?;
        let mut frames = Vec::with_capacity(rows.len());
        for r in &rows {
            frames.push(self.open_frame(keys, session_id, r).await?);
        }
        Ok(Some((manifest, frames)))
    }

    pub async fn photo(
        &self,
        session_id: &str,
        keys: &KeyRing,
    ) -> Result<Option<Vec<u8>>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT idx, key_id, bytes, object_key FROM evidence_frames WHERE session_id = $1 AND role = 'photo'",
        )
        .bind(session_id)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(r) => Ok(Some(self.open_frame(keys, session_id, &r).await?)),
            None => Ok(None),
        }
    }
}

/// One frame of an upload, sealed; its bytes are empty once written to object storage.
struct SealedFrame<'a> {
    role: &'a String,
    kid: String,
    bytes: Vec<u8>,
    object_key: Option<String>,
}
