//! The webhook outbox. A delivery row is written in the same transaction as the verdict, so
//! a verdict never exists without its webhook. Dispatchers claim due rows with a lease,
//! POST them signed (`Liveness-Signature`, see the protocol crate) with the delivery id as
//! `Idempotency-Key`, and record every attempt. Failures retry with exponential backoff
//! for 24 hours. Delivery is **at least once**: an instance killed after the receiver got
//! the request but before the attempt was recorded leaves the lease to expire and the
//! delivery is sent again; receivers deduplicate on `Idempotency-Key`.

use std::time::{Duration, Instant};

use liveness_protocol::{WEBHOOK_SIGNATURE_HEADER, sign_webhook};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::server::AppState;
use crate::store::{DeliveryNext, DeliveryRow};

pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";
pub const EVENT_HEADER: &str = "Liveness-Event";
const CONCURRENT_DELIVERIES: usize = 8;

pub async fn run(state: AppState, mut stopped: watch::Receiver<bool>) {
    let slots = std::sync::Arc::new(Semaphore::new(CONCURRENT_DELIVERIES));
    let mut in_flight = JoinSet::new();
    loop {
        while in_flight.try_join_next().is_some() {}
        if *stopped.borrow() {
            break;
        }
        let Ok(permit) = slots.clone().acquire_owned().await else {
            break;
        };
        let lease = state.config.webhook_lease.as_millis() as i64;
        match state.db.claim_delivery(state.clock.now_ms(), lease).await {
            Ok(Some(delivery)) => {
                let state = state.clone();
                in_flight.spawn(async move {
                    deliver(&state, delivery).await;
                    drop(permit);
                });
                continue;
            }
            Ok(None) => drop(permit),
            Err(e) => {
                drop(permit);
                tracing::warn!(error = %e, "claiming a webhook delivery");
            }
        }
        tokio::select! {
            _ = stopped.wait_for(|s| *s) => break,
            _ = state.deliveries_queued.notified() => {}
            _ = tokio::time::sleep(state.config.poll_interval) => {}
        }
    }
    // Attempts already on the wire finish and are recorded.
    while in_flight.join_next().await.is_some() {}
}

/// Delay before retry number `attempt` (1-based): base × 2^(attempt-1), capped, plus up to
/// 10 % jitter so receivers coming back up are not hit by every sender at once.
pub fn backoff(base: Duration, max: Duration, attempt: i64) -> Duration {
    let exp = u32::try_from(attempt.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    let delay = base.saturating_mul(2u32.saturating_pow(exp)).min(max);
    let mut r = [0u8; 2];
    let jitter = if getrandom::fill(&mut r).is_ok() {
        f64::from(u16::from_le_bytes(r)) / f64::from(u16::MAX) * 0.1
    } else {
        0.0
    };
    delay.mul_f64(1.0 + jitter)
}

async fn deliver(state: &AppState, d: DeliveryRow) {
    let attempt = d.attempts + 1;
    let started_at = state.clock.now_ms();
    let started = Instant::now();
    let result = send(state, &d).await;
    let duration_ms = started.elapsed().as_millis() as i64;
    let now = state.clock.now_ms();
    let (status_code, error) = match &result {
        Ok(code) if (200..300).contains(code) => (Some(i64::from(*code)), None),
        Ok(code) => (
            Some(i64::from(*code)),
            Some(format!("the receiver answered {code}")),
        ),
        Err(e) => (None, Some(e.clone())),
    };
    let next = if error.is_none() {
        crate::metrics::webhook_attempt("delivered");
        DeliveryNext::Delivered { at: now }
    } else if now - d.created_at >= state.config.webhook_give_up_after.as_millis() as i64 {
        crate::metrics::webhook_attempt("gave_up");
        DeliveryNext::GiveUp { at: now }
    } else {
        crate::metrics::webhook_attempt("retry");
        let wait = backoff(
            state.config.webhook_backoff_base,
            state.config.webhook_backoff_max,
            attempt,
        );
        DeliveryNext::RetryAt(now + wait.as_millis() as i64)
    };
    tracing::info!(delivery = %d.id, attempt, status = ?status_code, outcome = ?next, "webhook attempt");
    if let Err(e) = state
        .db
        .record_attempt(
            &d.id,
            attempt,
            started_at,
            duration_ms,
            status_code,
            error.as_deref(),
            next,
        )
        .await
    {
        // The lease runs out and the delivery is retried: at least once, never lost.
        tracing::error!(delivery = %d.id, error = %e, "cannot record a webhook attempt");
    }
}

async fn send(state: &AppState, d: &DeliveryRow) -> Result<u16, String> {
    let tenant = state
        .db
        .tenant(&d.tenant_id)
        .await
        .map_err(|e| format!("database: {e}"))?
        .ok_or("the tenant no longer exists")?;
    let signature = sign_webhook(
        &[tenant.response_secret.as_bytes()],
        state.clock.now_s(),
        &d.body,
    )
    .map_err(|e| e.to_string())?;
    let response = state
        .http
        .post(&d.url)
        .header("content-type", "application/json")
        .header(WEBHOOK_SIGNATURE_HEADER, signature)
        .header(IDEMPOTENCY_HEADER, &d.id)
        .header(EVENT_HEADER, &d.event)
        .body(d.body.clone())
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                "the receiver did not answer in time".to_owned()
            } else if e.is_connect() {
                "cannot connect to the receiver".to_owned()
            } else {
                format!("request failed: {e}")
            }
        })?;
    Ok(response.status().as_u16())
}
