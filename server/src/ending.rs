//! Sessions that end without evidence: the device said the user cancelled (or its capture
//! could not go on), or the submission window closed with nothing uploaded (the app was
//! killed, the network never came back). Each still ends with a stored, signed verdict —
//! `inconclusive`, not live, with the reason — and the integrator's webhook, exactly like a
//! verified session, so no integrator ever waits on a session that is over.

use liveness_protocol::{
    CheckReason, ResultBody, ResultMessage, ResultStatus, SessionOptions, Verdict, VerdictKind,
};
use tokio::sync::watch;

use crate::error::ApiError;
use crate::server::AppState;
use crate::store::SessionRow;
use crate::worker::webhook_for;

/// Why the device ended a session without uploading (`POST /v1/submissions/cancel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    /// The user left the check (a Cancel button, the app sent to the background).
    UserCancelled,
    /// The camera could not be opened or stopped delivering frames.
    CameraUnavailable,
    /// The device could not run the check (models, memory, an internal error).
    DeviceError,
}

impl CancelReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserCancelled => "user_cancelled",
            Self::CameraUnavailable => "camera_unavailable",
            Self::DeviceError => "device_error",
        }
    }
}

/// How a session without evidence ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Cancelled(CancelReason),
    /// Nothing was uploaded before the submission token expired.
    Expired,
}

impl Ending {
    fn status(self) -> &'static str {
        match self {
            Self::Cancelled(_) => "cancelled",
            Self::Expired => "expired",
        }
    }

    fn message(self) -> ResultMessage {
        match self {
            Self::Cancelled(_) => ResultMessage::Cancelled,
            Self::Expired => ResultMessage::TimedOut,
        }
    }

    fn reason(self) -> String {
        match self {
            Self::Cancelled(r) => format!("the device ended the session: {}", r.as_str()),
            Self::Expired => "no evidence was uploaded before the submission token expired".into(),
        }
    }
}

/// Ends `session` as `ending` if it is still open. `Ok(false)` when it was not (already
/// submitted, ended, or ended by another instance first).
pub async fn end_session(
    state: &AppState,
    session: &SessionRow,
    ending: Ending,
) -> Result<bool, ApiError> {
    let now = state.clock.now_ms();
    let options = SessionOptions::from_json(session.options_json.as_bytes())
        .map_err(|e| ApiError::internal("stored options", e))?;
    let verdict = Verdict::new(
        &session.id,
        VerdictKind::Inconclusive,
        0.0,
        now / 1000,
        None,
    )
    .map_err(|e| ApiError::internal("verdict", e))?;
    let signed = crate::keys::current(&state.db, now)
        .await?
        .sign(&verdict)
        .map_err(|e| ApiError::internal("verdict signature", e))?;
    let mut body = ResultBody::pending(&session.id).with_message(ending.message());
    body.status = ResultStatus::Incompleted;
    body.live = Some(false);
    body.score = Some(verdict.confidence);
    body.reasons = vec![CheckReason {
        check: "submission".into(),
        passed: false,
        score: None,
        reason: Some(ending.reason()),
    }];
    body.relay_state = options.relay_state.clone();
    body.verdict = Some(signed);
    let result_json = serde_json::to_string(&body).map_err(|e| ApiError::internal("result", e))?;
    let delivery = webhook_for(&options, &session.tenant_id, &body, now)?;
    let ended = state
        .db
        .end_unsubmitted(
            &session.id,
            ending.status(),
            VerdictKind::Inconclusive.as_str(),
            &result_json,
            delivery.as_ref(),
            now,
        )
        .await?;
    if ended {
        crate::metrics::session_ended(ending.status());
        if delivery.is_some() {
            state.deliveries_queued.notify_one();
        }
        tracing::info!(session = %session.id, status = ending.status(), "session ended without evidence");
    }
    Ok(ended)
}

/// Ends every open session whose submission window has closed; runs until `stopped`.
pub async fn sweep_expired(state: AppState, mut stopped: watch::Receiver<bool>) {
    loop {
        match state
            .db
            .expired_unsubmitted(state.clock.now_ms(), 100)
            .await
        {
            Ok(sessions) => {
                let mut ended = 0;
                for s in &sessions {
                    match end_session(&state, s, Ending::Expired).await {
                        Ok(true) => ended += 1,
                        Ok(false) => {}
                        Err(e) => {
                            tracing::warn!(session = %s.id, error = %e.message, "ending an expired session");
                        }
                    }
                }
                // A full page that made progress means more are waiting: go again at once.
                if sessions.len() == 100 && ended > 0 {
                    continue;
                }
            }
            Err(e) => tracing::warn!(error = %e, "looking for expired sessions"),
        }
        tokio::select! {
            _ = stopped.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(state.config.expiry_sweep_interval) => {}
        }
    }
}
