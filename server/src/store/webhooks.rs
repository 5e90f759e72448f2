//! The webhook outbox and its attempts.

use sqlx::Row;

use super::*;
use crate::db::Db;

impl Db {
    /// Claims the delivery due longest, of a tenant not in `busy` (tenants already using
    /// their share of this instance's delivery slots).
    pub async fn claim_delivery(
        &self,
        now: i64,
        lease_ms: i64,
        busy: &[String],
    ) -> Result<Option<DeliveryRow>, sqlx::Error> {
        let skip = if busy.is_empty() {
            String::new()
        } else {
            let marks: Vec<String> = (0..busy.len()).map(|i| format!("${}", i + 2)).collect();
            format!(" AND tenant_id NOT IN ({})", marks.join(", "))
        };
        let select = format!(
            "SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $1 \
             AND (lease_until IS NULL OR lease_until < $1){skip} ORDER BY next_attempt_at LIMIT 1"
        );
        let candidate = || {
            busy.iter()
                .fold(sqlx::query(&select).bind(now), |q, tenant| q.bind(tenant))
        };
        let take = "UPDATE webhook_deliveries SET lease_until = $2 WHERE id = $3 AND status = 'pending' \
                    AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until < $1)";
        let Some(id) = self.claim(candidate, take, now, lease_ms).await? else {
            return Ok(None);
        };
        sqlx::query("SELECT * FROM webhook_deliveries WHERE id = $1")
            .bind(&id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(delivery)
            .transpose()
    }

    /// Puts a claimed delivery back without an attempt, due again at `at` (its receiver's
    /// circuit is open).
    pub async fn defer_delivery(&self, delivery_id: &str, at: i64) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE webhook_deliveries SET next_attempt_at = $2, lease_until = NULL \
             WHERE id = $1 AND status = 'pending'",
        )
        .bind(delivery_id)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(())
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
}

pub(super) async fn insert_delivery(tx: &mut Tx<'_>, d: &DeliveryRow) -> Result<(), sqlx::Error> {
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
