//! Starting and stopping an instance: the HTTP listener, the verification workers, the
//! webhook dispatcher, the expiry sweep and a janitor, sharing one [`AppState`]. Shutdown stops taking new
//! connections and new jobs, then waits for requests and jobs already in flight.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::config::ServerConfig;
use crate::db::Db;
use crate::verify::RecheckConfig;

/// What every handler and background task shares. Cheap to clone; holds no session state,
/// so instances behind a load balancer only share the database.
#[derive(Debug, Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<ServerConfig>,
    pub clock: Arc<Clock>,
    pub recheck: Arc<RecheckConfig>,
    pub http: reqwest::Client,
    /// Wakes this instance's idle workers when it stores a job or a delivery.
    pub jobs_queued: Arc<Notify>,
    pub deliveries_queued: Arc<Notify>,
    /// Workers whose models are loaded (`/readyz` wants at least one).
    pub workers_ready: Arc<AtomicUsize>,
}

#[derive(Debug)]
pub struct Server;

/// A started instance.
#[derive(Debug)]
pub struct RunningServer {
    pub addr: SocketAddr,
    /// The metrics listener, when `metrics_bind` is set.
    pub metrics_addr: Option<SocketAddr>,
    pub state: AppState,
    stop: watch::Sender<bool>,
    http: JoinHandle<()>,
    background: Vec<JoinHandle<()>>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Setup(#[from] crate::error::ApiError),
    #[error("HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    #[error("{0}")]
    Objects(#[from] crate::objects::ObjectError),
}

impl Server {
    pub async fn start(config: ServerConfig) -> Result<RunningServer, StartError> {
        Self::start_with_clock(config, Arc::new(Clock::default())).await
    }

    pub async fn start_with_clock(
        config: ServerConfig,
        clock: Arc<Clock>,
    ) -> Result<RunningServer, StartError> {
        crate::metrics::handle();
        let mut db = Db::connect(&config.database_url, config.max_connections).await?;
        if let Some(store) = &config.object_store {
            // Refuse to start rather than take uploads it cannot store.
            let objects = crate::objects::Objects::new(store)?;
            objects.check().await?;
            db = db.with_objects(objects);
        }
        // Make sure a signing key exists before the first verdict needs one.
        crate::keys::current(&db, clock.now_ms()).await?;
        let listener = TcpListener::bind(config.bind)
            .await
            .map_err(|source| StartError::Bind {
                addr: config.bind,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: config.bind,
            source,
        })?;
        // Webhooks only: every name is resolved through the egress guard, and a redirect
        // (which could point anywhere) is an answer, not an instruction.
        let http = reqwest::Client::builder()
            .timeout(config.webhook_timeout)
            .connect_timeout(config.webhook_connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(crate::egress::GuardedResolver {
                allow_loopback: config.allow_loopback_webhooks,
            }))
            .build()?;
        let mut config = config;
        if config.public_url.is_none() {
            config.public_url = Some(format!("http://{addr}"));
        }
        let state = AppState {
            db,
            config: Arc::new(config),
            clock,
            recheck: Arc::new(RecheckConfig::default()),
            http,
            jobs_queued: Arc::new(Notify::new()),
            deliveries_queued: Arc::new(Notify::new()),
            workers_ready: Arc::new(AtomicUsize::new(0)),
        };
        let (stop, stopped) = watch::channel(false);

        let mut background = Vec::new();
        for n in 0..state.config.workers {
            background.push(tokio::spawn(crate::worker::run(
                state.clone(),
                n,
                stopped.clone(),
            )));
        }
        background.push(tokio::spawn(crate::webhooks::run(
            state.clone(),
            stopped.clone(),
        )));
        background.push(tokio::spawn(janitor(state.clone(), stopped.clone())));
        background.push(tokio::spawn(crate::ending::sweep_expired(
            state.clone(),
            stopped.clone(),
        )));
        background.push(tokio::spawn(crate::lifecycle::sweep_retention(
            state.clone(),
            stopped.clone(),
        )));

        let mut metrics_addr = None;
        if let Some(bind) = state.config.metrics_bind {
            let listener = TcpListener::bind(bind)
                .await
                .map_err(|source| StartError::Bind { addr: bind, source })?;
            metrics_addr = Some(
                listener
                    .local_addr()
                    .map_err(|source| StartError::Bind { addr: bind, source })?,
            );
            let mut metrics_stopped = stopped.clone();
            background.push(tokio::spawn(async move {
                let served = axum::serve(listener, crate::api::metrics_router())
                    .with_graceful_shutdown(async move {
                        let _ = metrics_stopped.wait_for(|s| *s).await;
                    })
                    .await;
                if let Err(e) = served {
                    tracing::error!(error = %e, "metrics listener stopped");
                }
            }));
        }
        let app = crate::api::router(state.clone());
        let limits = crate::http::HttpLimits {
            max_connections: state.config.max_http_connections,
            header_read_timeout: state.config.header_read_timeout,
            idle_timeout: state.config.idle_timeout,
        };
        let http = tokio::spawn(crate::http::serve(listener, app, limits, stopped.clone()));
        tracing::info!(%addr, backend = ?state.db.backend, "liveness server listening");
        Ok(RunningServer {
            addr,
            metrics_addr,
            state,
            stop,
            http,
            background,
        })
    }
}

impl RunningServer {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn ready_workers(&self) -> usize {
        self.state.workers_ready.load(Ordering::Relaxed)
    }

    /// Graceful stop: no new connections or jobs; requests, jobs and webhook attempts in
    /// flight finish first.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.http.await;
        for task in self.background {
            let _ = task.await;
        }
        self.state.db.pool.close().await;
        tracing::info!("liveness server stopped");
    }
}

/// Drops rate-limit rows, access tokens, nonces and idempotency keys nothing looks at any
/// more.
async fn janitor(state: AppState, mut stopped: watch::Receiver<bool>) {
    loop {
        let keep = state
            .config
            .device_failure_window
            .max(std::time::Duration::from_secs(3600));
        let now = state.clock.now_ms();
        if let Err(e) = state.db.prune(now, now - keep.as_millis() as i64).await {
            tracing::warn!(error = %e, "janitor");
        }
        tokio::select! {
            _ = stopped.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(std::time::Duration::from_secs(300)) => {}
        }
    }
}
