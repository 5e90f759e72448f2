//! Cross-origin access for the web package hosted on an integrator's own site: the device's
//! routes (`POST /v1/submissions`, `POST /v1/submissions/cancel`, `GET /v1/jobs/{id}`) answer
//! browsers calling from an origin some tenant listed with `admin web-origins`. Every other
//! route stays same-origin only (the integrator's routes are for its backend, and the hosted
//! page is served from this origin).
//!
//! CORS is not what guards these routes: the submission token is (a bearer header, never a
//! cookie; the package sends `credentials: 'omit'` and no answer here allows credentials). The
//! list keeps arbitrary pages from driving the API from a user's browser. It is checked
//! against every tenant's origins, not the session's tenant's: a preflight carries no token,
//! so the tenant is not known when the browser asks, and an answer the page could read is no
//! more than its token already gives anyone outside a browser.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::server::AppState;

/// The method a cross-origin page may use on `route` (a route template), if any.
fn method_for(route: &str) -> Option<&'static str> {
    match route {
        "/v1/submissions" | "/v1/submissions/cancel" => Some("POST"),
        "/v1/jobs/{job_id}" => Some("GET"),
        _ => None,
    }
}

/// The request headers the package sends beyond the CORS-safelisted ones, as the preflight
/// answer lists them (lower case, so a request's list compares directly).
const ALLOWED_HEADERS: &str = "authorization, content-type";

/// How long a browser may keep a preflight's answer (seconds).
const PREFLIGHT_MAX_AGE: &str = "600";

/// Middleware (on every route): answers preflights for the device's routes and marks their
/// answers readable by a listed origin.
pub async fn layer(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let Some(method) = route.as_deref().and_then(method_for) else {
        return next.run(request).await;
    };
    let origin = request.headers().get(header::ORIGIN).cloned();
    if request.method() == Method::OPTIONS {
        return preflight(&app, request.headers(), method).await;
    }
    let mut response = next.run(request).await;
    if let Some(origin) = origin {
        let headers = response.headers_mut();
        headers.append(header::VARY, HeaderValue::from_static("origin"));
        if listed(&app, &origin).await {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            // A rate-limited page reads when to come back.
            headers.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static("retry-after"),
            );
        }
    }
    response
}

async fn preflight(app: &AppState, headers: &HeaderMap, method: &'static str) -> Response {
    let refuse = |why: String| {
        let mut r = ApiError::new(StatusCode::FORBIDDEN, "cors_refused", why).into_response();
        r.headers_mut()
            .insert(header::VARY, HeaderValue::from_static("origin"));
        r
    };
    let (Some(origin), Some(asked)) = (
        headers.get(header::ORIGIN),
        headers.get(header::ACCESS_CONTROL_REQUEST_METHOD),
    ) else {
        return refuse("not a CORS preflight (no Origin or Access-Control-Request-Method)".into());
    };
    if asked.as_bytes() != method.as_bytes() {
        return refuse(format!("only {method} is allowed from another origin"));
    }
    let asked_headers = headers
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).to_ascii_lowercase())
        .unwrap_or_default();
    if let Some(extra) = asked_headers
        .split(',')
        .map(str::trim)
        .find(|h| !h.is_empty() && !ALLOWED_HEADERS.split(", ").any(|a| a == *h))
    {
        return refuse(format!(
            "header {extra:?} is not allowed from another origin"
        ));
    }
    if !listed(app, origin).await {
        return refuse(format!(
            "origin {:?} is not a web origin of any tenant (admin web-origins)",
            String::from_utf8_lossy(origin.as_bytes())
        ));
    }
    let mut r = StatusCode::NO_CONTENT.into_response();
    let h = r.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(method),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(ALLOWED_HEADERS),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static(PREFLIGHT_MAX_AGE),
    );
    h.insert(header::VARY, HeaderValue::from_static("origin"));
    r
}

/// Whether `origin` (the header as sent) is an origin a tenant listed. Only a value that is
/// exactly an origin's serialisation can match (`null`, a path or odd spacing never do).
async fn listed(app: &AppState, origin: &HeaderValue) -> bool {
    let Ok(text) = origin.to_str() else {
        return false;
    };
    let canonical = url::Url::parse(text).map(|u| u.origin().ascii_serialization());
    if canonical.as_deref() != Ok(text) {
        return false;
    }
    match app.db.web_origin_listed(text).await {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!("web origins: {e}");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_devices_routes_are_cross_origin() {
        assert_eq!(method_for("/v1/submissions"), Some("POST"));
        assert_eq!(method_for("/v1/submissions/cancel"), Some("POST"));
        assert_eq!(method_for("/v1/jobs/{job_id}"), Some("GET"));
        for route in [
            "/v1/sessions",
            "/v1/sessions/{session_id}/result",
            "/v1/sessions/{session_id}/photo",
            "/oauth/token",
            "/ui/{session_id}/liveness",
        ] {
            assert_eq!(method_for(route), None, "{route}");
        }
    }
}
