//! `liveness-server`: run the verification backend, or manage tenants and keys.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use liveness_server::at_rest::{KeyRing, new_key_line};
use liveness_server::{Clock, Db, Server, ServerConfig, admin};
use serde_json::json;

#[derive(Parser, Debug)]
#[command(
    name = "liveness-server",
    version,
    about = "Face-liveness verification server"
)]
struct Cli {
    /// `sqlite://file.db?mode=rwc` (the default, created if missing) or `postgres://…`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://liveness.db?mode=rwc",
        global = true
    )]
    database_url: String,
    /// Log lines as JSON (the default) or as text for a terminal.
    #[arg(long, default_value = "json", value_parser = ["json", "text"], global = true)]
    log_format: String,
    #[command(flatten)]
    objects: ObjectStoreArgs,
    #[command(subcommand)]
    command: Command,
}

/// Evidence images in S3-compatible object storage instead of the database (for `serve`, and
/// for `admin data-keys rotate`, which re-seals them where they are).
#[derive(clap::Args, Debug)]
struct ObjectStoreArgs {
    /// The bucket (it must exist); without it images stay in the database.
    #[arg(long, env = "LIVENESS_S3_BUCKET", global = true)]
    s3_bucket: Option<String>,
    /// The store's endpoint, e.g. https://s3.eu-west-1.amazonaws.com or a MinIO URL.
    #[arg(long, env = "LIVENESS_S3_ENDPOINT", global = true)]
    s3_endpoint: Option<String>,
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1", global = true)]
    s3_region: String,
    /// Put before every object key (ending in '/').
    #[arg(long, env = "LIVENESS_S3_PREFIX", default_value = "", global = true)]
    s3_prefix: String,
    /// bucket.host/key URLs (AWS) instead of host/bucket/key (MinIO, Ceph, most others).
    #[arg(long, env = "LIVENESS_S3_VIRTUAL_HOSTED", global = true)]
    s3_virtual_hosted: bool,
    #[arg(long, env = "AWS_ACCESS_KEY_ID", hide_env_values = true, global = true)]
    s3_access_key_id: Option<String>,
    #[arg(
        long,
        env = "AWS_SECRET_ACCESS_KEY",
        hide_env_values = true,
        global = true
    )]
    s3_secret_access_key: Option<String>,
}

impl ObjectStoreArgs {
    fn config(&self) -> Result<Option<liveness_server::objects::ObjectStoreConfig>, String> {
        let Some(bucket) = &self.s3_bucket else {
            return Ok(None);
        };
        let endpoint = self
            .s3_endpoint
            .as_deref()
            .ok_or("--s3-bucket needs --s3-endpoint (or LIVENESS_S3_ENDPOINT)")?;
        let endpoint =
            url::Url::parse(endpoint).map_err(|e| format!("--s3-endpoint {endpoint}: {e}"))?;
        Ok(Some(liveness_server::objects::ObjectStoreConfig {
            endpoint,
            bucket: bucket.clone(),
            region: self.s3_region.clone(),
            access_key: self.s3_access_key_id.clone().unwrap_or_default(),
            secret_key: self.s3_secret_access_key.clone().unwrap_or_default(),
            virtual_hosted: self.s3_virtual_hosted,
            prefix: self.s3_prefix.clone(),
            timeout: Duration::from_secs(30),
        }))
    }
}

// Parsed once per process: the size of the `serve` variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the API until SIGTERM or Ctrl-C, then finish in-flight work and exit.
    Serve {
        #[arg(long, env = "LIVENESS_BIND", default_value = "127.0.0.1:8080")]
        bind: SocketAddr,
        /// Serve `/metrics` here (keep it off the public network: it counts verdicts).
        #[arg(long, env = "LIVENESS_METRICS_BIND")]
        metrics_bind: Option<SocketAddr>,
        /// Verification workers (each loads the models once); default: one per core; 0 serves
        /// HTTP only, for instances beside worker instances on one database.
        #[arg(long)]
        workers: Option<usize>,
        #[arg(long, default_value_t = 600)]
        tenant_requests_per_minute: i64,
        /// First webhook retry delay (doubles per retry).
        #[arg(long, default_value_t = 10_000)]
        webhook_backoff_base_ms: u64,
        /// A delivery or job claimed by a dead instance is retried after this lease.
        #[arg(long, default_value_t = 60_000)]
        webhook_lease_ms: u64,
        #[arg(long, default_value_t = 120_000)]
        job_lease_ms: u64,
        #[arg(long, default_value_t = 500)]
        poll_interval_ms: u64,
        /// Cool a client address down after this many failed sessions in the window (only
        /// where the server sees real client addresses; see `--trust-forwarded-for`).
        #[arg(long)]
        client_failure_limit: Option<i64>,
        /// Failed token or credential guesses per minute from one client address.
        #[arg(long, default_value_t = 30)]
        failed_guesses_per_client: i64,
        /// The same against one session or OAuth client id.
        #[arg(long, default_value_t = 100)]
        failed_guesses_per_target: i64,
        /// Take the client address from the right-most X-Forwarded-For entry (only behind a
        /// proxy that sets it).
        #[arg(long, env = "LIVENESS_TRUST_FORWARDED_FOR")]
        trust_forwarded_for: bool,
        /// Development only: let webhooks go to loopback addresses (127.0.0.0/8, ::1,
        /// localhost). Private and link-local networks stay refused.
        #[arg(long, env = "LIVENESS_ALLOW_LOOPBACK_WEBHOOKS")]
        allow_loopback_webhooks: bool,
        #[command(flatten)]
        data_keys: DataKeyArgs,
        /// Hours a decided session's images are kept when its tenant set no retention.
        #[arg(long, env = "LIVENESS_EVIDENCE_RETENTION_HOURS", default_value_t = 24)]
        evidence_retention_hours: u64,
        /// The built web package (`scripts/build-web.sh`): host the browser check at `/ui/`
        /// and answer every new session with a one-time `redirect_url`.
        #[arg(long, env = "LIVENESS_WEB_DIR")]
        web_dir: Option<std::path::PathBuf>,
        /// The address users reach this server at, for the links it hands out
        /// (default: http:// and the bound address).
        #[arg(long, env = "LIVENESS_PUBLIC_URL")]
        public_url: Option<String>,
    },
    /// Tenants, API keys and verdict signing keys.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

/// The key ring that seals stored images (see the server README): a file, or the ring itself
/// in the environment. One is required to serve.
#[derive(clap::Args, Debug)]
struct DataKeyArgs {
    #[arg(long, env = "LIVENESS_DATA_KEY_FILE")]
    data_key_file: Option<std::path::PathBuf>,
    #[arg(long, env = "LIVENESS_DATA_KEYS", hide_env_values = true)]
    data_keys: Option<String>,
}

impl DataKeyArgs {
    fn load(&self) -> Result<KeyRing, String> {
        let text = match (&self.data_key_file, &self.data_keys) {
            (Some(path), None) => std::fs::read_to_string(path)
                .map_err(|e| format!("data key file {}: {e}", path.display()))?,
            (None, Some(ring)) => ring.clone(),
            (Some(_), Some(_)) => {
                return Err(
                    "give the data keys once: --data-key-file or LIVENESS_DATA_KEYS".into(),
                );
            }
            (None, None) => {
                return Err(
                    "no data key ring: stored face images are encrypted at rest; make a key with \
                     `liveness-server admin data-keys new > data.keys` and pass \
                     --data-key-file data.keys (or LIVENESS_DATA_KEYS)"
                        .into(),
                );
            }
        };
        KeyRing::parse(&text).map_err(|e| e.to_string())
    }
}

#[derive(Subcommand, Debug)]
enum AdminCommand {
    /// Encryption at rest of stored images.
    DataKeys {
        #[command(subcommand)]
        command: DataKeyCommand,
    },
    /// How long a tenant's images are kept after the verdict.
    Retention {
        #[arg(long)]
        tenant: String,
        /// Hours; omit to go back to the server's default.
        #[arg(long)]
        hours: Option<u32>,
    },
    /// The origins that may embed a tenant's hosted page in an iframe (none: no embedding).
    FrameAncestors {
        #[arg(long)]
        tenant: String,
        /// An origin such as https://app.example.com; repeat for more.
        #[arg(long = "origin")]
        origins: Vec<String>,
    },
    /// The origins whose pages may call the device's routes from a browser (CORS, for the
    /// web package on the integrator's own site; none: only the hosted page).
    WebOrigins {
        #[arg(long)]
        tenant: String,
        /// An origin such as https://app.example.com; repeat for more.
        #[arg(long = "origin")]
        origins: Vec<String>,
    },
    /// Who read or changed a tenant's sessions, newest first.
    Audit {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        session: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Tenants (integrators).
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// API keys of a tenant.
    ApiKeys {
        #[command(subcommand)]
        command: ApiKeyCommand,
    },
    /// Verdict signing keys (published at /.well-known/jwks.json).
    Keys {
        #[command(subcommand)]
        command: SigningKeyCommand,
    },
}

#[derive(Subcommand, Debug)]
enum TenantCommand {
    /// Creates a tenant and its first API key; prints the secrets once.
    Create {
        #[arg(long)]
        name: String,
    },
    List,
}

#[derive(Subcommand, Debug)]
enum ApiKeyCommand {
    Create {
        #[arg(long)]
        tenant: String,
    },
    /// Issues a successor; the old key keeps working for the grace period.
    Rotate {
        #[arg(long)]
        key: String,
        #[arg(long, default_value_t = 86_400)]
        grace_seconds: u64,
    },
    Revoke {
        #[arg(long)]
        key: String,
    },
    List {
        #[arg(long)]
        tenant: String,
    },
}

#[derive(Subcommand, Debug)]
enum DataKeyCommand {
    /// Prints a new key ring line; put it first in the ring to make it the current key.
    New,
    /// Re-seals every stored image not sealed with the ring's current key.
    Rotate {
        #[command(flatten)]
        keys: DataKeyArgs,
    },
    /// Stored images per key id.
    Status,
}

#[derive(Subcommand, Debug)]
enum SigningKeyCommand {
    /// New current key; the old one stays published as the previous key.
    Rotate,
    List,
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let clock = Clock::default();
    match cli.command {
        Command::Serve {
            bind,
            metrics_bind,
            workers,
            tenant_requests_per_minute,
            webhook_backoff_base_ms,
            webhook_lease_ms,
            job_lease_ms,
            poll_interval_ms,
            allow_loopback_webhooks,
            client_failure_limit,
            failed_guesses_per_client,
            failed_guesses_per_target,
            trust_forwarded_for,
            data_keys,
            evidence_retention_hours,
            web_dir,
            public_url,
        } => {
            let data_keys = data_keys.load()?;
            if let Some(dir) = &web_dir
                && !dir.join("hosted.js").is_file()
            {
                return Err(format!(
                    "--web-dir {}: no hosted.js there (build it with scripts/build-web.sh)",
                    dir.display()
                ));
            }
            let defaults = ServerConfig::default();
            let config = ServerConfig {
                object_store: cli.objects.config()?,
                bind,
                metrics_bind,
                database_url: cli.database_url,
                workers: workers.unwrap_or(defaults.workers),
                tenant_requests_per_minute,
                webhook_backoff_base: Duration::from_millis(webhook_backoff_base_ms),
                webhook_lease: Duration::from_millis(webhook_lease_ms),
                job_lease: Duration::from_millis(job_lease_ms),
                poll_interval: Duration::from_millis(poll_interval_ms),
                allow_loopback_webhooks,
                client_failure_limit,
                failed_guesses_per_client,
                failed_guesses_per_target,
                trust_forwarded_for,
                data_keys,
                evidence_retention: Duration::from_secs(evidence_retention_hours * 3600),
                web_dir,
                public_url: public_url
                    .map(|u| {
                        url::Url::parse(&u)
                            .map(|u| u.as_str().trim_end_matches('/').to_owned())
                            .map_err(|e| format!("--public-url {u}: {e}"))
                    })
                    .transpose()?,
                ..defaults
            };
            let server = Server::start(config).await.map_err(|e| e.to_string())?;
            // One line on stdout for scripts that start the server on port 0.
            println!("{}", json!({"listening": server.url()}));
            shutdown_signal().await;
            tracing::info!(
                "shutting down: finishing requests, jobs and webhook attempts in flight"
            );
            server.shutdown().await;
            Ok(())
        }
        Command::Admin {
            command:
                AdminCommand::DataKeys {
                    command: DataKeyCommand::New,
                },
        } => {
            // Needs no database: printed for the operator's key file.
            println!("{}", new_key_line().map_err(|e| e.to_string())?);
            Ok(())
        }
        Command::Admin { command } => {
            let mut db = Db::connect(&cli.database_url, 2)
                .await
                .map_err(|e| e.to_string())?;
            if let Some(store) = cli.objects.config()? {
                let objects =
                    liveness_server::objects::Objects::new(&store).map_err(|e| e.to_string())?;
                db = db.with_objects(objects);
            }
            let now = clock.now_ms();
            let out = admin_command(&db, command, now)
                .await
                .map_err(|e| e.to_string())?;
            println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
            Ok(())
        }
    }
}

async fn admin_command(
    db: &Db,
    command: AdminCommand,
    now: i64,
) -> Result<serde_json::Value, liveness_server::ApiError> {
    Ok(match command {
        AdminCommand::DataKeys { command } => match command {
            DataKeyCommand::New => json!({}),
            DataKeyCommand::Rotate { keys } => {
                let keys = keys
                    .load()
                    .map_err(|e| liveness_server::ApiError::bad_request("data_keys", e))?;
                let done = liveness_server::lifecycle::reseal(db, &keys).await?;
                json!({"current": keys.current_id(), "resealed": done.resealed, "skipped": done.skipped})
            }
            DataKeyCommand::Status => json!(
                db.frames_per_key()
                    .await
                    .map_err(liveness_server::ApiError::from)?
                    .into_iter()
                    .map(|(kid, n)| json!({"key_id": kid, "images": n}))
                    .collect::<Vec<_>>()
            ),
        },
        AdminCommand::FrameAncestors { tenant, origins } => {
            let value = admin::set_frame_ancestors(db, &tenant, &origins).await?;
            json!({"tenant_id": tenant, "frame_ancestors": value})
        }
        AdminCommand::WebOrigins { tenant, origins } => {
            let value = admin::set_web_origins(db, &tenant, &origins).await?;
            json!({"tenant_id": tenant, "web_origins": value})
        }
        AdminCommand::Retention { tenant, hours } => {
            admin::set_retention(db, &tenant, hours).await?;
            json!({"tenant_id": tenant, "retention_hours": hours})
        }
        AdminCommand::Audit {
            tenant,
            session,
            limit,
        } => json!(
            db.audit_events(&tenant, session.as_deref(), limit.clamp(1, 10_000))
                .await
                .map_err(liveness_server::ApiError::from)?
                .into_iter()
                .map(|e| json!({
                    "session_id": e.session_id,
                    "action": e.action,
                    "actor": e.actor,
                    "client": e.client,
                    "at_ms": e.at,
                }))
                .collect::<Vec<_>>()
        ),
        AdminCommand::Tenant {
            command: TenantCommand::Create { name },
        } => {
            let t = admin::create_tenant(db, &name, now).await?;
            json!({
                "tenant_id": t.tenant_id,
                "webhook_secret": t.webhook_secret,
                "key_id": t.key.key_id,
                "api_key": t.key.api_key,
                "note": "the api_key and webhook_secret are shown once; store them now",
            })
        }
        AdminCommand::Tenant {
            command: TenantCommand::List,
        } => json!(
            admin::tenants(db)
                .await?
                .into_iter()
                .map(|t| json!({"tenant_id": t.id, "name": t.name}))
                .collect::<Vec<_>>()
        ),
        AdminCommand::ApiKeys { command } => match command {
            ApiKeyCommand::Create { tenant } => {
                let k = admin::create_api_key(db, &tenant, now).await?;
                json!({"key_id": k.key_id, "api_key": k.api_key})
            }
            ApiKeyCommand::Rotate { key, grace_seconds } => {
                let k = admin::rotate_api_key(db, &key, Duration::from_secs(grace_seconds), now)
                    .await?;
                json!({"key_id": k.key_id, "api_key": k.api_key, "old_key_expires_in_seconds": grace_seconds})
            }
            ApiKeyCommand::Revoke { key } => {
                admin::revoke_api_key(db, &key, now).await?;
                json!({"revoked": key})
            }
            ApiKeyCommand::List { tenant } => json!(
                admin::api_keys(db, &tenant)
                    .await?
                    .into_iter()
                    .map(|k| json!({
                        "key_id": k.id,
                        "status": k.status,
                        "created_at": k.created_at / 1000,
                        "expires_at": k.expires_at.map(|t| t / 1000),
                    }))
                    .collect::<Vec<_>>()
            ),
        },
        AdminCommand::Keys {
            command: SigningKeyCommand::Rotate,
        } => {
            json!({"kid": admin::rotate_signing_key(db, now).await?})
        }
        AdminCommand::Keys {
            command: SigningKeyCommand::List,
        } => {
            json!(admin::signing_keys(db)
            .await?
            .into_iter()
            .map(|k| json!({"kid": k.kid, "status": k.status, "created_at": k.created_at / 1000}))
            .collect::<Vec<_>>())
        }
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("liveness-server: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("liveness-server: {e}");
            ExitCode::FAILURE
        }
    }
}
