//! The HTTP API. Every route is declared once in [`routes`], which both builds the router
//! and lists what the OpenAPI document must describe (a test keeps the two in sync).
//!
//! Who may call what:
//! - integrator routes (API key, HMAC or OAuth bearer; rate-limited per tenant):
//!   `POST /v1/sessions`, `GET /v1/sessions/{id}`, `GET /v1/sessions/{id}/webhooks`;
//! - the device, with its submission token: `POST /v1/submissions`,
//!   `POST /v1/submissions/cancel`, `GET /v1/jobs/{id}`;
//! - whoever holds the result token: `…/result`, `…/photo`;
//! - anyone: health, readiness, the JWKS, the OpenAPI document, `/oauth/token`;
//! - the hosted page ([`hosted`]; a one-time link, then the page's own tokens): `/ui/…`. These
//!   are the page's, not an integrator API, and stay out of the OpenAPI document.
//!
//! The device's routes also answer pages on a tenant's listed web origins ([`cors`]); the
//! rest is same-origin only.
//!
//! `/metrics` is not among them: it counts verdicts, which a device must never learn (an
//! attacker tuning a spoof watches them move). It is served on its own listener
//! ([`metrics_router`], `metrics_bind`), for the operator's network only.

mod cors;
pub mod hosted;
mod ops;
mod sessions;
mod submissions;

use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on};

pub use sessions::{CreatedSession, create_session};

use crate::error::ApiError;
use crate::server::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Public,
    Tenant,
    /// The hosted page's routes (public, not in the OpenAPI document).
    Page,
}

pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    handler: MethodRouter<AppState>,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

fn route<H, T>(method: Method, path: &'static str, access: Access, handler: H) -> Route
where
    H: axum::handler::Handler<T, AppState>,
    T: 'static,
{
    let filter = MethodFilter::try_from(method.clone()).unwrap_or(MethodFilter::GET);
    Route {
        method,
        path,
        access,
        handler: on(filter, handler),
    }
}

/// Every route of the API.
pub fn routes() -> Vec<Route> {
    use Access::{Page, Public, Tenant};
    vec![
        route(Method::POST, "/v1/sessions", Tenant, sessions::create),
        route(
            Method::GET,
            "/v1/sessions/{session_id}",
            Tenant,
            sessions::get,
        ),
        route(
            Method::DELETE,
            "/v1/sessions/{session_id}",
            Tenant,
            sessions::erase,
        ),
        route(Method::GET, "/v1/audit", Tenant, sessions::audit),
        route(
            Method::GET,
            "/v1/sessions/{session_id}/webhooks",
            Tenant,
            sessions::webhooks,
        ),
        route(
            Method::GET,
            "/v1/sessions/{session_id}/result",
            Public,
            sessions::result,
        ),
        route(
            Method::GET,
            "/v1/sessions/{session_id}/photo",
            Public,
            sessions::photo,
        ),
        route(Method::POST, "/v1/submissions", Public, submissions::submit),
        route(
            Method::POST,
            "/v1/submissions/cancel",
            Public,
            submissions::cancel,
        ),
        route(Method::GET, "/v1/jobs/{job_id}", Public, submissions::job),
        route(Method::POST, "/oauth/token", Public, ops::oauth_token),
        route(Method::GET, "/.well-known/jwks.json", Public, ops::jwks),
        route(Method::GET, "/v1/openapi.json", Public, ops::openapi),
        route(Method::GET, "/healthz", Public, ops::healthz),
        route(Method::GET, "/readyz", Public, ops::readyz),
        route(Method::GET, "/ui/{session_id}/liveness", Page, hosted::page),
        route(
            Method::POST,
            "/ui/{session_id}/handoff",
            Page,
            hosted::handoff,
        ),
        route(
            Method::GET,
            "/ui/{session_id}/progress",
            Page,
            hosted::progress,
        ),
        route(
            Method::POST,
            "/ui/{session_id}/cancel",
            Page,
            hosted::cancel,
        ),
        route(Method::GET, "/ui/assets/{*path}", Page, hosted::asset),
    ]
}

/// The operator's listener: `GET /metrics` (Prometheus text) and nothing else.
pub fn metrics_router() -> Router {
    Router::new().route("/metrics", axum::routing::get(ops::metrics))
}

pub fn router(state: AppState) -> Router {
    let mut app = Router::new();
    for r in routes() {
        let mut handler = r.handler;
        if r.path == "/v1/submissions" {
            handler = handler.layer(DefaultBodyLimit::max(state.config.max_submission_bytes));
        }
        if r.access == Access::Tenant {
            handler = handler.route_layer(middleware::from_fn_with_state(
                state.clone(),
                crate::auth::require_tenant,
            ));
        }
        app = app.route(r.path, handler);
    }
    app.fallback(|| async {
        ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "no_route",
            "no such route",
        )
    })
    .layer(tower_http::timeout::TimeoutLayer::with_status_code(
        StatusCode::REQUEST_TIMEOUT,
        state.config.request_timeout,
    ))
    .layer(middleware::from_fn_with_state(state.clone(), cors::layer))
    .layer(middleware::from_fn(harden))
    .layer(middleware::from_fn_with_state(
        state.clone(),
        crate::ratelimit::identify,
    ))
    .layer(middleware::from_fn(observe))
    .layer(DefaultBodyLimit::max(state.config.max_json_bytes))
    .with_state(state)
}

/// Every answer: `nosniff` (the photo endpoint must never be read as a page), a CSP that
/// allows nothing (unless the hosted page set its own), no referrer, and `no-store` except
/// on the two public documents and the web package's files, which are meant to be cached.
/// Errors axum answers itself (a bad query, a body over the limit) come out in the API's
/// JSON error format like every other error; the hosted page's HTML notices stay pages.
async fn harden(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let mut response = next.run(request).await;
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    // JSON is already the API's format; the hosted page's own notices (a used or expired
    // link) are pages for a person.
    let keep =
        content_type.starts_with(b"application/json") || content_type.starts_with(b"text/html");
    if (status.is_client_error() || status.is_server_error()) && !keep {
        let text = axum::body::to_bytes(std::mem::take(response.body_mut()), 4096)
            .await
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let code = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
            StatusCode::NOT_FOUND => "no_route",
            StatusCode::UNPROCESSABLE_ENTITY => "unprocessable",
            s if s.is_server_error() => "internal",
            _ => "bad_request",
        };
        let message = if text.is_empty() {
            status.canonical_reason().unwrap_or("error").to_owned()
        } else {
            text
        };
        let mut json = ApiError::new(status, code, message).into_response();
        // Keep what the original answer said beyond its body (Allow, Retry-After, …).
        for (name, value) in response.headers() {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                json.headers_mut().insert(name.clone(), value.clone());
            }
        }
        response = json;
    }
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(
            "default-src 'none'; frame-ancestors 'none'",
        ));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    let cacheable = matches!(path.as_str(), "/.well-known/jwks.json" | "/v1/openapi.json")
        || (path.starts_with("/ui/assets/") && status.is_success());
    if !cacheable {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Logs and counts every request by its route template: never the raw path or query,
/// which carry session ids and result tokens.
async fn observe(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await.into_response();
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    crate::metrics::http_request(&route, method.as_str(), status, elapsed);
    tracing::info!(
        method = %method,
        route = %route,
        status,
        ms = elapsed.as_secs_f64() * 1e3,
        "request"
    );
    response
}
