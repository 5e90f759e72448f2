//! The hosted browser flow: the page the server serves for a session (the `redirect_url` of
//! its creation answer), the web package's files, and the phone hand-off.
//!
//! - `GET /ui/{session}/liveness?otp=…` redeems a one-time link: the page gets a fresh
//!   submission token (the session's earlier one stops working, so only the browser that
//!   opened the latest link can upload) and, for the integrator's link, a watch token.
//! - `POST /ui/{session}/handoff` (watch token) makes the phone's one-time link and its QR
//!   code; `GET /ui/{session}/progress` (watch token) is what the desktop polls while the
//!   phone runs the check; `POST /ui/{session}/cancel` (watch token) ends it from the desktop.
//!   Progress says where the session is, never its verdict.
//! - `GET /ui/assets/{file}`: the web package from `web_dir`, names checked against a
//!   narrow pattern, never a path.
//!
//! Every page has a CSP that allows this origin only (and `wasm-unsafe-eval` for the core),
//! `frame-ancestors` from the tenant's setting (`admin frame-ancestors`), no referrer (the
//! code is in the URL).

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use liveness_protocol::{ChallengePlan, SessionOptions};
use serde::{Deserialize, Serialize};

use super::submissions::bearer;
use crate::ending::{CancelReason, Ending};
use crate::error::ApiError;
use crate::ratelimit::Client;
use crate::server::AppState;
use crate::store::{NewLink, Redeemed, SessionRow};
use crate::tokens::{random_token, sha256_hex};

/// Link kinds: the integrator's (`redirect_url`) and the phone hand-off's.
pub const PAGE: &str = "page";
pub const PHONE: &str = "phone";

/// Makes a one-time link of `kind` for the session, expiring with its submission window.
pub async fn new_link(
    app: &AppState,
    session_id: &str,
    kind: &str,
    expires_at_ms: i64,
) -> Result<String, ApiError> {
    let code = random_token("otp_", 24)?;
    app.db
        .insert_link(&NewLink {
            code_sha256: &sha256_hex(code.as_bytes()),
            session_id,
            kind,
            created_at: app.clock.now_ms(),
            expires_at: expires_at_ms,
        })
        .await?;
    let base = app.config.public_url.as_deref().unwrap_or_default();
    let mut url = url::Url::parse(base)
        .and_then(|u| u.join(&format!("/ui/{session_id}/liveness")))
        .map_err(|e| ApiError::internal("public_url", e))?;
    url.query_pairs_mut().append_pair("otp", &code);
    Ok(url.into())
}

/// The page's JSON (in a `<script type="application/json">`): what the core needs, the
/// tokens of this page, and where the browser goes when the check ends.
#[derive(Debug, Serialize)]
struct Descriptor {
    session_id: String,
    nonce: String,
    plan: ChallengePlan,
    submission_token: String,
    submission_expires_at: i64,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    watch_token: Option<String>,
    /// Where the browser goes per outcome (`completed`, `error`, `cancelled`), with the
    /// session id and relay state in the query; absent: the page says it is done.
    exits: Exits,
}

#[derive(Debug, Default, Serialize)]
struct Exits {
    #[serde(skip_serializing_if = "Option::is_none")]
    completed: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cancelled: Option<String>,
}

fn exit_url(base: Option<&String>, session_id: &str, relay_state: Option<&str>) -> Option<String> {
    let mut url = url::Url::parse(base?).ok()?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("session_id", session_id);
        if let Some(relay) = relay_state {
            q.append_pair("relay_state", relay);
        }
    }
    Some(url.into())
}

fn exits(options: &SessionOptions, session_id: &str) -> Exits {
    let relay = options.relay_state.as_deref();
    let success = options.redirect_url.as_ref();
    let error = options.error_url.as_ref().or(success);
    let cancel = options.cancel_url.as_ref().or(error);
    Exits {
        completed: exit_url(success, session_id, relay),
        error: exit_url(error, session_id, relay),
        cancelled: exit_url(cancel, session_id, relay),
    }
}

fn csp(frame_ancestors: Option<&str>) -> String {
    format!(
        "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; \
         img-src 'self' blob: data:; style-src 'self'; media-src 'self' blob: mediastream:; \
         base-uri 'none'; form-action 'none'; frame-ancestors {}",
        frame_ancestors.unwrap_or("'none'")
    )
}

fn html_response(status: StatusCode, csp: &str, body: String) -> Response {
    let mut response = (status, body).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(
        header::HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static("camera=(self), microphone=(), geolocation=()"),
    );
    response
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A page that says why there is no check here (the link was used, expired, unknown).
fn notice(status: StatusCode, code: &str, title: &str, text: &str) -> Response {
    let body = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><link rel=\"icon\" href=\"data:,\"><link rel=\"stylesheet\" href=\"/ui/assets/hosted.css\"></head>\
         <body><main class=\"hosted-notice\" data-code=\"{code}\"><h1>{title}</h1><p>{text}</p>\
         </main></body></html>\n",
        title = escape(title),
        text = escape(text),
        code = escape(code),
    );
    html_response(status, &csp(None), body)
}

fn disabled() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "hosted_flow_disabled",
        "this server does not host the browser check (no web_dir)",
    )
}

#[derive(Debug, Deserialize)]
pub struct LinkQuery {
    otp: Option<String>,
}

pub async fn page(
    State(app): State<AppState>,
    Extension(client): Extension<Client>,
    Path(session_id): Path<String>,
    Query(query): Query<LinkQuery>,
) -> Result<Response, ApiError> {
    if app.config.web_dir.is_none() {
        return Err(disabled());
    }
    app.check_guesses(&client, Some(&session_id)).await?;
    let unknown = || {
        notice(
            StatusCode::NOT_FOUND,
            "link_unknown",
            "This link is not valid",
            "Check that you opened the whole link you were sent, or start again from the \
             service that sent you here.",
        )
    };
    let Some(code) = query.otp.filter(|c| c.starts_with("otp_") && c.len() < 100) else {
        app.count_guess(&client, Some(&session_id)).await?;
        return Ok(unknown());
    };
    let submission_token = random_token("st_", 32)?;
    let now = app.clock.now_ms();
    // The watch token is kept only for the integrator's link (the desktop that may hand off).
    let watch = random_token("wt_", 32)?;
    let redeemed = app
        .db
        .redeem_link(
            &session_id,
            &sha256_hex(code.as_bytes()),
            &sha256_hex(submission_token.as_bytes()),
            &sha256_hex(watch.as_bytes()),
            now,
        )
        .await?;
    let kind = match redeemed {
        Redeemed::Opened { kind } => kind,
        Redeemed::Unknown => {
            app.count_guess(&client, Some(&session_id)).await?;
            return Ok(unknown());
        }
        Redeemed::Used => {
            return Ok(notice(
                StatusCode::GONE,
                "link_used",
                "This link was already used",
                "Each link opens the check once. Go back to the service that sent you here \
                 to start again.",
            ));
        }
        Redeemed::Expired => {
            return Ok(notice(
                StatusCode::GONE,
                "link_expired",
                "This link has expired",
                "Links work for a few minutes only. Go back to the service that sent you \
                 here to start again.",
            ));
        }
        Redeemed::SessionClosed => {
            return Ok(notice(
                StatusCode::GONE,
                "session_closed",
                "This check is over",
                "This check has already ended. Go back to the service that sent you here.",
            ));
        }
    };
    let Some(session) = app.db.session(&session_id).await? else {
        return Ok(unknown());
    };
    let options = SessionOptions::from_json(session.options_json.as_bytes())
        .map_err(|e| ApiError::internal("stored options", e))?;
    let plan: ChallengePlan = serde_json::from_str(&session.plan_json)
        .map_err(|e| ApiError::internal("stored plan", e))?;
    let phone = kind == PHONE;
    let descriptor = Descriptor {
        session_id: session.id.clone(),
        nonce: session.nonce.clone(),
        plan,
        submission_token,
        submission_expires_at: session.submission_expires_at / 1000,
        kind: if phone { PHONE } else { PAGE },
        watch_token: (!phone).then_some(watch),
        // The phone's page ends on a "go back to your computer" screen: the desktop, which
        // follows the session, is the one that goes on to the integrator's pages.
        exits: if phone {
            Exits::default()
        } else {
            exits(&options, &session.id)
        },
    };
    let json = serde_json::to_string(&descriptor)
        .map_err(|e| ApiError::internal("descriptor", e))?
        // Inside a <script> element nothing may close it.
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    let body = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\"><title>Liveness check</title><link rel=\"icon\" href=\"data:,\">\
         <link rel=\"stylesheet\" href=\"/ui/assets/liveness.css\">\
         <link rel=\"stylesheet\" href=\"/ui/assets/hosted.css\">\
         <script type=\"application/json\" id=\"liveness-session\">{json}</script>\
         <script type=\"module\" src=\"/ui/assets/hosted.js\"></script></head>\
         <body><main id=\"liveness-root\" class=\"hosted\"><noscript>This check needs \
         JavaScript and WebAssembly.</noscript></main></body></html>\n"
    );
    let ancestors = app.db.frame_ancestors(&session.tenant_id).await?;
    Ok(html_response(
        StatusCode::OK,
        &csp(ancestors.as_deref()),
        body,
    ))
}

/// The files of the web package a page may load: a name of lowercase letters, digits, `_`,
/// `-` and `.` (no `..`), at the top or under `models/`, with a known extension.
fn asset_type(path: &str) -> Option<&'static str> {
    let name = path.strip_prefix("models/").unwrap_or(path);
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && !name.contains("..")
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-.".contains(&b));
    if !plain {
        return None;
    }
    let ext = name.rsplit_once('.')?.1;
    match (path.starts_with("models/"), ext) {
        (true, "onnx") => Some("application/octet-stream"),
        (false, "js") => Some("text/javascript; charset=utf-8"),
        (false, "css") => Some("text/css; charset=utf-8"),
        (false, "wasm") => Some("application/wasm"),
        (false, "json") => Some("application/json"),
        _ => None,
    }
}

pub async fn asset(
    State(app): State<AppState>,
    Path(path): Path<String>,
) -> Result<Response, ApiError> {
    let Some(dir) = &app.config.web_dir else {
        return Err(disabled());
    };
    let Some(content_type) = asset_type(&path) else {
        return Err(ApiError::not_found());
    };
    let bytes = match tokio::fs::read(dir.join(&path)).await {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(ApiError::not_found()),
        Err(e) => return Err(ApiError::internal("web asset", e)),
    };
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type),
            // The package is replaced as a whole on upgrade; a short cache keeps a page's
            // reloads fast without serving a stale core for long.
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        bytes,
    )
        .into_response())
}

/// The session a page's watch token belongs to (and is in the path). Unknown tokens count
/// as failed guesses.
async fn watched(
    app: &AppState,
    client: &Client,
    headers: &HeaderMap,
    session_id: &str,
) -> Result<SessionRow, ApiError> {
    app.check_guesses(client, None).await?;
    let found = match bearer(headers).filter(|t| t.starts_with("wt_")) {
        Some(token) => app
            .db
            .session_by_watch_token(&sha256_hex(token.as_bytes()))
            .await?
            .filter(|s| s.id == session_id),
        None => None,
    };
    match found {
        Some(s) => Ok(s),
        None => {
            app.count_guess(client, None).await?;
            Err(ApiError::unauthorized(
                "invalid_watch_token",
                "missing or unknown watch token",
            ))
        }
    }
}

#[derive(Debug, Serialize)]
struct Handoff {
    url: String,
    /// The URL as a QR code (SVG).
    qr_svg: String,
    expires_at: i64,
}

pub async fn handoff(
    State(app): State<AppState>,
    Extension(client): Extension<Client>,
    headers: HeaderMap,
    Path(session_id): Path<String>,
) -> Result<Response, ApiError> {
    let s = watched(&app, &client, &headers, &session_id).await?;
    if s.status != "created" || app.clock.now_ms() >= s.submission_expires_at {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "session_closed",
            "the session no longer waits for evidence",
        ));
    }
    let url = new_link(&app, &s.id, PHONE, s.submission_expires_at).await?;
    let qr = qrcode::QrCode::with_error_correction_level(url.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| ApiError::internal("qr code", e))?;
    let qr_svg = qr
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .build();
    Ok(axum::Json(Handoff {
        url,
        qr_svg,
        expires_at: s.submission_expires_at / 1000,
    })
    .into_response())
}

#[derive(Debug, Serialize)]
struct Progress {
    /// `waiting` (no phone yet), `phone_opened`, `submitted` (evidence is being checked),
    /// `done` (decided), `cancelled` or `expired`.
    state: &'static str,
    /// Why a cancelled session ended (`user_cancelled`, `camera_unavailable`,
    /// `device_error`).
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

pub async fn progress(
    State(app): State<AppState>,
    Extension(client): Extension<Client>,
    headers: HeaderMap,
    Path(session_id): Path<String>,
) -> Result<Response, ApiError> {
    let s = watched(&app, &client, &headers, &session_id).await?;
    let (state, reason) = match s.status.as_str() {
        "created" if app.clock.now_ms() >= s.submission_expires_at => ("expired", None),
        "created" => match app.db.link_state(&s.id, PHONE).await? {
            (_, true) => ("phone_opened", None),
            _ => ("waiting", None),
        },
        "submitted" => ("submitted", None),
        "completed" => ("done", None),
        "cancelled" => ("cancelled", Some(cancel_reason(&s))),
        _ => ("expired", None),
    };
    Ok(axum::Json(Progress { state, reason }).into_response())
}

/// The device's reason, as the ending recorded it in the result.
fn cancel_reason(s: &SessionRow) -> String {
    let text = s
        .result_json
        .as_deref()
        .and_then(|j| serde_json::from_str::<serde_json::Value>(j).ok())
        .and_then(|v| v["reasons"][0]["reason"].as_str().map(str::to_owned))
        .unwrap_or_default();
    [
        CancelReason::UserCancelled,
        CancelReason::CameraUnavailable,
        CancelReason::DeviceError,
    ]
    .into_iter()
    .map(CancelReason::as_str)
    .find(|r| text.ends_with(r))
    .unwrap_or(CancelReason::UserCancelled.as_str())
    .to_owned()
}

pub async fn cancel(
    State(app): State<AppState>,
    Extension(client): Extension<Client>,
    headers: HeaderMap,
    Path(session_id): Path<String>,
) -> Result<Response, ApiError> {
    let s = watched(&app, &client, &headers, &session_id).await?;
    if s.status == "created" {
        crate::ending::end_session(&app, &s, Ending::Cancelled(CancelReason::UserCancelled))
            .await?;
    }
    let status = app
        .db
        .session(&s.id)
        .await?
        .map_or_else(|| "unknown".to_owned(), |s| s.status);
    Ok(axum::Json(serde_json::json!({ "session_id": s.id, "status": status })).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_package_files_are_assets() {
        assert_eq!(
            asset_type("liveness.js"),
            Some("text/javascript; charset=utf-8")
        );
        assert_eq!(asset_type("liveness_web_bg.wasm"), Some("application/wasm"));
        assert_eq!(
            asset_type("models/face_mesh.onnx"),
            Some("application/octet-stream")
        );
        for bad in [
            "../Cargo.toml",
            "models/../../etc/passwd.js",
            "..js",
            ".hidden.js",
            "models/licenses/LICENSE",
            "Liveness.js",
            "a/b.js",
            "models/x.js",
            "liveness.onnx",
            "",
        ] {
            assert_eq!(asset_type(bad), None, "{bad}");
        }
    }

    #[test]
    fn exits_carry_session_and_relay_state_and_fall_back() {
        let options = SessionOptions {
            redirect_url: Some("https://app.example/done?x=1".into()),
            cancel_url: Some("https://app.example/cancel".into()),
            relay_state: Some("a&b=c".into()),
            ..SessionOptions::default()
        };
        let e = exits(&options, "ses_1");
        assert_eq!(
            e.completed.as_deref(),
            Some("https://app.example/done?x=1&session_id=ses_1&relay_state=a%26b%3Dc")
        );
        assert_eq!(
            e.error.as_deref(),
            Some("https://app.example/done?x=1&session_id=ses_1&relay_state=a%26b%3Dc")
        );
        assert_eq!(
            e.cancelled.as_deref(),
            Some("https://app.example/cancel?session_id=ses_1&relay_state=a%26b%3Dc")
        );
        let none = exits(&SessionOptions::default(), "ses_1");
        assert!(none.completed.is_none() && none.error.is_none() && none.cancelled.is_none());
    }

    #[test]
    fn csp_allows_only_this_origin_and_the_tenants_frames() {
        let c = csp(None);
        assert!(c.contains("default-src 'none'") && c.ends_with("frame-ancestors 'none'"));
        assert!(!c.contains("unsafe-inline") && !c.contains("*"));
        assert!(csp(Some("https://app.example")).ends_with("frame-ancestors https://app.example"));
    }
}
