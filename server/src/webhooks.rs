//! The webhook outbox. A delivery row is written in the same transaction as the verdict, so
//! a verdict never exists without its webhook. Dispatchers claim due rows with a lease,
//! POST them signed (`Liveness-Signature`, see the protocol crate) with the delivery id as
//! `Idempotency-Key`, and record every attempt. Failures retry with exponential backoff
//! for 24 hours. Delivery is **at least once**: an instance killed after the receiver got
//! the request but before the attempt was recorded leaves the lease to expire and the
//! delivery is sent again; receivers deduplicate on `Idempotency-Key`.
//!
//! One tenant's receiver cannot starve the others (40 deliveries to a port that never
//! answered once delayed another tenant's webhook by 87 s): a tenant uses at most
//! [`PER_TENANT_DELIVERIES`] of an instance's slots, connecting times out quickly, and a host
//! that timed out [`BREAKER_FAILURES`] times in a row is not tried again for
//! [`BREAKER_OPEN`] (its deliveries wait, without spending an attempt). Only timeouts open
//! the circuit: a receiver that answers, even 503, or refuses the connection frees its slot
//! at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use liveness_protocol::{WEBHOOK_SIGNATURE_HEADER, sign_webhook};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::server::AppState;
use crate::store::{DeliveryNext, DeliveryRow};

pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";
pub const EVENT_HEADER: &str = "Liveness-Event";
const CONCURRENT_DELIVERIES: usize = 8;
/// Slots of one instance a single tenant may use at once.
pub const PER_TENANT_DELIVERIES: usize = 2;
/// Consecutive failures that open a host's circuit, and how long it stays open.
pub const BREAKER_FAILURES: u32 = 5;
pub const BREAKER_OPEN: Duration = Duration::from_secs(30);

/// What this instance has in flight per tenant, and how each receiving host has been doing.
#[derive(Debug, Default)]
struct Traffic {
    per_tenant: HashMap<String, usize>,
    hosts: HashMap<String, Breaker>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Breaker {
    failures: u32,
    open_until: Option<i64>,
}

fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| Some(format!("{}:{}", u.host_str()?, u.port_or_known_default()?)))
        .unwrap_or_default()
}

pub async fn run(state: AppState, mut stopped: watch::Receiver<bool>) {
    let slots = Arc::new(Semaphore::new(CONCURRENT_DELIVERIES));
    let traffic = Arc::new(Mutex::new(Traffic::default()));
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
        let busy: Vec<String> = traffic.lock().map_or_else(
            |_| Vec::new(),
            |t| {
                t.per_tenant
                    .iter()
                    .filter(|(_, n)| **n >= PER_TENANT_DELIVERIES)
                    .map(|(id, _)| id.clone())
                    .collect()
            },
        );
        let now = state.clock.now_ms();
        match state.db.claim_delivery(now, lease, &busy).await {
            Ok(Some(delivery)) => {
                let host = host_of(&delivery.url);
                let open_until = traffic
                    .lock()
                    .ok()
                    .and_then(|t| t.hosts.get(&host).and_then(|b| b.open_until))
                    .filter(|until| *until > now);
                if let Some(until) = open_until {
                    drop(permit);
                    if let Err(e) = state.db.defer_delivery(&delivery.id, until).await {
                        tracing::warn!(delivery = %delivery.id, error = %e, "deferring a webhook delivery");
                    }
                    continue;
                }
                if let Ok(mut t) = traffic.lock() {
                    *t.per_tenant.entry(delivery.tenant_id.clone()).or_default() += 1;
                }
                let state = state.clone();
                let traffic = traffic.clone();
                in_flight.spawn(async move {
                    let tenant = delivery.tenant_id.clone();
                    let attempt = deliver(&state, delivery).await;
                    if let Ok(mut t) = traffic.lock() {
                        if let Some(n) = t.per_tenant.get_mut(&tenant) {
                            *n = n.saturating_sub(1);
                            if *n == 0 {
                                t.per_tenant.remove(&tenant);
                            }
                        }
                        if attempt != Attempt::TimedOut {
                            // A host that answers needs no entry: the map holds only hosts
                            // that are failing, so it cannot grow with every host ever seen.
                            t.hosts.remove(&host);
                        } else {
                            let breaker = t.hosts.entry(host).or_default();
                            breaker.failures += 1;
                            if breaker.failures >= BREAKER_FAILURES {
                                breaker.failures = 0;
                                breaker.open_until =
                                    Some(state.clock.now_ms() + BREAKER_OPEN.as_millis() as i64);
                            }
                        }
                    }
                    drop(permit);
                    // A slot is free (and maybe a busy tenant's share): look for work now.
                    state.deliveries_queued.notify_one();
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attempt {
    Delivered,
    Failed,
    TimedOut,
}

/// One attempt, recorded.
async fn deliver(state: &AppState, d: DeliveryRow) -> Attempt {
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
    match (&error, &result) {
        (None, _) => Attempt::Delivered,
        (_, Err(class)) if class == "timeout" => Attempt::TimedOut,
        _ => Attempt::Failed,
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
    // IP literals never reach the resolver's guard: checked here, at every attempt.
    let url = crate::egress::check_webhook_url(&d.url, state.config.allow_loopback_webhooks)
        .map_err(|_| "refused_destination".to_owned())?;
    let response = state
        .http
        .post(url)
        .header("content-type", "application/json")
        .header(WEBHOOK_SIGNATURE_HEADER, signature)
        .header(IDEMPOTENCY_HEADER, &d.id)
        .header(EVENT_HEADER, &d.event)
        .body(d.body.clone())
        .send()
        .await
        .map_err(|e| {
            // The tenant sees the class only; the operator's log has the detail.
            tracing::info!(delivery = %d.id, error = %e, "webhook attempt failed");
            crate::egress::error_class(&e).to_owned()
        })?;
    Ok(response.status().as_u16())
}
