//! Verification workers. Each holds its own copy of the models, claims the oldest queued
//! job (or one whose lease ran out because its instance died), re-checks the evidence off the
//! async threads, signs the verdict and stores it with its webhook in one transaction.

use std::time::{Duration, Instant};

use liveness_protocol::{
    ChallengePlan, EvidenceManifest, FrameRole, ResultBody, ResultMessage, ResultStatus,
    SessionOptions, Verdict, VerdictKind,
};
use liveness_vision::{ModelSet, Pipeline, Precision};
use tokio::sync::watch;

use crate::error::ApiError;
use crate::server::AppState;
use crate::store::{DeliveryRow, JobRow};
use crate::tokens::random_token;
use crate::verify::{self, Report, SessionTimes};

pub const SESSION_COMPLETED: &str = "session.completed";
/// Sent once when the integrator erases a session (`DELETE /v1/sessions/{id}`).
pub const SESSION_ERASED: &str = "session.erased";

fn load_pipeline() -> Result<Pipeline, String> {
    let models = ModelSet::bundled(Precision::Fp32).map_err(|e| e.to_string())?;
    Pipeline::new(models, verify::pipeline_config()).map_err(|e| e.to_string())
}

pub async fn run(state: AppState, n: usize, mut stopped: watch::Receiver<bool>) {
    let mut pipeline = match tokio::task::spawn_blocking(load_pipeline).await {
        Ok(Ok(p)) => Some(p),
        Ok(Err(e)) => {
            tracing::error!(worker = n, error = %e, "cannot load the models; this worker stops");
            return;
        }
        Err(e) => {
            tracing::error!(worker = n, error = %e, "model loading crashed; this worker stops");
            return;
        }
    };
    state
        .workers_ready
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    loop {
        if *stopped.borrow() {
            break;
        }
        let lease = state.config.job_lease.as_millis() as i64;
        match state.db.claim_job(state.clock.now_ms(), lease).await {
            Ok(Some(job)) => {
                pipeline = process(&state, job, pipeline).await;
                continue;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(worker = n, error = %e, "claiming a job"),
        }
        tokio::select! {
            _ = stopped.wait_for(|s| *s) => break,
            _ = state.jobs_queued.notified() => {}
            _ = tokio::time::sleep(state.config.poll_interval) => {}
        }
    }
    state
        .workers_ready
        .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
}

/// Runs one job already claimed (what a worker does after `Db::claim_job`), loading the
/// models itself: for tools and tests that drive the queue by hand.
pub async fn run_claimed(state: &AppState, job: JobRow) {
    let _ = process(state, job, None).await;
}

/// Runs one job to its end. Returns the pipeline for the next job (a fresh one if the check
/// crashed and took it down).
async fn process(state: &AppState, job: JobRow, pipeline: Option<Pipeline>) -> Option<Pipeline> {
    // Every claim counts an attempt, so a job claimed again past the limit is one whose
    // earlier attempts never came back: each took its instance down (or hung past its
    // lease). Failed without touching it, so one upload cannot crash-loop every instance.
    if job.attempts > state.config.max_job_attempts {
        tracing::error!(job = %job.id, attempts = job.attempts, "job failed: earlier attempts never finished");
        let message = format!(
            "{} verification attempts never finished (each stopped its server)",
            job.attempts - 1
        );
        if let Err(e) = fail_job(state, &job, &message).await {
            tracing::error!(job = %job.id, error = %e, "cannot fail the job");
        }
        return pipeline;
    }
    let started = Instant::now();
    let (pipeline, outcome) = verify_job(state, &job, pipeline).await;
    match outcome {
        Ok(Some((verdict, submitted_at))) => {
            let since = Duration::from_millis((state.clock.now_ms() - submitted_at).max(0) as u64);
            crate::metrics::verification(verdict.as_str(), started.elapsed(), since);
            tracing::info!(job = %job.id, verdict = verdict.as_str(), ms = started.elapsed().as_millis() as u64, "verified");
        }
        Ok(None) => tracing::info!(job = %job.id, "finished by another instance"),
        Err(e) => {
            tracing::warn!(job = %job.id, attempt = job.attempts, error = %e, "verification attempt failed");
            if job.attempts >= state.config.max_job_attempts {
                if let Err(e) = fail_job(state, &job, &e.message).await {
                    tracing::error!(job = %job.id, error = %e, "cannot fail the job");
                }
            } else if let Err(e) = state.db.requeue_job(&job.id, &e.message).await {
                tracing::error!(job = %job.id, error = %e, "cannot requeue the job");
            }
        }
    }
    match pipeline {
        Some(p) => Some(p),
        None => tokio::task::spawn_blocking(load_pipeline)
            .await
            .ok()
            .and_then(Result::ok),
    }
}

type Verified = Option<(VerdictKind, i64)>;

async fn verify_job(
    state: &AppState,
    job: &JobRow,
    pipeline: Option<Pipeline>,
) -> (Option<Pipeline>, Result<Verified, ApiError>) {
    let loaded = async {
        let session = state
            .db
            .session(&job.session_id)
            .await?
            .ok_or_else(|| ApiError::internal("job", "session missing"))?;
        let (manifest, frames) = state
            .db
            .evidence(&job.session_id, &state.config.data_keys)
            .await?
            .ok_or_else(|| ApiError::internal("job", "evidence missing"))?;
        let bad = |e: liveness_protocol::ProtocolError| ApiError::internal("stored session", e);
        let manifest = EvidenceManifest::from_json_bytes(&manifest).map_err(bad)?;
        let plan = ChallengePlan::from_json(session.plan_json.as_bytes()).map_err(bad)?;
        let options = SessionOptions::from_json(session.options_json.as_bytes()).map_err(bad)?;
        Ok::<_, ApiError>((session, manifest, frames, plan, options))
    }
    .await;
    let (session, manifest, frames, plan, options) = match loaded {
        Ok(x) => x,
        Err(e) => return (pipeline, Err(e)),
    };
    let Some(mut pipeline) = pipeline.or_else(|| load_pipeline().ok()) else {
        return (
            None,
            Err(ApiError::internal("job", "the models are not loaded")),
        );
    };
    let submitted_at = session.submitted_at.unwrap_or(job.created_at);
    let times = SessionTimes {
        created_at_ms: session.created_at,
        submitted_at_ms: submitted_at,
        skew_ms: state.config.capture_skew.as_millis() as i64,
    };
    let config = state.recheck.clone();
    let checked = tokio::task::spawn_blocking(move || {
        let report = verify::recheck(&mut pipeline, &config, &manifest, &plan, &frames, times);
        (pipeline, report, manifest)
    })
    .await;
    let (pipeline, report, manifest) = match checked {
        Ok(x) => x,
        Err(e) => return (None, Err(ApiError::internal("verification crashed", e))),
    };
    let stored = store_verdict(
        state,
        job,
        &session.tenant_id,
        &failure_subjects(&session),
        &manifest,
        &options,
        report,
    )
    .await
    .map(|stored| stored.map(|v| (v, submitted_at)));
    (Some(pipeline), stored)
}

/// What a failure of `session` counts against: the subjects fixed at submission (rows from
/// before they were stored: the device key).
fn failure_subjects(session: &crate::store::SessionRow) -> Vec<String> {
    session
        .cooldown_subjects
        .as_deref()
        .and_then(|json| serde_json::from_str(json).ok())
        .or_else(|| session.device_key.clone().map(|k| vec![k]))
        .unwrap_or_default()
}

async fn store_verdict(
    state: &AppState,
    job: &JobRow,
    tenant_id: &str,
    subjects: &[String],
    manifest: &EvidenceManifest,
    options: &SessionOptions,
    report: Report,
) -> Result<Option<VerdictKind>, ApiError> {
    let now = state.clock.now_ms();
    let photo = manifest
        .frames
        .iter()
        .find(|f| f.role == FrameRole::Photo)
        .map(|f| f.sha256);
    let verdict = Verdict::new(
        &job.session_id,
        report.verdict,
        report.confidence,
        now / 1000,
        photo,
    )
    .map_err(|e| ApiError::internal("verdict", e))?;
    let signed = crate::keys::current(&state.db, now)
        .await?
        .sign(&verdict)
        .map_err(|e| ApiError::internal("verdict signature", e))?;
    let mut body = ResultBody::pending(&job.session_id).with_message(report.message);
    body.job_id = Some(job.id.clone());
    body.status = report.status;
    body.live = Some(report.verdict == VerdictKind::Live);
    body.score = Some(verdict.confidence);
    body.reasons = report.reasons;
    body.relay_state = options.relay_state.clone();
    body.verdict = Some(signed);
    let result_json = serde_json::to_string(&body).map_err(|e| ApiError::internal("result", e))?;
    let delivery = webhook_for(options, tenant_id, &body, now)?;
    let failures = if report.verdict == VerdictKind::Live {
        &[][..]
    } else {
        subjects
    };
    let stored = state
        .db
        .finish_job(
            &job.id,
            &job.session_id,
            "done",
            None,
            report.verdict.as_str(),
            &result_json,
            delivery.as_ref(),
            failures,
            now,
        )
        .await?;
    if stored && delivery.is_some() {
        state.deliveries_queued.notify_one();
    }
    Ok(stored.then_some(report.verdict))
}

/// The outbox row for a finished session, when the integrator asked for a webhook.
pub(crate) fn webhook_for(
    options: &SessionOptions,
    tenant_id: &str,
    body: &ResultBody,
    now: i64,
) -> Result<Option<DeliveryRow>, ApiError> {
    event_webhook(options, tenant_id, SESSION_COMPLETED, body, now)
}

/// The outbox row of `event` about `body`'s session, when the integrator asked for webhooks.
pub(crate) fn event_webhook(
    options: &SessionOptions,
    tenant_id: &str,
    event: &str,
    body: &ResultBody,
    now: i64,
) -> Result<Option<DeliveryRow>, ApiError> {
    let Some(url) = &options.webhook_url else {
        return Ok(None);
    };
    let id = random_token("whd_", 16)?;
    let payload = serde_json::json!({
        "id": id,
        "event": event,
        "created_at": now / 1000,
        "data": body,
    });
    Ok(Some(DeliveryRow {
        id,
        session_id: body.session_id.clone(),
        tenant_id: tenant_id.to_owned(),
        url: url.clone(),
        event: event.to_owned(),
        body: serde_json::to_vec(&payload).map_err(|e| ApiError::internal("webhook", e))?,
        status: "pending".into(),
        attempts: 0,
        next_attempt_at: now,
        created_at: now,
        delivered_at: None,
        last_error: None,
    }))
}

/// A job that kept failing for internal reasons: the session ends as failed.
async fn fail_job(state: &AppState, job: &JobRow, error: &str) -> Result<(), ApiError> {
    let session = state.db.session(&job.session_id).await?;
    let options = session
        .as_ref()
        .and_then(|s| SessionOptions::from_json(s.options_json.as_bytes()).ok())
        .unwrap_or_default();
    let mut body =
        ResultBody::pending(&job.session_id).with_message(ResultMessage::EvidenceRejected);
    body.job_id = Some(job.id.clone());
    body.status = ResultStatus::Failed;
    body.live = Some(false);
    body.relay_state = options.relay_state.clone();
    let now = state.clock.now_ms();
    let result_json = serde_json::to_string(&body).map_err(|e| ApiError::internal("result", e))?;
    let tenant = session.map(|s| s.tenant_id).unwrap_or_default();
    let delivery = webhook_for(&options, &tenant, &body, now)?;
    state
        .db
        .finish_job(
            &job.id,
            &job.session_id,
            "failed",
            Some(error),
            "error",
            &result_json,
            delivery.as_ref(),
            &[],
            now,
        )
        .await?;
    Ok(())
}
