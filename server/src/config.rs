//! Server configuration: where to listen, which database, limits and timings. Every field
//! has a production default; tests shorten the timings.

use std::net::SocketAddr;
use std::time::Duration;

use crate::at_rest::KeyRing;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub bind: SocketAddr,
    /// Where `/metrics` is served (never on `bind`: it counts verdicts); `None`: nowhere.
    pub metrics_bind: Option<SocketAddr>,
    /// `sqlite://path?mode=rwc` or `postgres://…`.
    pub database_url: String,
    pub max_connections: u32,
    /// Verification workers in this instance (each holds one copy of the models). Zero makes
    /// an instance that only serves HTTP, beside worker instances on the same database.
    pub workers: usize,
    /// Open HTTP connections; past this a new one is answered 503 at once (load shedding).
    pub max_http_connections: usize,
    /// A request's headers must arrive within this.
    pub header_read_timeout: Duration,
    /// A whole request, reading its body included, is answered within this (else 408).
    /// Long enough for a 2 MB upload at 300 kbit/s.
    pub request_timeout: Duration,
    /// A connection that moves no byte for this long is closed.
    pub idle_timeout: Duration,
    /// Integrator JSON bodies.
    pub max_json_bytes: usize,
    /// A whole device upload (manifest and frames).
    pub max_submission_bytes: usize,
    /// Integrator requests per tenant per minute.
    pub tenant_requests_per_minute: i64,
    /// Failed guesses of a token or credential per minute from one client address, and
    /// against one target (a session's result token, an OAuth client id).
    pub failed_guesses_per_client: i64,
    pub failed_guesses_per_target: i64,
    /// Take the client address from the right-most `X-Forwarded-For` entry (only behind a
    /// proxy that sets it; otherwise clients could choose their own address).
    pub trust_forwarded_for: bool,
    /// Failed sessions per device key within `device_failure_window` before it cools down.
    pub device_failure_limit: i64,
    /// The same per client address, when set (higher: many users share one address). Off by
    /// default: behind a proxy without `trust_forwarded_for` every client has the proxy's
    /// address, and one attacker would cool down everyone.
    pub client_failure_limit: Option<i64>,
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
    /// Connecting to a webhook receiver; short, so a receiver that does not answer cannot
    /// hold a delivery slot for the whole timeout.
    pub webhook_connect_timeout: Duration,
    /// Development only: webhooks may go to loopback addresses (see `egress`).
    pub allow_loopback_webhooks: bool,
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
    /// Seals every stored image (see `at_rest`). The default is a key that dies with the
    /// process, for tests and in-process tools whose database dies with them; the server
    /// binary always loads the operator's ring and will not start without one.
    pub data_keys: KeyRing,
    /// How long a decided session's images are kept when its tenant set no retention.
    pub evidence_retention: Duration,
    /// How often images past their retention are looked for.
    pub retention_sweep_interval: Duration,
    /// The built web package (`scripts/build-web.sh`): with it the server hosts the browser
    /// check (`/ui/…`) and every new session's answer carries a one-time `redirect_url`.
    pub web_dir: Option<std::path::PathBuf>,
    /// The address users reach this server at, for the links it hands out
    /// (`https://liveness.example.com`); default: `http://` and the bound address.
    pub public_url: Option<String>,
    /// Evidence images in S3-compatible object storage instead of the database.
    pub object_store: Option<crate::objects::ObjectStoreConfig>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            metrics_bind: None,
            database_url: "sqlite://liveness.db?mode=rwc".into(),
            max_connections: 8,
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            max_http_connections: 1024,
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(60),
            max_json_bytes: 64 * 1024,
            max_submission_bytes: 2 * 1024 * 1024,
            tenant_requests_per_minute: 600,
            failed_guesses_per_client: 30,
            failed_guesses_per_target: 100,
            trust_forwarded_for: false,
            device_failure_limit: 5,
            client_failure_limit: None,
            device_failure_window: Duration::from_secs(180),
            hmac_tolerance: Duration::from_secs(300),
            oauth_token_ttl: Duration::from_secs(900),
            api_key_rotation_grace: Duration::from_secs(24 * 3600),
            job_lease: Duration::from_secs(120),
            webhook_lease: Duration::from_secs(60),
            webhook_timeout: Duration::from_secs(10),
            webhook_connect_timeout: Duration::from_secs(3),
            allow_loopback_webhooks: false,
            webhook_backoff_base: Duration::from_secs(10),
            webhook_backoff_max: Duration::from_secs(3600),
            webhook_give_up_after: Duration::from_secs(24 * 3600),
            poll_interval: Duration::from_millis(500),
            max_job_attempts: 3,
            capture_skew: Duration::from_secs(120),
            expiry_sweep_interval: Duration::from_secs(5),
            data_keys: KeyRing::ephemeral(),
            evidence_retention: Duration::from_secs(24 * 3600),
            retention_sweep_interval: Duration::from_secs(60),
            web_dir: None,
            public_url: None,
            object_store: None,
        }
    }
}
