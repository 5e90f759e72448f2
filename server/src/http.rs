//! The HTTP listener, with the limits `axum::serve` does not have. Without them a client
//! holding connections open (partial headers, a body at one byte per five seconds, idle
//! keep-alives) kept every one of them forever, and 600 half-open requests made `/healthz`
//! time out.
//!
//! - **Header read timeout**: a request's headers must arrive within `header_read_timeout`.
//! - **Request timeout**: a request (reading its body included) is answered within
//!   `request_timeout`, with 408 if it is not done (a layer on the router, see `api`).
//! - **Idle timeout**: a connection that moves no byte for `idle_timeout` is closed.
//! - **Connection limit with load shedding**: past `max_connections` open connections, a
//!   new one is answered `503` with `Retry-After` at once and closed, so the server stays
//!   responsive for the connections it has.
//!
//! Shutdown stops accepting, lets requests in flight finish (idle connections close at once)
//! and waits for them.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tower::ServiceExt;

/// Limits of the listener (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
}

/// Requests still in flight at shutdown get this long to finish.
const DRAIN: Duration = Duration::from_secs(30);

/// The whole answer to a connection past the limit, in the API's error format.
fn shed_response() -> Vec<u8> {
    let body =
        r#"{"error":{"code":"overloaded","message":"too many connections; retry in a second"}}"#;
    format!(
        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Serves `app` on `listener` until `stopped` turns true, then drains.
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    limits: HttpLimits,
    mut stopped: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let accepted = tokio::select! {
            _ = stopped.wait_for(|s| *s) => None,
            accepted = listener.accept() => Some(accepted),
        };
        let (stream, peer) = match accepted {
            None => break,
            Some(Ok(a)) => a,
            Some(Err(e)) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(error = %e, "accepting a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            crate::metrics::rate_limited("connections");
            connections.spawn(async move {
                let mut stream = stream;
                let _ = tokio::time::timeout(
                    Duration::from_secs(1),
                    stream.write_all(&shed_response()),
                )
                .await;
                let _ = stream.shutdown().await;
            });
            continue;
        };
        let app = app.clone();
        let stopped = stopped.clone();
        connections.spawn(async move {
            connection(stream, peer, app, limits, stopped).await;
            drop(permit);
        });
    }
    while connections.join_next().await.is_some() {}
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: axum::Router,
    limits: HttpLimits,
    mut stopped: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let io = Watched::new(stream);
    let last = io.last.clone();
    let epoch = io.epoch;
    let service = app.map_request(move |mut r: axum::http::Request<hyper::body::Incoming>| {
        r.extensions_mut().insert(ConnectInfo(peer));
        r.map(axum::body::Body::new)
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true)
        .serve_connection(TokioIo::new(io), TowerToHyperService::new(service));
    tokio::pin!(conn);
    let tick = (limits.idle_timeout / 4).max(Duration::from_millis(50));
    let mut closing = false;
    loop {
        let stopping = tokio::select! {
            done = conn.as_mut() => {
                if let Err(e) = done {
                    tracing::debug!(%peer, error = %e, "connection ended");
                }
                return;
            }
            _ = stopped.wait_for(|s| *s) => true,
            _ = tokio::time::sleep(tick) => false,
        };
        if stopping {
            if !closing {
                conn.as_mut().graceful_shutdown();
            }
            let _ = tokio::time::timeout(DRAIN, conn.as_mut()).await;
            return;
        }
        let moved = Duration::from_millis(last.load(Ordering::Relaxed));
        if !closing && epoch.elapsed().saturating_sub(moved) >= limits.idle_timeout {
            // Closes at once if no request is in flight, after it otherwise.
            closing = true;
            conn.as_mut().graceful_shutdown();
        }
    }
}

/// A TCP stream that remembers when it last moved a byte.
struct Watched {
    inner: TcpStream,
    epoch: Instant,
    last: Arc<AtomicU64>,
}

impl Watched {
    fn new(inner: TcpStream) -> Self {
        Self {
            inner,
            epoch: Instant::now(),
            last: Arc::new(AtomicU64::new(0)),
        }
    }

    fn touch(&self) {
        let ms = self.epoch.elapsed().as_millis() as u64;
        self.last.store(ms, Ordering::Relaxed);
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.touch();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.touch();
        }
        polled
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
