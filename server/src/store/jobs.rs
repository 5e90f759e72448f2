//! The verification queue: claiming with a lease, finishing, requeueing.

use super::*;
use crate::db::Db;

impl Db {
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
        let select = || {
            sqlx::query(
                "SELECT id FROM jobs WHERE status = 'queued' \
                 OR (status = 'running' AND lease_until < $1) ORDER BY created_at LIMIT 1",
            )
            .bind(now)
        };
        let take = "UPDATE jobs SET status = 'running', lease_until = $2, attempts = attempts + 1, \
                    started_at = $1 WHERE id = $3 AND (status = 'queued' \
                    OR (status = 'running' AND lease_until < $1))";
        match self.claim(select, take, now, lease_ms).await? {
            Some(id) => self.job(&id).await,
            None => Ok(None),
        }
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
        failures: &[String],
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
            // Another instance took over after our lease ran out and finished first, or the
            // session was erased while this job ran (erasure ends its job).
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(
            "UPDATE sessions SET status = 'completed', verdict = $2, result_json = $3, completed_at = $4 \
             WHERE id = $1 AND erased_at IS NULL",
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
        for subject in failures {
            insert_device_failure(&mut tx, subject, session_id, now).await?;
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
}

pub(super) async fn insert_device_failure(
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
