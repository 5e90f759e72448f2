//! Rate limits kept in the database, so they hold across instances: a fixed one-minute
//! window per tenant, and a cool-down for device keys whose sessions keep failing (an
//! attacker iterating on a spoof).

use crate::error::ApiError;
use crate::server::AppState;

const MINUTE_MS: i64 = 60_000;

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

    /// Refuses uploads from a device key with too many recent failed sessions, until the
    /// oldest of them leaves the window.
    pub async fn limit_device(&self, device_key: &str) -> Result<(), ApiError> {
        let now = self.clock.now_ms();
        let window = self.config.device_failure_window.as_millis() as i64;
        let (failures, oldest) = self.db.device_failures(device_key, now - window).await?;
        if failures >= self.config.device_failure_limit {
            crate::metrics::rate_limited("device");
            let wait_ms = oldest.map_or(window, |t| t + window - now).max(1000);
            return Err(ApiError::too_many(
                "device_cooling_down",
                format!(
                    "{failures} failed sessions from this device in the last {} s; try again later",
                    window / 1000
                ),
                (wait_ms / 1000) as u64,
            ));
        }
        Ok(())
    }
}
