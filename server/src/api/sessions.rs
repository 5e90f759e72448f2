//! Sessions: created by the integrator, read back by the integrator (API key) or by whoever
//! holds the session's result token.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use liveness_protocol::{
    ChallengePlan, Nonce, ResultBody, ResultMessage, ResultStatus, SessionOptions, derive_plan,
    sign_response,
};
use serde::{Deserialize, Serialize};

use crate::auth::Tenant;
use crate::error::ApiError;
use crate::server::AppState;
use crate::store::SessionRow;
use crate::tokens::{ct_eq, random_token, sha256_hex};

#[derive(Debug, Clone, Serialize)]
pub struct CreatedSession {
    pub session_id: String,
    /// Reads the result and photo; give it only to the integrator's own backend or app.
    pub result_token: String,
    /// One upload by the device, before `submission_expires_at`.
    pub submission_token: String,
    pub submission_expires_at: i64,
    pub expires_at: i64,
    pub nonce: String,
    pub plan: ChallengePlan,
    pub options: SessionOptions,
}

fn json_body(headers: &HeaderMap) -> Result<(), ApiError> {
    let ok = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the body must be application/json",
        ))
    }
}

pub async fn create(
    State(app): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    json_body(&headers)?;
    let options = SessionOptions::from_json(&body)
        .map_err(|e| ApiError::bad_request(e.code(), e.to_string()))?;
    let nonce = Nonce::random().map_err(|e| ApiError::internal("nonce", e))?;
    let created = create_session(&app, &tenant.id, options, nonce).await?;
    Ok((StatusCode::CREATED, axum::Json(created)).into_response())
}

/// Creates a session for `tenant_id` with `options` and `nonce` — what `POST /v1/sessions`
/// does with a fresh random nonce. The evaluation harness (`liveness eval`) calls it with
/// nonces from its seed so a run's plans are reproducible; nothing else should choose a
/// nonce.
pub async fn create_session(
    app: &AppState,
    tenant_id: &str,
    options: SessionOptions,
    nonce: Nonce,
) -> Result<CreatedSession, ApiError> {
    let plan = derive_plan(&nonce, &options)
        .map_err(|e| ApiError::bad_request(e.code(), e.to_string()))?;
    let now = app.clock.now_ms();
    let ttl = |s: Result<u32, _>| {
        s.map(|s: u32| i64::from(s) * 1000)
            .map_err(|e: liveness_protocol::ProtocolError| {
                ApiError::bad_request(e.code(), e.to_string())
            })
    };
    let expires_at = now + ttl(options.session_ttl_seconds())?;
    let submission_expires_at = (now + ttl(options.submission_ttl_seconds())?).min(expires_at);
    let session_id = random_token("ses_", 16)?;
    let result_token = random_token("rt_", 32)?;
    let submission_token = random_token("st_", 32)?;
    let row = SessionRow {
        id: session_id.clone(),
        tenant_id: tenant_id.to_owned(),
        options_json: json(&options)?,
        nonce: nonce.to_b64url(),
        plan_json: json(&plan)?,
        result_token_sha256: sha256_hex(result_token.as_bytes()),
        submission_token_sha256: sha256_hex(submission_token.as_bytes()),
        submission_expires_at,
        expires_at,
        created_at: now,
        status: "created".into(),
        submitted_at: None,
        submission_sha256: None,
        device_key: None,
        job_id: None,
        verdict: None,
        result_json: None,
    };
    app.db.insert_session(&row).await?;
    Ok(CreatedSession {
        session_id,
        result_token,
        submission_token,
        submission_expires_at: submission_expires_at / 1000,
        expires_at: expires_at / 1000,
        nonce: nonce.to_b64url(),
        plan,
        options,
    })
}

fn json<T: Serialize>(value: &T) -> Result<String, ApiError> {
    serde_json::to_string(value).map_err(|e| ApiError::internal("encode", e))
}

/// The result as stored, or what it is while there is none.
pub(crate) fn result_of(app: &AppState, s: &SessionRow) -> Result<ResultBody, ApiError> {
    if let Some(json) = &s.result_json {
        return ResultBody::from_json(json.as_bytes())
            .map_err(|e| ApiError::internal("stored result", e));
    }
    let options = SessionOptions::from_json(s.options_json.as_bytes())
        .map_err(|e| ApiError::internal("stored options", e))?;
    let mut body = ResultBody::pending(&s.id);
    body.job_id = s.job_id.clone();
    body.relay_state = options.relay_state;
    if s.status == "created" && app.clock.now_ms() >= s.submission_expires_at {
        body = body.with_message(ResultMessage::TimedOut);
        body.status = ResultStatus::Incompleted;
        body.live = Some(false);
    }
    Ok(body)
}

#[derive(Debug, Serialize)]
pub struct SessionView {
    pub session_id: String,
    pub status: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub submission_expires_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    pub result: ResultBody,
}

async fn own_session(app: &AppState, tenant: &Tenant, id: &str) -> Result<SessionRow, ApiError> {
    match app.db.session(id).await? {
        Some(s) if s.tenant_id == tenant.id => Ok(s),
        // Another tenant's session looks exactly like a missing one.
        _ => Err(ApiError::not_found()),
    }
}

pub async fn get(
    State(app): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let s = own_session(&app, &tenant, &id).await?;
    let result = result_of(&app, &s)?;
    Ok(axum::Json(SessionView {
        session_id: s.id,
        status: s.status,
        created_at: s.created_at / 1000,
        expires_at: s.expires_at / 1000,
        submission_expires_at: s.submission_expires_at / 1000,
        job_id: s.job_id,
        result,
    })
    .into_response())
}

#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
    #[serde(default)]
    signed: Option<bool>,
}

/// Checks a result token in constant time; an unknown session is compared against a dummy
/// hash so both failures take the same path and give the same answer.
async fn by_result_token(
    app: &AppState,
    id: &str,
    token: Option<&str>,
) -> Result<SessionRow, ApiError> {
    let session = app.db.session(id).await?;
    let presented = sha256_hex(token.unwrap_or_default().as_bytes());
    let stored = session
        .as_ref()
        .map_or_else(|| "0".repeat(64), |s| s.result_token_sha256.clone());
    match session {
        Some(s) if ct_eq(&presented, &stored) && token.is_some() => Ok(s),
        _ => Err(ApiError::not_found()),
    }
}

pub async fn result(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<TokenQuery>,
) -> Result<Response, ApiError> {
    let s = by_result_token(&app, &id, q.token.as_deref()).await?;
    let body = result_of(&app, &s)?;
    if q.signed.unwrap_or(false) {
        let tenant = app
            .db
            .tenant(&s.tenant_id)
            .await?
            .ok_or_else(|| ApiError::internal("result", "tenant missing"))?;
        let jwt = sign_response(&body, tenant.response_secret.as_bytes(), app.clock.now_s())
            .map_err(|e| ApiError::internal("signed result", e))?;
        return Ok(([(header::CONTENT_TYPE, "application/jwt")], jwt).into_response());
    }
    Ok(axum::Json(body).into_response())
}

pub async fn photo(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<TokenQuery>,
) -> Result<Response, ApiError> {
    let s = by_result_token(&app, &id, q.token.as_deref()).await?;
    let Some(jpeg) = app.db.photo(&s.id).await? else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no_photo",
            "no evidence has been submitted for this session yet",
        ));
    };
    Ok((
        [
            (header::CONTENT_TYPE, "image/jpeg"),
            (header::CACHE_CONTROL, "private, no-store"),
        ],
        jpeg,
    )
        .into_response())
}

#[derive(Debug, Serialize)]
pub struct AttemptView {
    pub attempt: i64,
    pub started_at_ms: i64,
    pub duration_ms: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_code: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct DeliveryView {
    pub id: String,
    pub event: String,
    pub url: String,
    pub status: String,
    pub attempts: Vec<AttemptView>,
    pub created_at_ms: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_at_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivered_at_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

pub async fn webhooks(
    State(app): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let s = own_session(&app, &tenant, &id).await?;
    let mut out = Vec::new();
    for d in app.db.deliveries(&s.id).await? {
        let attempts = app
            .db
            .attempts(&d.id)
            .await?
            .into_iter()
            .map(|a| AttemptView {
                attempt: a.attempt,
                started_at_ms: a.started_at,
                duration_ms: a.duration_ms,
                status_code: a.status_code,
                error: a.error,
            })
            .collect();
        out.push(DeliveryView {
            next_attempt_at_ms: (d.status == "pending").then_some(d.next_attempt_at),
            id: d.id,
            event: d.event,
            url: d.url,
            status: d.status,
            attempts,
            created_at_ms: d.created_at,
            delivered_at_ms: d.delivered_at,
            last_error: d.last_error,
        });
    }
    Ok(axum::Json(serde_json::json!({ "deliveries": out })).into_response())
}
