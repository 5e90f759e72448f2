//! The HTTP API. Every route is declared once in [`routes`], which both builds the router
//! and lists what the OpenAPI document must describe (a test keeps the two in sync).
//!
//! Who may call what:
//! - integrator routes (API key, HMAC or OAuth bearer; rate-limited per tenant):
//!   `POST /v1/sessions`, `GET /v1/sessions/{id}`, `GET /v1/sessions/{id}/webhooks`;
//! - the device, with its submission token: `POST /v1/submissions`,
//!   `POST /v1/submissions/cancel`, `GET /v1/jobs/{id}`;
//! - whoever holds the result token: `…/result`, `…/photo`;
//! - anyone: health, readiness, metrics, the JWKS, the OpenAPI document, `/oauth/token`.

mod ops;
mod sessions;
mod submissions;

use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::Method;
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
    use Access::{Public, Tenant};
    vec![
        route(Method::POST, "/v1/sessions", Tenant, sessions::create),
        route(
            Method::GET,
            "/v1/sessions/{session_id}",
            Tenant,
            sessions::get,
        ),
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
        route(Method::GET, "/metrics", Public, ops::metrics),
    ]
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
    .layer(middleware::from_fn(observe))
    .layer(DefaultBodyLimit::max(state.config.max_json_bytes))
    .with_state(state)
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
