//! Device uploads and job status.
//!
//! `POST /v1/submissions` takes `Authorization: Bearer <submission token>` and a
//! `multipart/form-data` body with, in any order: `manifest` (the exact manifest bytes the
//! device signed), `public_key` and `signature` (unpadded base64url), and one `frame` part
//! per JPEG in manifest order. The cheap checks run before anything is stored (see
//! [`crate::verify::check_upload`]); then the session's single submission is claimed and
//! the evidence and its job are stored in one transaction. The same upload sent twice (a
//! retry after a lost response) returns the same job; a different upload is refused.

use axum::Extension;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use liveness_protocol::encoding::{b64url_decode, b64url_encode};
use liveness_protocol::manifest::limits::{MAX_FRAMES, MAX_MANIFEST_BYTES};
use liveness_protocol::{
    ChallengePlan, FrameRole, ProtocolError, ResultStatus, SessionOptions, SignedManifest,
};
use serde::Serialize;

use crate::ending::{CancelReason, Ending};
use crate::error::ApiError;
use crate::ratelimit::Client;
use crate::server::AppState;
use crate::store::{ClaimOutcome, NewSubmission, SessionRow};
use crate::tokens::{random_token, sha256_hex};

pub(super) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

fn bad_token() -> ApiError {
    ApiError::unauthorized(
        "invalid_submission_token",
        "missing or unknown submission token",
    )
}

fn expired() -> ApiError {
    ApiError::unauthorized(
        "submission_token_expired",
        "the submission token has expired; start a new session",
    )
}

fn malformed(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("malformed_submission", message)
}

/// The session a submission token belongs to. Unknown tokens count as failed guesses of
/// the client.
async fn session_for_token(
    app: &AppState,
    client: &Client,
    headers: &HeaderMap,
) -> Result<(String, SessionRow), ApiError> {
    app.check_guesses(client, None).await?;
    let found = match bearer(headers).filter(|t| t.starts_with("st_")) {
        Some(token) => app
            .db
            .session_by_submission_token(&sha256_hex(token.as_bytes()))
            .await?
            .map(|s| (token.to_owned(), s)),
        None => None,
    };
    match found {
        Some(found) => Ok(found),
        None => {
            app.count_guess(client, None).await?;
            Err(bad_token())
        }
    }
}

#[derive(Debug, Default)]
struct Upload {
    manifest: Option<Vec<u8>>,
    public_key: Option<String>,
    signature: Option<String>,
    frames: Vec<Vec<u8>>,
}

fn multipart_error(e: &axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            e.body_text(),
        )
    } else {
        malformed(format!("unreadable multipart body: {}", e.body_text()))
    }
}

async fn read_upload(mut multipart: Multipart) -> Result<Upload, ApiError> {
    let mut upload = Upload::default();
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| multipart_error(&e))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        let bytes = field.bytes().await.map_err(|e| multipart_error(&e))?;
        let text = || {
            String::from_utf8(bytes.to_vec())
                .map_err(|_| malformed(format!("part `{name}` must be text")))
        };
        let twice = || malformed(format!("part `{name}` appears twice"));
        match name.as_str() {
            "manifest" if upload.manifest.is_some() => return Err(twice()),
            "manifest" if bytes.len() > MAX_MANIFEST_BYTES => {
                return Err(malformed(format!(
                    "the manifest exceeds {MAX_MANIFEST_BYTES} bytes"
                )));
            }
            "manifest" => upload.manifest = Some(bytes.to_vec()),
            "public_key" if upload.public_key.is_some() => return Err(twice()),
            "public_key" => upload.public_key = Some(text()?),
            "signature" if upload.signature.is_some() => return Err(twice()),
            "signature" => upload.signature = Some(text()?),
            "frame" if upload.frames.len() >= MAX_FRAMES => {
                return Err(malformed(format!("more than {MAX_FRAMES} frames")));
            }
            "frame" => upload.frames.push(bytes.to_vec()),
            other => return Err(malformed(format!("unknown part `{other}`"))),
        }
    }
    Ok(upload)
}

#[derive(Debug, Serialize)]
pub struct Accepted {
    pub job_id: String,
    pub session_id: String,
    pub status: &'static str,
}

fn role_name(role: FrameRole) -> &'static str {
    match role {
        FrameRole::Photo => "photo",
        FrameRole::Baseline => "baseline",
        FrameRole::ChallengePeak => "challenge_peak",
        FrameRole::LightTiles => "light_tiles",
    }
}

pub async fn submit(
    State(app): State<AppState>,
    Extension(client): Extension<Client>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let now = app.clock.now_ms();
    let (token, session) = session_for_token(&app, &client, &headers).await?;
    if session.status == "expired"
        || (session.status == "created" && now >= session.submission_expires_at)
    {
        crate::metrics::submission("expired");
        return Err(expired());
    }
    if session.status == "cancelled" {
        crate::metrics::submission("token_used");
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "submission_token_used",
            "this session was cancelled by the device",
        ));
    }
    let multipart = multipart.map_err(|e| malformed(e.body_text()))?;
    let upload = read_upload(multipart).await?;
    let (Some(manifest), Some(public_key), Some(signature)) =
        (upload.manifest, upload.public_key, upload.signature)
    else {
        return Err(malformed(
            "the parts manifest, public_key and signature are required",
        ));
    };
    let decode = |field, text: &str| {
        b64url_decode(field, text.trim()).map_err(|e: ProtocolError| malformed(e.to_string()))
    };
    let signed = SignedManifest::from_parts(
        manifest,
        &decode("public_key", &public_key)?,
        &decode("signature", &signature)?,
    )
    .map_err(|e| malformed(e.to_string()))?;
    let device_key = b64url_encode(signed.public_key);
    // A resend of the stored upload (its answer was lost) gets its job back before the
    // cool-down is looked at: otherwise a cool-down answer to the resend would tell the
    // device that the upload it just made was judged not live.
    let submission_sha256 = sha256_hex(&signed.manifest_bytes);
    let plan = ChallengePlan::from_json(session.plan_json.as_bytes())
        .map_err(|e| ApiError::internal("stored plan", e))?;
    if let (Some(stored), Some(job_id)) = (&session.submission_sha256, &session.job_id) {
        let resend = *stored == submission_sha256
            && crate::verify::check_upload(&signed, &session.id, &plan, &token, &upload.frames)
                .is_ok();
        if resend {
            crate::metrics::submission("duplicate");
            return Ok(accepted(job_id.clone(), session.id));
        }
    }
    let options = SessionOptions::from_json(session.options_json.as_bytes())
        .map_err(|e| ApiError::internal("stored options", e))?;
    let subjects = app.cooldown_subjects(
        &device_key,
        &session.tenant_id,
        options.user_reference.as_deref(),
        &client,
    );
    app.limit_device(&subjects).await?;
    let subject_keys: Vec<String> = subjects.into_iter().map(|s| s.key).collect();

    let manifest =
        match crate::verify::check_upload(&signed, &session.id, &plan, &token, &upload.frames) {
            Ok(m) => m,
            Err(e) => {
                crate::metrics::submission("rejected");
                // A correctly signed upload that fails the binding is a replay attempt by that
                // device: it counts towards its cool-down. A bad signature proves nothing about
                // whose key it is, so it does not.
                if !matches!(
                    e,
                    ProtocolError::BadSignature { .. } | ProtocolError::InvalidPublicKey
                ) && signed.verify().is_ok()
                {
                    app.db
                        .record_device_failure(&subject_keys, &session.id, now)
                        .await?;
                }
                return Err(ApiError::evidence(&e));
            }
        };

    let job_id = random_token("job_", 16)?;
    let frames: Vec<(String, Vec<u8>)> = manifest
        .frames
        .iter()
        .map(|f| role_name(f.role).to_owned())
        .zip(upload.frames)
        .collect();
    let outcome = app
        .db
        .store_submission(
            &NewSubmission {
                tenant_id: &session.tenant_id,
                session_id: &session.id,
                job_id: &job_id,
                submission_sha256: &submission_sha256,
                device_key: &device_key,
                cooldown_subjects: &serde_json::to_string(&subject_keys)
                    .map_err(|e| ApiError::internal("cool-down subjects", e))?,
                manifest: &signed.manifest_bytes,
                signature: &b64url_encode(signed.signature),
                frames: &frames,
                now,
            },
            &app.config.data_keys,
        )
        .await?;
    let job_id = match outcome {
        ClaimOutcome::Stored => {
            crate::metrics::submission("accepted");
            app.jobs_queued.notify_one();
            job_id
        }
        ClaimOutcome::Duplicate { job_id } => {
            crate::metrics::submission("duplicate");
            job_id
        }
        ClaimOutcome::AlreadyUsed => {
            crate::metrics::submission("token_used");
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "submission_token_used",
                "this session already has a different submission",
            ));
        }
        ClaimOutcome::Expired => {
            crate::metrics::submission("expired");
            return Err(expired());
        }
    };
    Ok(accepted(job_id, session.id))
}

fn accepted(job_id: String, session_id: String) -> Response {
    let body = Accepted {
        job_id,
        session_id,
        status: "queued",
    };
    (StatusCode::ACCEPTED, axum::Json(body)).into_response()
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CancelBody {
    reason: CancelReason,
}

#[derive(Debug, Serialize)]
pub struct Cancelled {
    pub session_id: String,
    pub status: &'static str,
}

/// `POST /v1/submissions/cancel`: the device ends its session without evidence (the user
/// cancelled, the camera failed). The session ends at once with a not-live verdict and the
/// integrator's webhook; the submission token is spent. Sending it again answers the same.
pub async fn cancel(
    State(app): State<AppState>,
    Extension(client): Extension<Client>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let now = app.clock.now_ms();
    let (_, session) = session_for_token(&app, &client, &headers).await?;
    let reason = if body.is_empty() {
        CancelReason::UserCancelled
    } else {
        serde_json::from_slice::<CancelBody>(&body)
            .map_err(|e| ApiError::bad_request("malformed_cancel", format!("cancel body: {e}")))?
            .reason
    };
    let answer = |session_id: String| {
        let body = Cancelled {
            session_id,
            status: "cancelled",
        };
        Ok((StatusCode::OK, axum::Json(body)).into_response())
    };
    match session.status.as_str() {
        "cancelled" => return answer(session.id),
        "expired" => return Err(expired()),
        "created" if now >= session.submission_expires_at => return Err(expired()),
        "created" => {}
        _ => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "submission_token_used",
                "this session already has a submission",
            ));
        }
    }
    if crate::ending::end_session(&app, &session, Ending::Cancelled(reason)).await? {
        return answer(session.id);
    }
    // Something else ended it between the read and the update: say what it is now.
    match app.db.session(&session.id).await?.map(|s| s.status) {
        Some(status) if status == "cancelled" => answer(session.id),
        Some(status) if status == "expired" => Err(expired()),
        _ => Err(ApiError::new(
            StatusCode::CONFLICT,
            "submission_token_used",
            "this session already has a submission",
        )),
    }
}

#[derive(Debug, Serialize)]
pub struct JobView {
    pub job_id: String,
    pub session_id: String,
    /// `queued`, `running`, `done` or (integrator only) `failed`.
    pub status: String,
    /// The result's status and the full result, for the integrator only. The device learns
    /// that the job ended, not how: nothing an attacker could tune a spoof against.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_status: Option<ResultStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<liveness_protocol::ResultBody>,
}

pub async fn job(
    State(app): State<AppState>,
    Extension(client): Extension<Client>,
    headers: HeaderMap,
    uri: Uri,
    Path(job_id): Path<String>,
) -> Result<Response, ApiError> {
    let device = bearer(&headers).is_some_and(|t| t.starts_with("st_"));
    let mut reader = None;
    let session = if device {
        let (_, s) = session_for_token(&app, &client, &headers).await?;
        s
    } else {
        let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
        let tenant = app.authenticate(&headers, "GET", path, None).await?;
        app.limit_tenant(&tenant.id).await?;
        let job = app.db.job(&job_id).await?.ok_or_else(ApiError::not_found)?;
        reader = Some(crate::lifecycle::Actor::ApiKey(tenant.key_id.clone()));
        app.db
            .session(&job.session_id)
            .await?
            .filter(|s| s.tenant_id == tenant.id)
            .ok_or_else(ApiError::not_found)?
    };
    if session.job_id.as_deref() != Some(job_id.as_str()) {
        return Err(ApiError::not_found());
    }
    let job = app.db.job(&job_id).await?.ok_or_else(ApiError::not_found)?;
    // Read after the job: a job that is done has its result stored in the same transaction,
    // so the session read now has it (read before, it could still be pending).
    let session = app
        .db
        .session(&session.id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let result = super::sessions::result_of(&app, &session)?;
    if let Some(actor) = &reader {
        crate::lifecycle::record_read(
            &app,
            &session.tenant_id,
            &session.id,
            "result_read",
            actor,
            &client.0,
        )
        .await?;
    }
    // A failed job ended without a verdict of the models: to the device, it is done.
    // Nor does it learn that the integrator erased the session.
    let status = if device && (job.status == "failed" || job.status == "erased") {
        "done".to_owned()
    } else {
        job.status
    };
    Ok(axum::Json(JobView {
        job_id: job.id,
        session_id: session.id,
        status,
        result_status: (!device).then_some(result.status),
        result: (!device).then_some(result),
    })
    .into_response())
}
