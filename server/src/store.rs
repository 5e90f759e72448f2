//! Every SQL statement of the server, as methods on [`Db`]. Rows come back as plain structs;
//! what a status string may be is documented on the struct.

use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::db::Db;

pub type Tx<'a> = Transaction<'a, Any>;

#[derive(Debug, Clone)]
pub struct TenantRow {
    pub id: String,
    pub name: String,
    pub response_secret: String,
}

#[derive(Debug, Clone)]
pub struct ApiKeyRow {
    pub id: String,
    pub tenant_id: String,
    pub secret_sha256: String,
    pub signing_key: String,
    /// `active` or `revoked`.
    pub status: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct SigningKeyRow {
    pub kid: String,
    pub seed: String,
    /// `current`, `previous` (still published) or `retired`.
    pub status: String,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct SessionRow {
    pub id: String,
    pub tenant_id: String,
    pub options_json: String,
    pub nonce: String,
    pub plan_json: String,
    pub result_token_sha256: String,
    pub submission_token_sha256: String,
    pub submission_expires_at: i64,
    pub expires_at: i64,
    pub created_at: i64,
    /// `created`, `submitted` or `completed`.
    pub status: String,
    pub submitted_at: Option<i64>,
    pub submission_sha256: Option<String>,
    pub device_key: Option<String>,
    pub job_id: Option<String>,
    pub verdict: Option<String>,
    pub result_json: Option<String>,
}

#[derive(Debug, Clone)]
pub struct JobRow {
    pub id: String,
    pub session_id: String,
    /// `queued`, `running`, `done` or `failed`.
    pub status: String,
    pub attempts: i64,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct DeliveryRow {
    pub id: String,
    pub session_id: String,
    pub tenant_id: String,
    pub url: String,
    pub event: String,
    pub body: Vec<u8>,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone)]
pub struct AttemptRow {
    pub attempt: i64,
    pub started_at: i64,
    pub duration_ms: i64,
    pub status_code: Option<i64>,
    pub error: Option<String>,
}

/// A verified upload, stored in one transaction with the job that checks it.
#[derive(Debug, Clone)]
pub struct NewSubmission<'a> {
    pub session_id: &'a str,
    pub job_id: &'a str,
    pub submission_sha256: &'a str,
    pub device_key: &'a str,
    pub manifest: &'a [u8],
    pub signature: &'a str,
    pub frames: &'a [(String, Vec<u8>)],
    pub now: i64,
}

/// What happened when a submission tried to claim its session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    Stored,
    /// The same upload was stored before: its job.
    Duplicate {
        job_id: String,
    },
    AlreadyUsed,
    Expired,
}

fn tenant(row: &AnyRow) -> Result<TenantRow, sqlx::Error> {
    Ok(TenantRow {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        response_secret: row.try_get("response_secret")?,
    })
}

fn session(row: &AnyRow) -> Result<SessionRow, sqlx::Error> {
    Ok(SessionRow {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        options_json: row.try_get("options_json")?,
        nonce: row.try_get("nonce")?,
        plan_json: row.try_get("plan_json")?,
        result_token_sha256: row.try_get("result_token_sha256")?,
        submission_token_sha256: row.try_get("submission_token_sha256")?,
        submission_expires_at: row.try_get("submission_expires_at")?,
        expires_at: row.try_get("expires_at")?,
        created_at: row.try_get("created_at")?,
        status: row.try_get("status")?,
        submitted_at: row.try_get("submitted_at")?,
        submission_sha256: row.try_get("submission_sha256")?,
        device_key: row.try_get("device_key")?,
        job_id: row.try_get("job_id")?,
        verdict: row.try_get("verdict")?,
        result_json: row.try_get("result_json")?,
    })
}

fn job(row: &AnyRow) -> Result<JobRow, sqlx::Error> {
    Ok(JobRow {
        id: row.try_get("id")?,
        session_id: row.try_get("session_id")?,
        status: row.try_get("status")?,
        attempts: row.try_get("attempts")?,
        created_at: row.try_get("created_at")?,
        finished_at: row.try_get("finished_at")?,
    })
}

fn delivery(row: &AnyRow) -> Result<DeliveryRow, sqlx::Error> {
    Ok(DeliveryRow {
        id: row.try_get("id")?,
        session_id: row.try_get("session_id")?,
        tenant_id: row.try_get("tenant_id")?,
        url: row.try_get("url")?,
        event: row.try_get("event")?,
        body: row.try_get("body")?,
        status: row.try_get("status")?,
        attempts: row.try_get("attempts")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        created_at: row.try_get("created_at")?,
        delivered_at: row.try_get("delivered_at")?,
        last_error: row.try_get("last_error")?,
    })
}

fn api_key(row: &AnyRow) -> Result<ApiKeyRow, sqlx::Error> {
    Ok(ApiKeyRow {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        secret_sha256: row.try_get("secret_sha256")?,
        signing_key: row.try_get("signing_key")?,
        status: row.try_get("status")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
    })
}

fn signing_key(row: &AnyRow) -> Result<SigningKeyRow, sqlx::Error> {
    Ok(SigningKeyRow {
        kid: row.try_get("kid")?,
        seed: row.try_get("seed")?,
        status: row.try_get("status")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Db {
    // --- tenants and credentials ---

    pub async fn insert_tenant(
        &self,
        id: &str,
        name: &str,
        response_secret: &str,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO tenants (id, name, response_secret, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(name)
        .bind(response_secret)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn tenant(&self, id: &str) -> Result<Option<TenantRow>, sqlx::Error> {
        let row = sqlx::query("SELECT id, name, response_secret FROM tenants WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(tenant).transpose()
    }

    pub async fn tenants(&self) -> Result<Vec<TenantRow>, sqlx::Error> {
        let rows = sqlx::query("SELECT id, name, response_secret FROM tenants ORDER BY created_at")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(tenant).collect()
    }

    pub async fn insert_api_key(
        &self,
        id: &str,
        tenant_id: &str,
        secret_sha256: &str,
        signing_key: &str,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO api_keys (id, tenant_id, secret_sha256, signing_key, status, created_at) \
             VALUES ($1, $2, $3, $4, 'active', $5)",
        )
        .bind(id)
        .bind(tenant_id)
        .bind(secret_sha256)
        .bind(signing_key)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn api_key(&self, id: &str) -> Result<Option<ApiKeyRow>, sqlx::Error> {
        sqlx::query("SELECT * FROM api_keys WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(api_key)
            .transpose()
    }

    pub async fn api_keys(&self, tenant_id: &str) -> Result<Vec<ApiKeyRow>, sqlx::Error> {
        sqlx::query("SELECT * FROM api_keys WHERE tenant_id = $1 ORDER BY created_at")
            .bind(tenant_id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(api_key)
            .collect()
    }

    pub async fn expire_api_key(&self, id: &str, at: i64) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE api_keys SET expires_at = $2 WHERE id = $1 AND status = 'active' \
             AND (expires_at IS NULL OR expires_at > $2)",
        )
        .bind(id)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn revoke_api_key(&self, id: &str, now: i64) -> Result<bool, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE api_keys SET status = 'revoked', revoked_at = $2 WHERE id = $1 AND status = 'active'",
        )
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM oauth_tokens WHERE key_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn touch_api_key(&self, id: &str, now: i64) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE api_keys SET last_used_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn insert_oauth_token(
        &self,
        token_sha256: &str,
        tenant_id: &str,
        key_id: &str,
        expires_at: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO oauth_tokens (token_sha256, tenant_id, key_id, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_sha256)
        .bind(tenant_id)
        .bind(key_id)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The tenant and key of an unexpired access token.
    pub async fn oauth_token(
        &self,
        token_sha256: &str,
        now: i64,
    ) -> Result<Option<(String, String)>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT tenant_id, key_id FROM oauth_tokens WHERE token_sha256 = $1 AND expires_at > $2",
        )
        .bind(token_sha256)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok((r.try_get("tenant_id")?, r.try_get("key_id")?)))
            .transpose()
    }

    // --- verdict signing keys ---

    pub async fn signing_keys(&self) -> Result<Vec<SigningKeyRow>, sqlx::Error> {
        sqlx::query("SELECT * FROM signing_keys ORDER BY created_at DESC")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(signing_key)
            .collect()
    }

    /// Makes `kid` the current key: the current one becomes previous (still published), the
    /// previous one is retired.
    pub async fn rotate_signing_key(
        &self,
        kid: &str,
        seed: &str,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE signing_keys SET status = 'retired', rotated_at = $1 WHERE status = 'previous'",
        )
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE signing_keys SET status = 'previous', rotated_at = $1 WHERE status = 'current'",
        )
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO signing_keys (kid, seed, status, created_at) VALUES ($1, $2, 'current', $3)",
        )
        .bind(kid)
        .bind(seed)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    // --- sessions ---

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
    pub async fn store_submission(
        &self,
        s: &NewSubmission<'_>,
    ) -> Result<ClaimOutcome, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let claimed = sqlx::query(
            "UPDATE sessions SET status = 'submitted', submitted_at = $2, submission_sha256 = $3, \
             device_key = $4, job_id = $5 \
             WHERE id = $1 AND status = 'created' AND submission_expires_at > $2",
        )
        .bind(s.session_id)
        .bind(s.now)
        .bind(s.submission_sha256)
        .bind(s.device_key)
        .bind(s.job_id)
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
        for (idx, (role, bytes)) in s.frames.iter().enumerate() {
            sqlx::query(
                "INSERT INTO evidence_frames (session_id, idx, role, bytes) VALUES ($1, $2, $3, $4)",
            )
            .bind(s.session_id)
            .bind(idx as i64)
            .bind(role.as_str())
            .bind(bytes.as_slice())
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

    pub async fn evidence(
        &self,
        session_id: &str,
    ) -> Result<Option<(Vec<u8>, Vec<Vec<u8>>)>, sqlx::Error> {
        let Some(row) = sqlx::query("SELECT manifest FROM evidence WHERE session_id = $1")
            .bind(session_id)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let manifest: Vec<u8> = row.try_get("manifest")?;
        let frames =
            sqlx::query("SELECT bytes FROM evidence_frames WHERE session_id = $1 ORDER BY idx")
                .bind(session_id)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| r.try_get::<Vec<u8>, _>("bytes"))
                .collect::<Result<Vec<_>, _>>()?;
        Ok(Some((manifest, frames)))
    }

    pub async fn photo(&self, session_id: &str) -> Result<Option<Vec<u8>>, sqlx::Error> {
        sqlx::query("SELECT bytes FROM evidence_frames WHERE session_id = $1 AND role = 'photo'")
            .bind(session_id)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| r.try_get("bytes"))
            .transpose()
    }

    // --- jobs ---

    pub async fn job(&self, id: &str) -> Result<Option<JobRow>, sqlx::Error> {
        sqlx::query("SELECT * FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(job)
            .transpose()
    }

    /// Claims the oldest queued job, or one whose lease ran out (its instance died). The
    /// conditional update makes two instances racing for one job safe on both databases.
    pub async fn claim_job(&self, now: i64, lease_ms: i64) -> Result<Option<JobRow>, sqlx::Error> {
        for _ in 0..8 {
            let Some(candidate) = sqlx::query(
                "SELECT id FROM jobs WHERE status = 'queued' \
                 OR (status = 'running' AND lease_until < $1) ORDER BY created_at LIMIT 1",
            )
            .bind(now)
            .fetch_optional(&self.pool)
            .await?
            else {
                return Ok(None);
            };
            let id: String = candidate.try_get("id")?;
            let claimed = sqlx::query(
                "UPDATE jobs SET status = 'running', lease_until = $2, attempts = attempts + 1, \
                 started_at = $1 WHERE id = $3 AND (status = 'queued' \
                 OR (status = 'running' AND lease_until < $1))",
            )
            .bind(now)
            .bind(now + lease_ms)
            .bind(&id)
            .execute(&self.pool)
            .await?;
            if claimed.rows_affected() == 1 {
                return self.job(&id).await;
            }
        }
        Ok(None)
    }

    /// Stores the outcome of a job: the session's result, the job's end, the webhook to send
    /// and the device failure to count, in one transaction.
    #[allow(clippy::too_many_arguments)]
    pub async fn finish_job(
        &self,
        job_id: &str,
        session_id: &str,
        job_status: &str,
        error: Option<&str>,
        verdict: &str,
        result_json: &str,
        delivery: Option<&DeliveryRow>,
        device_failure: Option<&str>,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE jobs SET status = $2, finished_at = $3, error = $4, lease_until = NULL \
             WHERE id = $1 AND status = 'running'",
        )
        .bind(job_id)
        .bind(job_status)
        .bind(now)
        .bind(error)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            // Another instance took over after our lease ran out and finished first.
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(
            "UPDATE sessions SET status = 'completed', verdict = $2, result_json = $3, completed_at = $4 \
             WHERE id = $1",
        )
        .bind(session_id)
        .bind(verdict)
        .bind(result_json)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if let Some(d) = delivery {
            insert_delivery(&mut tx, d).await?;
        }
        if let Some(device_key) = device_failure {
            insert_device_failure(&mut tx, device_key, session_id, now).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Ends a session that never got evidence (`status` is `cancelled` or `expired`): its
    /// result, verdict and webhook in one transaction, and only while it is still open, so
    /// two instances (or a sweep racing a late upload) end it once.
    pub async fn end_unsubmitted(
        &self,
        session_id: &str,
        status: &str,
        verdict: &str,
        result_json: &str,
        delivery: Option<&DeliveryRow>,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let ended = sqlx::query(
            "UPDATE sessions SET status = $2, verdict = $3, result_json = $4, completed_at = $5 \
             WHERE id = $1 AND status = 'created'",
        )
        .bind(session_id)
        .bind(status)
        .bind(verdict)
        .bind(result_json)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if ended.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        if let Some(d) = delivery {
            insert_delivery(&mut tx, d).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Open sessions whose submission window closed before `now`, oldest first.
    pub async fn expired_unsubmitted(
        &self,
        now: i64,
        limit: i64,
    ) -> Result<Vec<SessionRow>, sqlx::Error> {
        sqlx::query(
            "SELECT * FROM sessions WHERE status = 'created' AND submission_expires_at <= $1 \
             ORDER BY submission_expires_at LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(session)
        .collect()
    }

    /// Puts a job whose attempt failed for an internal reason back in the queue.
    pub async fn requeue_job(&self, job_id: &str, error: &str) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE jobs SET status = 'queued', lease_until = NULL, error = $2 WHERE id = $1 AND status = 'running'",
        )
        .bind(job_id)
        .bind(error)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    // --- webhooks ---

    pub async fn claim_delivery(
        &self,
        now: i64,
        lease_ms: i64,
    ) -> Result<Option<DeliveryRow>, sqlx::Error> {
        for _ in 0..8 {
            let Some(candidate) = sqlx::query(
                "SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $1 \
                 AND (lease_until IS NULL OR lease_until < $1) ORDER BY next_attempt_at LIMIT 1",
            )
            .bind(now)
            .fetch_optional(&self.pool)
            .await?
            else {
                return Ok(None);
            };
            let id: String = candidate.try_get("id")?;
            let claimed = sqlx::query(
                "UPDATE webhook_deliveries SET lease_until = $2 WHERE id = $3 AND status = 'pending' \
                 AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until < $1)",
            )
            .bind(now)
            .bind(now + lease_ms)
            .bind(&id)
            .execute(&self.pool)
            .await?;
            if claimed.rows_affected() == 1 {
                return sqlx::query("SELECT * FROM webhook_deliveries WHERE id = $1")
                    .bind(&id)
                    .fetch_optional(&self.pool)
                    .await?
                    .as_ref()
                    .map(delivery)
                    .transpose();
            }
        }
        Ok(None)
    }

    /// Records one attempt and the delivery's next state.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_attempt(
        &self,
        delivery_id: &str,
        attempt: i64,
        started_at: i64,
        duration_ms: i64,
        status_code: Option<i64>,
        error: Option<&str>,
        next: DeliveryNext,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO webhook_attempts (delivery_id, attempt, started_at, duration_ms, status_code, error) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (delivery_id, attempt) DO NOTHING",
        )
        .bind(delivery_id)
        .bind(attempt)
        .bind(started_at)
        .bind(duration_ms)
        .bind(status_code)
        .bind(error)
        .execute(&mut *tx)
        .await?;
        let (status, next_at, delivered_at) = match next {
            DeliveryNext::Delivered { at } => ("delivered", at, Some(at)),
            DeliveryNext::RetryAt(at) => ("pending", at, None),
            DeliveryNext::GiveUp { at } => ("failed", at, None),
        };
        sqlx::query(
            "UPDATE webhook_deliveries SET status = $2, attempts = $3, next_attempt_at = $4, \
             delivered_at = $5, last_error = $6, lease_until = NULL WHERE id = $1",
        )
        .bind(delivery_id)
        .bind(status)
        .bind(attempt)
        .bind(next_at)
        .bind(delivered_at)
        .bind(error)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    pub async fn deliveries(&self, session_id: &str) -> Result<Vec<DeliveryRow>, sqlx::Error> {
        sqlx::query("SELECT * FROM webhook_deliveries WHERE session_id = $1 ORDER BY created_at")
            .bind(session_id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(delivery)
            .collect()
    }

    pub async fn attempts(&self, delivery_id: &str) -> Result<Vec<AttemptRow>, sqlx::Error> {
        sqlx::query("SELECT * FROM webhook_attempts WHERE delivery_id = $1 ORDER BY attempt")
            .bind(delivery_id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok(AttemptRow {
                    attempt: r.try_get("attempt")?,
                    started_at: r.try_get("started_at")?,
                    duration_ms: r.try_get("duration_ms")?,
                    status_code: r.try_get("status_code")?,
                    error: r.try_get("error")?,
                })
            })
            .collect()
    }

    // --- rate limits ---

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

    /// Counts a failed session against a device key (once per session).
    pub async fn record_device_failure(
        &self,
        device_key: &str,
        session_id: &str,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        insert_device_failure(&mut tx, device_key, session_id, now).await?;
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

    /// Drops rate-limit rows no window looks at any more.
    pub async fn prune(&self, before: i64) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM rate_counters WHERE window_start < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        sqlx::query("DELETE FROM device_failures WHERE at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        sqlx::query("DELETE FROM oauth_tokens WHERE expires_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// Where a delivery goes after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryNext {
    Delivered { at: i64 },
    RetryAt(i64),
    GiveUp { at: i64 },
}

async fn insert_delivery(tx: &mut Tx<'_>, d: &DeliveryRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO webhook_deliveries (id, session_id, tenant_id, url, event, body, status, attempts, \
         next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $8)",
    )
    .bind(&d.id)
    .bind(&d.session_id)
    .bind(&d.tenant_id)
    .bind(&d.url)
    .bind(&d.event)
    .bind(d.body.as_slice())
    .bind(d.next_attempt_at)
    .bind(d.created_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert_device_failure(
    tx: &mut Tx<'_>,
    device_key: &str,
    session_id: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO device_failures (device_key, session_id, at) VALUES ($1, $2, $3) \
         ON CONFLICT (device_key, session_id) DO NOTHING",
    )
    .bind(device_key)
    .bind(session_id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
