//! Prometheus metrics, rendered at `/metrics`. One recorder per process: instances started
//! side by side in one test process share it.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Installs the recorder on first call. `None` if another recorder was installed first.
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            Some(handle)
        })
        .as_ref()
}

pub fn render() -> String {
    handle().map(PrometheusHandle::render).unwrap_or_default()
}

pub fn http_request(route: &str, method: &str, status: u16, elapsed: Duration) {
    let labels = [
        ("route", route.to_owned()),
        ("method", method.to_owned()),
        ("status", status.to_string()),
    ];
    counter!("liveness_http_requests_total", &labels).increment(1);
    histogram!("liveness_http_request_duration_seconds", &labels[..2])
        .record(elapsed.as_secs_f64());
}

pub fn submission(outcome: &'static str) {
    counter!("liveness_submissions_total", "outcome" => outcome).increment(1);
}

pub fn verification(verdict: &'static str, work: Duration, since_submission: Duration) {
    counter!("liveness_verifications_total", "verdict" => verdict).increment(1);
    histogram!("liveness_verification_duration_seconds").record(work.as_secs_f64());
    histogram!("liveness_submission_to_verdict_seconds").record(since_submission.as_secs_f64());
}

/// A session that ended without evidence (`cancelled` or `expired`).
pub fn session_ended(status: &'static str) {
    counter!("liveness_sessions_ended_without_evidence_total", "status" => status).increment(1);
}

pub fn webhook_attempt(outcome: &'static str) {
    counter!("liveness_webhook_attempts_total", "outcome" => outcome).increment(1);
}

pub fn rate_limited(kind: &'static str) {
    counter!("liveness_rate_limited_total", "kind" => kind).increment(1);
}
