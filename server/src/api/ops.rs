//! Operations and discovery: health, readiness, metrics, the JWKS, the OpenAPI document and
//! the OAuth2 token endpoint.

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use base64::Engine;
use serde::Deserialize;
use serde_json::json;

use crate::ratelimit::Client;
use crate::server::AppState;

/// The API description, kept in sync with [`super::routes`] by a test.
pub const OPENAPI: &str = include_str!("../../openapi.json");

pub async fn healthz() -> Response {
    axum::Json(json!({"status": "ok"})).into_response()
}

/// Ready when the database answers and at least one worker has its models loaded (or the
/// instance runs none: it only serves HTTP).
pub async fn readyz(State(app): State<AppState>) -> Response {
    let database = app.db.ping().await.is_ok();
    let workers = app.workers_ready.load(Ordering::Relaxed);
    let ready = database && (workers > 0 || app.config.workers == 0);
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        axum::Json(json!({
            "status": if ready { "ready" } else { "not_ready" },
            "database": database,
            "workers": workers,
        })),
    )
        .into_response()
}

pub async fn metrics() -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::metrics::render(),
    )
        .into_response()
}

pub async fn jwks(State(app): State<AppState>) -> Response {
    match crate::keys::jwks(&app.db).await {
        Ok(keys) => (
            [(header::CACHE_CONTROL, "public, max-age=300")],
            axum::Json(keys),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

#[derive(Debug, Deserialize)]
pub struct TokenRequest {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    #[allow(dead_code)]
    scope: Option<String>,
}

/// An RFC 6749 §5.2 error body.
fn oauth_error(status: StatusCode, error: &'static str, description: &str) -> Response {
    let mut response = (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Basic realm=\"liveness\""),
        );
    }
    response
}

/// Client credentials in the form body or as HTTP Basic (RFC 6749 §2.3.1).
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

pub async fn oauth_token(
    State(app): State<AppState>,
    Extension(client): Extension<Client>,
    headers: HeaderMap,
    form: Result<Form<TokenRequest>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "expected an application/x-www-form-urlencoded body",
        );
    };
    if form.grant_type.as_deref() != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only client_credentials is supported",
        );
    }
    let credentials = basic_credentials(&headers)
        .or_else(|| Some((form.client_id.clone()?, form.client_secret.clone()?)));
    let Some((client_id, client_secret)) = credentials else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client credentials missing",
        );
    };
    let target = format!("oauth:{client_id}");
    if let Err(e) = app.check_guesses(&client, Some(&target)).await {
        let mut response = oauth_error(
            StatusCode::TOO_MANY_REQUESTS,
            "temporarily_unavailable",
            "too many failed attempts; try again later",
        );
        if let Some(s) = e.retry_after_s
            && let Ok(v) = header::HeaderValue::from_str(&s.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return response;
    }
    match app.issue_access_token(&client_id, &client_secret).await {
        Ok((token, expires_in)) => (
            [(header::CACHE_CONTROL, "no-store")],
            axum::Json(json!({
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": expires_in,
            })),
        )
            .into_response(),
        Err(e) if e.status == StatusCode::UNAUTHORIZED => {
            if let Err(e) = app.count_guess(&client, Some(&target)).await {
                return e.into_response();
            }
            oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client authentication failed",
            )
        }
        Err(e) => e.into_response(),
    }
}
