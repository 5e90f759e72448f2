//! Rate limits, device cool-downs, HMAC request nonces, idempotency keys and the janitor's
//! pruning of all of them.

use sqlx::Row;

use super::*;
use crate::db::Db;

impl Db {
    /// Counts one event in `bucket`'s fixed window and returns the count so far.
    pub async fn count_in_window(
        &self,
        bucket: &str,
        window_start: i64,
    ) -> Result<i64, sqlx::Error> {
        let row = sqlx::query(
            "INSERT INTO rate_counters (bucket, window_start, count) VALUES ($1, $2, 1) \
             ON CONFLICT (bucket, window_start) DO UPDATE SET count = rate_counters.count + 1 \
             RETURNING count",
        )
        .bind(bucket)
        .bind(window_start)
        .fetch_one(&self.pool)
        .await?;
        row.try_get("count")
    }

    /// The count in `bucket`'s window so far, without counting.
    pub async fn count_so_far(&self, bucket: &str, window_start: i64) -> Result<i64, sqlx::Error> {
        let row =
            sqlx::query("SELECT count FROM rate_counters WHERE bucket = $1 AND window_start = $2")
                .bind(bucket)
                .bind(window_start)
                .fetch_optional(&self.pool)
                .await?;
        row.map_or(Ok(0), |r| r.try_get("count"))
    }

    /// Counts a failed session against each cool-down subject (once per session).
    pub async fn record_device_failure(
        &self,
        subjects: &[String],
        session_id: &str,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        for subject in subjects {
            insert_device_failure(&mut tx, subject, session_id, now).await?;
        }
        tx.commit().await
    }

    /// Failures of a device key since `since`: how many and the oldest.
    pub async fn device_failures(
        &self,
        device_key: &str,
        since: i64,
    ) -> Result<(i64, Option<i64>), sqlx::Error> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, MIN(at) AS oldest FROM device_failures WHERE device_key = $1 AND at > $2",
        )
        .bind(device_key)
        .bind(since)
        .fetch_one(&self.pool)
        .await?;
        Ok((row.try_get("n")?, row.try_get("oldest")?))
    }

    /// Remembers an HMAC request's nonce until `forget_at`. False if the key already used it.
    pub async fn remember_nonce(
        &self,
        key_id: &str,
        nonce: &str,
        forget_at: i64,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "INSERT INTO request_nonces (key_id, nonce, forget_at) VALUES ($1, $2, $3) \
             ON CONFLICT (key_id, nonce) DO NOTHING",
        )
        .bind(key_id)
        .bind(nonce)
        .bind(forget_at)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Takes an idempotency key for a session creation, or says what it already did.
    pub async fn begin_idempotent(
        &self,
        tenant_id: &str,
        key_sha256: &str,
        request_sha256: &str,
        now: i64,
    ) -> Result<IdempotentCreate, sqlx::Error> {
        let taken = sqlx::query(
            "INSERT INTO idempotency_keys (tenant_id, key_sha256, request_sha256, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, key_sha256) DO NOTHING",
        )
        .bind(tenant_id)
        .bind(key_sha256)
        .bind(request_sha256)
        .bind(now)
        .execute(&self.pool)
        .await?;
        if taken.rows_affected() == 1 {
            return Ok(IdempotentCreate::New);
        }
        let Some(row) = sqlx::query(
            "SELECT request_sha256, session_id, response_json, response_until, created_at \
             FROM idempotency_keys WHERE tenant_id = $1 AND key_sha256 = $2",
        )
        .bind(tenant_id)
        .bind(key_sha256)
        .fetch_optional(&self.pool)
        .await?
        else {
            // Pruned between the insert and the read: the caller may simply retry.
            return Ok(IdempotentCreate::InProgress);
        };
        let stored: String = row.try_get("request_sha256")?;
        if stored != request_sha256 {
            return Ok(IdempotentCreate::Mismatch);
        }
        let session_id: Option<String> = row.try_get("session_id")?;
        let response: Option<String> = row.try_get("response_json")?;
        let until: Option<i64> = row.try_get("response_until")?;
        let created_at: i64 = row.try_get("created_at")?;
        Ok(match (session_id, response) {
            (Some(_), Some(json)) if until.is_some_and(|u| now < u) => {
                IdempotentCreate::Replay(json)
            }
            (Some(session_id), _) => IdempotentCreate::Expired { session_id },
            // The first request died before it answered: after a while its key is free again.
            (None, _) if now - created_at > ABANDONED_AFTER_MS => {
                let retaken = sqlx::query(
                    "UPDATE idempotency_keys SET created_at = $3 \
                     WHERE tenant_id = $1 AND key_sha256 = $2 AND session_id IS NULL \
                     AND created_at = $4",
                )
                .bind(tenant_id)
                .bind(key_sha256)
                .bind(now)
                .bind(created_at)
                .execute(&self.pool)
                .await?;
                if retaken.rows_affected() == 1 {
                    IdempotentCreate::New
                } else {
                    IdempotentCreate::InProgress
                }
            }
            (None, _) => IdempotentCreate::InProgress,
        })
    }

    /// Stores the answer of the creation that took the key.
    pub async fn finish_idempotent(
        &self,
        tenant_id: &str,
        key_sha256: &str,
        session_id: &str,
        response_json: &str,
        response_until: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE idempotency_keys SET session_id = $3, response_json = $4, response_until = $5 \
             WHERE tenant_id = $1 AND key_sha256 = $2",
        )
        .bind(tenant_id)
        .bind(key_sha256)
        .bind(session_id)
        .bind(response_json)
        .bind(response_until)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Frees a key whose creation failed, so a retry can succeed.
    pub async fn abandon_idempotent(
        &self,
        tenant_id: &str,
        key_sha256: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE tenant_id = $1 AND key_sha256 = $2 \
             AND session_id IS NULL",
        )
        .bind(tenant_id)
        .bind(key_sha256)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Drops what no check looks at any more: rate-limit rows, cool-down failures and access
    /// tokens older than `before`; nonces past their window; idempotent answers whose tokens
    /// are no longer usable, and keys older than a day.
    pub async fn prune(&self, now: i64, before: i64) -> Result<(), sqlx::Error> {
        for (sql, at) in [
            ("DELETE FROM rate_counters WHERE window_start < $1", before),
            ("DELETE FROM device_failures WHERE at < $1", before),
            ("DELETE FROM oauth_tokens WHERE expires_at < $1", before),
            ("DELETE FROM request_nonces WHERE forget_at < $1", now),
            (
                "UPDATE idempotency_keys SET response_json = NULL WHERE response_until < $1",
                now,
            ),
            (
                "DELETE FROM idempotency_keys WHERE created_at < $1",
                now - IDEMPOTENCY_KEY_MS,
            ),
        ] {
            sqlx::query(sql).bind(at).execute(&self.pool).await?;
        }
        Ok(())
    }
}

/// An idempotency key whose first request never answered is free again after this.
const ABANDONED_AFTER_MS: i64 = 30_000;
/// How long an idempotency key is remembered.
pub const IDEMPOTENCY_KEY_MS: i64 = 24 * 3600 * 1000;

/// What an `Idempotency-Key` says about a session creation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotentCreate {
    /// First use: create the session, then [`Db::finish_idempotent`].
    New,
    /// The same request again while its answer is kept: that answer.
    Replay(String),
    /// The key was used with a different body.
    Mismatch,
    /// The first request with this key has not answered yet.
    InProgress,
    /// The key made `session_id`, whose answer (and tokens) are no longer kept.
    Expired { session_id: String },
}
