//! Every SQL statement of the server, as methods on [`Db`], one file per responsibility:
//! credentials and signing keys here, then [`sessions`] (sessions and their evidence),
//! [`jobs`] (the verification queue), [`webhooks`] (the outbox) and [`limits`] (rate limits,
//! cool-downs, request nonces and idempotency keys), [`hosted`] (the browser page's one-time
//! links) and [`lifecycle`] (retention, erasure
//! and the audit trail). Rows come back as plain structs; what a
//! status string may be is documented on the struct.

mod hosted;
mod jobs;
mod lifecycle;
mod limits;
mod objects;
mod sessions;
mod webhooks;

pub use hosted::{NewLink, Redeemed};
use jobs::insert_device_failure;
pub use lifecycle::{AuditEvent, Erasure, StaleFrame};
pub use limits::IdempotentCreate;
use webhooks::insert_delivery;

use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::db::Db;

pub type Tx<'a> = Transaction<'a, Any>;

#[derive(Debug, Clone)]
pub struct TenantRow {
    pub id: String,
    pub name: String,
    pub response_secret: String,
    /// Hours the images of a decided session are kept; `None`: the server's default.
    pub retention_hours: Option<i64>,
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
    /// `created`, `submitted`, `completed`, `cancelled`, `expired` or `erased`.
    pub status: String,
    pub submitted_at: Option<i64>,
    pub submission_sha256: Option<String>,
    pub device_key: Option<String>,
    pub job_id: Option<String>,
    pub verdict: Option<String>,
    pub result_json: Option<String>,
    /// JSON array of what a failure of this session counts against (set at submission).
    pub cooldown_subjects: Option<String>,
    /// When the verdict was stored.
    pub completed_at: Option<i64>,
    /// When the images were deleted (retention or erasure).
    pub evidence_deleted_at: Option<i64>,
    pub erased_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct JobRow {
    pub id: String,
    pub session_id: String,
    /// `queued`, `running`, `done`, `failed` or `erased` (the session was erased first).
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
    pub tenant_id: &'a str,
    pub session_id: &'a str,
    pub job_id: &'a str,
    pub submission_sha256: &'a str,
    pub device_key: &'a str,
    pub cooldown_subjects: &'a str,
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
        retention_hours: row.try_get("retention_hours")?,
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
        cooldown_subjects: row.try_get("cooldown_subjects")?,
        completed_at: row.try_get("completed_at")?,
        evidence_deleted_at: row.try_get("evidence_deleted_at")?,
        erased_at: row.try_get("erased_at")?,
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
        let row = sqlx::query(
            "SELECT id, name, response_secret, retention_hours FROM tenants WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(tenant).transpose()
    }

    pub async fn tenants(&self) -> Result<Vec<TenantRow>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, name, response_secret, retention_hours FROM tenants ORDER BY created_at",
        )
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
}

/// Where a delivery goes after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryNext {
    Delivered { at: i64 },
    RetryAt(i64),
    GiveUp { at: i64 },
}
