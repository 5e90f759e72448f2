//! Rate limits kept in the database, so they hold across instances: a fixed one-minute
//! window per tenant, a cool-down for device keys whose sessions keep failing (an attacker
//! iterating on a spoof), and a limit on failed guesses of tokens and credentials (result
//! and submission tokens, OAuth client secrets) per client address and per target.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;

use crate::error::ApiError;
use crate::server::AppState;

const MINUTE_MS: i64 = 60_000;

/// One thing failed sessions are counted against, and how many it may have in the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub key: String,
    pub limit: i64,
}

/// Who sent a request, for throttling: the peer's address, or with `trust_forwarded_for`
/// the right-most `X-Forwarded-For` entry (the address the trusted proxy saw).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client(pub String);

fn client_of(headers: &HeaderMap, peer: Option<SocketAddr>, trust_forwarded_for: bool) -> Client {
    let forwarded = trust_forwarded_for
        .then(|| {
            headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(|a| a.trim().parse::<std::net::IpAddr>().ok())
                .next_back()
        })
        .flatten();
    Client(
        forwarded
            .or(peer.map(|p| p.ip()))
            .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string()),
    )
}

/// Middleware: puts the request's [`Client`] in its extensions.
pub async fn identify(State(app): State<AppState>, mut request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let client = client_of(request.headers(), peer, app.config.trust_forwarded_for);
    request.extensions_mut().insert(client);
    next.run(request).await
}

impl AppState {
    pub async fn limit_tenant(&self, tenant_id: &str) -> Result<(), ApiError> {
        let now = self.clock.now_ms();
        let window = now - now.rem_euclid(MINUTE_MS);
        let count = self
            .db
            .count_in_window(&format!("tenant:{tenant_id}"), window)
            .await?;
        if count > self.config.tenant_requests_per_minute {
            crate::metrics::rate_limited("tenant");
            return Err(ApiError::too_many(
                "rate_limited",
                format!(
                    "more than {} requests this minute",
                    self.config.tenant_requests_per_minute
                ),
                ((window + MINUTE_MS - now) / 1000) as u64 + 1,
            ));
        }
        Ok(())
    }

    /// Refuses a client, or a target (a session, an OAuth client id), that failed too many
    /// guesses this minute. Checked before the guess is looked at, so a throttled guess
    /// learns nothing even when it is right.
    pub async fn check_guesses(
        &self,
        client: &Client,
        target: Option<&str>,
    ) -> Result<(), ApiError> {
        let now = self.clock.now_ms();
        let window = now - now.rem_euclid(MINUTE_MS);
        let retry = ((window + MINUTE_MS - now) / 1000) as u64 + 1;
        let by_client = self
            .db
            .count_so_far(&format!("guess:client:{}", client.0), window)
            .await?;
        let by_target = match target {
            Some(t) => {
                self.db
                    .count_so_far(&format!("guess:target:{t}"), window)
                    .await?
            }
            None => 0,
        };
        if by_client >= self.config.failed_guesses_per_client
            || by_target >= self.config.failed_guesses_per_target
        {
            crate::metrics::rate_limited("guesses");
            return Err(ApiError::too_many(
                "too_many_failures",
                "too many failed attempts; try again later",
                retry,
            ));
        }
        Ok(())
    }

    /// Counts a failed guess against its client and target.
    pub async fn count_guess(&self, client: &Client, target: Option<&str>) -> Result<(), ApiError> {
        let now = self.clock.now_ms();
        let window = now - now.rem_euclid(MINUTE_MS);
        self.db
            .count_in_window(&format!("guess:client:{}", client.0), window)
            .await?;
        if let Some(t) = target {
            self.db
                .count_in_window(&format!("guess:target:{t}"), window)
                .await?;
        }
        Ok(())
    }

    /// Refuses an upload when any of its cool-down subjects has too many recent failed
    /// sessions.
    pub async fn limit_device(&self, subjects: &[Subject]) -> Result<(), ApiError> {
        let now = self.clock.now_ms();
        let window = self.config.device_failure_window.as_millis() as i64;
        for subject in subjects {
            let (failures, _) = self.db.device_failures(&subject.key, now - window).await?;
            if failures < subject.limit {
                continue;
            }
            crate::metrics::rate_limited("device");
            // The same words and wait whatever the subject, the count and the oldest
            // failure: a device must not be able to count its own failed sessions here.
            return Err(ApiError::too_many(
                "device_cooling_down",
                "this device cannot submit right now; try again later",
                (window / 1000) as u64,
            ));
        }
        Ok(())
    }

    /// What a failed session counts against. The device key alone is no control (a fresh
    /// key costs an attacker nothing), so also the integrator's user reference (which only
    /// the integrator's backend sets: the real control) and, when configured, the client
    /// address (shared behind NATs, so with a higher limit). Platform attestations are
    /// passed through unverified today, so they are not a subject yet.
    pub fn cooldown_subjects(
        &self,
        device_key: &str,
        tenant_id: &str,
        user_reference: Option<&str>,
        client: &Client,
    ) -> Vec<Subject> {
        let limit = self.config.device_failure_limit;
        let mut subjects = vec![Subject {
            key: device_key.to_owned(),
            limit,
        }];
        if let Some(user) = user_reference {
            subjects.push(Subject {
                key: format!(
                    "user:{tenant_id}:{}",
                    crate::tokens::sha256_hex(user.as_bytes())
                ),
                limit,
            });
        }
        if let Some(limit) = self.config.client_failure_limit
            && client.0 != "unknown"
        {
            subjects.push(Subject {
                key: format!("client:{}", client.0),
                limit,
            });
        }
        subjects
    }
}
