//! Sessions: created by the integrator, read back by the integrator (API key) or by whoever
//! holds the session's result token.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
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
use crate::lifecycle::{Actor, record_read};
use crate::ratelimit::Client;
use crate::server::AppState;
use crate::store::{Erasure, IdempotentCreate, SessionRow};
use crate::tokens::{ct_eq, random_token, sha256_hex};

#[derive(Debug, Clone, Serialize)]
pub struct CreatedSession {
    pub session_id: String,
    /// Reads the result and photo; give it only to the integrator's own backend or app.
    pub result_token: String,
    /// One upload by the device, before `submission_expires_at`.
    pub submission_token: String,
    pub submission_expires_at: i64,
    /// The hosted browser check for this session (a one-time link expiring with the
    /// submission token), when the server hosts it (`web_dir`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_url: Option<String>,
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
    let Some(key) = idempotency_key(&headers)? else {
        let created = with_random_nonce(&app, &tenant.id, options).await?;
        return Ok((StatusCode::CREATED, axum::Json(created)).into_response());
    };
    // A retried creation (its answer was lost) gets the same session, not a second one.
    let key_sha256 = sha256_hex(key.as_bytes());
    let now = app.clock.now_ms();
    let begun = app
        .db
        .begin_idempotent(&tenant.id, &key_sha256, &sha256_hex(&body), now)
        .await?;
    match begun {
        IdempotentCreate::New => {}
        IdempotentCreate::Replay(json) => {
            return Ok((
                StatusCode::CREATED,
                [
                    (header::CONTENT_TYPE, "application/json"),
                    (header::HeaderName::from_static(REPLAYED_HEADER), "true"),
                ],
                json,
            )
                .into_response());
        }
        IdempotentCreate::Mismatch => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "this Idempotency-Key was used with a different request body",
            ));
        }
        IdempotentCreate::InProgress => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "idempotency_in_progress",
                "a request with this Idempotency-Key has not finished yet; retry shortly",
            ));
        }
        IdempotentCreate::Expired { session_id } => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "idempotency_key_expired",
                format!(
                    "this Idempotency-Key created session {session_id}, whose submission \
                     window has closed; its tokens are not shown again"
                ),
            ));
        }
    }
    let created = match with_random_nonce(&app, &tenant.id, options).await {
        Ok(c) => c,
        Err(e) => {
            app.db.abandon_idempotent(&tenant.id, &key_sha256).await?;
            return Err(e);
        }
    };
    let answer = json(&created)?;
    app.db
        .finish_idempotent(
            &tenant.id,
            &key_sha256,
            &created.session_id,
            &answer,
            created.submission_expires_at * 1000,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        [(header::CONTENT_TYPE, "application/json")],
        answer,
    )
        .into_response())
}

async fn with_random_nonce(
    app: &AppState,
    tenant_id: &str,
    options: SessionOptions,
) -> Result<CreatedSession, ApiError> {
    let nonce = Nonce::random().map_err(|e| ApiError::internal("nonce", e))?;
    create_session(app, tenant_id, options, nonce).await
}

/// Set on an answer replayed for a repeated `Idempotency-Key`.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// `Idempotency-Key`: 1–255 visible ASCII characters, or absent.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(value) = headers.get(crate::webhooks::IDEMPOTENCY_HEADER) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .filter(|k| (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()))
        .map(Some)
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_idempotency_key",
                "Idempotency-Key must be 1-255 visible ASCII characters",
            )
        })
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
    if let Some(url) = &options.webhook_url {
        crate::egress::check_webhook_url(url, app.config.allow_loopback_webhooks)
            .map_err(|e| ApiError::bad_request("webhook_url_refused", e.to_string()))?;
    }
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
        cooldown_subjects: None,
        completed_at: None,
        evidence_deleted_at: None,
        erased_at: None,
    };
    app.db.insert_session(&row).await?;
    let redirect_url = match app.config.web_dir {
        Some(_) => Some(
            super::hosted::new_link(app, &session_id, super::hosted::PAGE, submission_expires_at)
                .await?,
        ),
        None => None,
    };
    Ok(CreatedSession {
        redirect_url,
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
    /// When the images were deleted (retention or erasure).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence_deleted_at: Option<i64>,
    /// When this session's images are due for deletion (decided, not yet deleted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence_expires_at: Option<i64>,
    pub result: ResultBody,
}

/// What every path under an erased session answers: it is gone (410), not unknown (404),
/// so an integrator can tell an erasure from a typo; nothing of it is served any more.
fn not_erased(s: SessionRow) -> Result<SessionRow, ApiError> {
    if s.erased_at.is_some() {
        return Err(ApiError::new(
            StatusCode::GONE,
            "session_erased",
            "the session was erased at the integrator's request",
        ));
    }
    Ok(s)
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
    Extension(client): Extension<Client>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let s = not_erased(own_session(&app, &tenant, &id).await?)?;
    let result = result_of(&app, &s)?;
    let actor = Actor::ApiKey(tenant.key_id.clone());
    record_read(&app, &s.tenant_id, &s.id, "session_read", &actor, &client.0).await?;
    let evidence_expires_at = match (&s.evidence_deleted_at, s.submitted_at, s.completed_at) {
        (None, Some(_), Some(decided)) => {
            let hours = app
                .db
                .tenant(&s.tenant_id)
                .await?
                .and_then(|t| t.retention_hours);
            let keep = hours.map_or(app.config.evidence_retention.as_millis() as i64, |h| {
                h * 3_600_000
            });
            Some((decided + keep) / 1000)
        }
        _ => None,
    };
    Ok(axum::Json(SessionView {
        evidence_deleted_at: s.evidence_deleted_at.map(|t| t / 1000),
        evidence_expires_at,
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

/// The result token: `Authorization: Bearer rt_…` (preferred: proxies and browser
/// histories keep query strings) or `?token=` (kept for existing integrations).
fn result_token<'a>(headers: &'a HeaderMap, query: &'a TokenQuery) -> Option<&'a str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| t.starts_with("rt_"))
        .or(query.token.as_deref())
}

fn token_query(q: Result<Query<TokenQuery>, QueryRejection>) -> Result<TokenQuery, ApiError> {
    q.map(|Query(q)| q)
        .map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))
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

/// [`by_result_token`], throttled: failed guesses count against the client and the session.
async fn guarded(
    app: &AppState,
    client: &Client,
    id: &str,
    token: Option<&str>,
) -> Result<SessionRow, ApiError> {
    let target = format!("session:{id}");
    app.check_guesses(client, Some(&target)).await?;
    match by_result_token(app, id, token).await {
        Ok(s) => Ok(s),
        Err(e) => {
            app.count_guess(client, Some(&target)).await?;
            Err(e)
        }
    }
}

pub async fn result(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Extension(client): Extension<Client>,
    headers: HeaderMap,
    q: Result<Query<TokenQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let q = token_query(q)?;
    let s = not_erased(guarded(&app, &client, &id, result_token(&headers, &q)).await?)?;
    let body = result_of(&app, &s)?;
    record_read(
        &app,
        &s.tenant_id,
        &s.id,
        "result_read",
        &Actor::ResultToken,
        &client.0,
    )
    .await?;
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
    Extension(client): Extension<Client>,
    headers: HeaderMap,
    q: Result<Query<TokenQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let q = token_query(q)?;
    let s = not_erased(guarded(&app, &client, &id, result_token(&headers, &q)).await?)?;
    if s.evidence_deleted_at.is_some() {
        return Err(ApiError::new(
            StatusCode::GONE,
            "evidence_deleted",
            "the photo was deleted at the end of its retention period",
        ));
    }
    let Some(jpeg) = app.db.photo(&s.id, &app.config.data_keys).await? else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no_photo",
            "no evidence has been submitted for this session yet",
        ));
    };
    record_read(
        &app,
        &s.tenant_id,
        &s.id,
        "photo_read",
        &Actor::ResultToken,
        &client.0,
    )
    .await?;
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
    let s = not_erased(own_session(&app, &tenant, &id).await?)?;
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

#[derive(Debug, Serialize)]
pub struct ErasedView {
    pub session_id: String,
    pub status: &'static str,
    pub erased_at: i64,
}

/// `DELETE /v1/sessions/{id}`: erasure (see `lifecycle`). Idempotent: erasing again answers
/// the same, with the time of the first erasure.
pub async fn erase(
    State(app): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    Extension(client): Extension<Client>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let actor = Actor::ApiKey(tenant.key_id.clone());
    let at = match crate::lifecycle::erase(&app, &tenant.id, &id, &actor, &client.0).await? {
        Erasure::Erased { at } | Erasure::AlreadyErased { at } => at,
        Erasure::NotFound => return Err(ApiError::not_found()),
    };
    Ok(axum::Json(ErasedView {
        session_id: id,
        status: "erased",
        erased_at: at / 1000,
    })
    .into_response())
}

#[derive(Debug, Serialize)]
pub struct AuditView {
    pub session_id: String,
    pub action: String,
    pub actor: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    pub at_ms: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    session_id: Option<String>,
    limit: Option<i64>,
}

/// `GET /v1/audit[?session_id=…][&limit=…]`: who read or changed this tenant's session data,
/// newest first. Not under the session's path: the trail outlives an erasure (it holds no
/// biometric data), the session does not.
pub async fn audit(
    State(app): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    q: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request("invalid_query", "limit is 1..=1000"));
    }
    let events = app
        .db
        .audit_events(&tenant.id, q.session_id.as_deref(), limit)
        .await?
        .into_iter()
        .map(|e| AuditView {
            session_id: e.session_id,
            action: e.action,
            actor: e.actor,
            client: e.client,
            at_ms: e.at,
        })
        .collect::<Vec<_>>();
    Ok(axum::Json(serde_json::json!({ "events": events })).into_response())
}
