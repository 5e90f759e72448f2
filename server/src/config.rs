//! Server configuration: where to listen, which database, limits and timings. Every field
//! has a production default; tests shorten the timings.

use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub bind: SocketAddr,
    /// `sqlite://path?mode=rwc` or `postgres://…`.
    pub database_url: String,
    pub max_connections: u32,
    /// Verification workers in this instance (each holds one copy of the models).
    pub workers: usize,
    /// Integrator JSON bodies.
    pub max_json_bytes: usize,
    /// A whole device upload (manifest and frames).
    pub max_submission_bytes: usize,
    /// Integrator requests per tenant per minute.
    pub tenant_requests_per_minute: i64,
    /// Failed sessions per device key within `device_failure_window` before it cools down.
    pub device_failure_limit: i64,
    pub device_failure_window: Duration,
    /// Allowed skew of an HMAC-signed request's timestamp.
    pub hmac_tolerance: Duration,
    pub oauth_token_ttl: Duration,
    /// How long a rotated API key keeps working beside its successor.
    pub api_key_rotation_grace: Duration,
    /// A job or delivery claimed by an instance that died is taken over after this.
    pub job_lease: Duration,
    pub webhook_lease: Duration,
    pub webhook_timeout: Duration,
    /// First retry delay; each further retry doubles it, up to `webhook_backoff_max`.
    pub webhook_backoff_base: Duration,
    pub webhook_backoff_max: Duration,
    /// Deliveries are retried for this long, then marked failed.
    pub webhook_give_up_after: Duration,
    /// How often idle workers look for work other instances queued.
    pub poll_interval: Duration,
    /// Verification attempts before a job is failed for good.
    pub max_job_attempts: i64,
    /// Clock skew allowed between the device's capture start and the server.
    pub capture_skew: Duration,
    /// How often open sessions whose submission window closed are ended (with a verdict
    /// and a webhook).
    pub expiry_sweep_interval: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: "sqlite://liveness.db?mode=rwc".into(),
            max_connections: 8,
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            max_json_bytes: 64 * 1024,
            max_submission_bytes: 2 * 1024 * 1024,
            tenant_requests_per_minute: 600,
            device_failure_limit: 5,
            device_failure_window: Duration::from_secs(180),
            hmac_tolerance: Duration::from_secs(300),
            oauth_token_ttl: Duration::from_secs(900),
            api_key_rotation_grace: Duration::from_secs(24 * 3600),
            job_lease: Duration::from_secs(120),
            webhook_lease: Duration::from_secs(60),
            webhook_timeout: Duration::from_secs(10),
            webhook_backoff_base: Duration::from_secs(10),
            webhook_backoff_max: Duration::from_secs(3600),
            webhook_give_up_after: Duration::from_secs(24 * 3600),
            poll_interval: Duration::from_millis(500),
            max_job_attempts: 3,
            capture_skew: Duration::from_secs(120),
            expiry_sweep_interval: Duration::from_secs(5),
        }
    }
}
