//! The OpenAPI document against the server: every route the router serves is documented and
//! nothing else is, and real responses of a whole flow validate against the documented
//! schemas (a small validator for the subset the document uses: `$ref`, `type`,
//! `required`, `properties`, `additionalProperties: false`, `enum`, `items`, bounds).
//! Also the operations endpoints: health, readiness, metrics.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};
use support::{Backend, Harness, Receiver, device_key, faceless_upload};

const DOC: &str = include_str!("../openapi.json");

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.strip_prefix("#/components/schemas/").unwrap();
            resolve(doc, &doc["components"]["schemas"][name])
        }
        None => schema,
    }
}

fn validate(doc: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let schema = resolve(doc, schema);
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        errors.push(format!("{at}: {value} not in {options:?}"));
    }
    let ty = schema.get("type").and_then(Value::as_str);
    let ok = match ty {
        Some("object") => value.is_object(),
        Some("array") => value.is_array(),
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        _ => true,
    };
    if !ok {
        errors.push(format!("{at}: expected {ty:?}, got {value}"));
        return;
    }
    if let Some(n) = value.as_f64() {
        if schema
            .get("minimum")
            .and_then(Value::as_f64)
            .is_some_and(|m| n < m)
        {
            errors.push(format!("{at}: {n} below minimum"));
        }
        if schema
            .get("maximum")
            .and_then(Value::as_f64)
            .is_some_and(|m| n > m)
        {
            errors.push(format!("{at}: {n} above maximum"));
        }
    }
    if let Some(items) = schema.get("items")
        && let Some(array) = value.as_array()
    {
        for (i, v) in array.iter().enumerate() {
            validate(doc, items, v, &format!("{at}[{i}]"), errors);
        }
    }
    if let Some(object) = value.as_object() {
        let props = schema.get("properties").and_then(Value::as_object);
        for r in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !object.contains_key(r.as_str().unwrap()) {
                errors.push(format!("{at}: required `{r}` missing"));
            }
        }
        for (k, v) in object {
            match props.and_then(|p| p.get(k)) {
                Some(s) => validate(doc, s, v, &format!("{at}.{k}"), errors),
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    errors.push(format!("{at}: `{k}` is not documented"));
                }
                None => {}
            }
        }
    }
}

/// Checks a response against the document's schema for that operation and status.
async fn check(doc: &Value, method: &str, path: &str, r: reqwest::Response) -> Value {
    let status = r.status().as_u16().to_string();
    let content_type = r.headers()["content-type"].to_str().unwrap().to_owned();
    let body: Value = r.json().await.unwrap();
    let op = &doc["paths"][path][method];
    assert!(op.is_object(), "{method} {path} is not documented");
    let response = &op["responses"][&status];
    assert!(
        response.is_object(),
        "{method} {path} answered {status}, which is not documented: {body}"
    );
    let schema = &response["content"][content_type.split(';').next().unwrap()]["schema"];
    assert!(
        schema.is_object(),
        "{method} {path} {status}: {content_type} not documented"
    );
    let mut errors = Vec::new();
    validate(doc, schema, &body, "body", &mut errors);
    assert!(
        errors.is_empty(),
        "{method} {path} {status}: {errors:#?}\n{body:#}"
    );
    body
}

#[test]
fn every_route_is_documented_and_nothing_else() {
    let doc: Value = serde_json::from_str(DOC).unwrap();
    assert_eq!(doc["openapi"], "3.0.3");
    let served: BTreeSet<(String, String)> = liveness_server::api::routes()
        .iter()
        .filter(|r| r.access != liveness_server::api::Access::Page)
        .map(|r| (r.method.as_str().to_lowercase(), r.path.to_owned()))
        .collect();
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.clone(), path.clone()))
        })
        .collect();
    assert_eq!(served, documented);
    // Every $ref resolves.
    let text = DOC;
    for r in text.split("\"$ref\": \"#/components/schemas/").skip(1) {
        let name = &r[..r.find('"').unwrap()];
        assert!(doc["components"]["schemas"][name].is_object(), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_match_the_document() {
    let doc: Value = serde_json::from_str(DOC).unwrap();
    let h = Harness::start(Backend::Sqlite).await;
    let served: Value = h
        .http
        .get(h.url("/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(served, doc);

    let receiver = Receiver::start().await;
    let r = h
        .http
        .post(h.url("/v1/sessions"))
        .bearer_auth(h.api_key())
        .json(&json!({"available_actions": ["HeadUp", "Smile"], "challenge_count": 2, "relay_state": "r", "webhook_url": receiver.url}))
        .send()
        .await
        .unwrap();
    let created = check(&doc, "post", "/v1/sessions", r).await;
    let id = created["session_id"].as_str().unwrap();
    let token = created["result_token"].as_str().unwrap();
    let r = h
        .http
        .get(h.url(&format!("/v1/sessions/{id}/result?token={token}")))
        .send()
        .await
        .unwrap();
    check(&doc, "get", "/v1/sessions/{session_id}/result", r).await;

    let upload = faceless_upload(&created, &device_key());
    let r = h
        .submit(created["submission_token"].as_str().unwrap(), &upload)
        .await;
    let accepted = check(&doc, "post", "/v1/submissions", r).await;
    let job = accepted["job_id"].as_str().unwrap();
    h.wait_job(job).await;
    let r = h.get_as(&format!("/v1/jobs/{job}"), h.api_key()).await;
    check(&doc, "get", "/v1/jobs/{job_id}", r).await;
    let r = h
        .get_as(
            &format!("/v1/jobs/{job}"),
            created["submission_token"].as_str().unwrap(),
        )
        .await;
    check(&doc, "get", "/v1/jobs/{job_id}", r).await;
    let r = h
        .http
        .get(h.url(&format!("/v1/sessions/{id}/result?token={token}")))
        .send()
        .await
        .unwrap();
    let result = check(&doc, "get", "/v1/sessions/{session_id}/result", r).await;
    assert!(result["verdict"].is_object());
    let r = h.get_as(&format!("/v1/sessions/{id}"), h.api_key()).await;
    check(&doc, "get", "/v1/sessions/{session_id}", r).await;
    assert!(receiver.wait_for(1, Duration::from_secs(10)).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let r = h
        .get_as(&format!("/v1/sessions/{id}/webhooks"), h.api_key())
        .await;
    let listed = check(&doc, "get", "/v1/sessions/{session_id}/webhooks", r).await;
    assert_eq!(listed["deliveries"][0]["status"], "delivered");

    // Errors.
    let r = h
        .http
        .get(h.url(&format!("/v1/sessions/{id}/result?token=x")))
        .send()
        .await
        .unwrap();
    check(&doc, "get", "/v1/sessions/{session_id}/result", r).await;
    let r = h
        .http
        .get(h.url(&format!("/v1/sessions/{id}/photo?token=x")))
        .send()
        .await
        .unwrap();
    check(&doc, "get", "/v1/sessions/{session_id}/photo", r).await;
    let r = h
        .submit(
            created["submission_token"].as_str().unwrap(),
            &faceless_upload(&created, &device_key()),
        )
        .await;
    check(&doc, "post", "/v1/submissions", r).await;
    let r = h
        .http
        .post(h.url("/v1/sessions"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    check(&doc, "post", "/v1/sessions", r).await;
    let r = h
        .http
        .post(h.url("/v1/sessions"))
        .bearer_auth(h.api_key())
        .json(&json!({"challenge_count": 0}))
        .send()
        .await
        .unwrap();
    check(&doc, "post", "/v1/sessions", r).await;
    let r = h
        .http
        .post(h.url("/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &h.tenant.key.key_id),
            ("client_secret", h.api_key()),
        ])
        .send()
        .await
        .unwrap();
    check(&doc, "post", "/oauth/token", r).await;
    let r = h
        .http
        .post(h.url("/oauth/token"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    check(&doc, "post", "/oauth/token", r).await;
    let r = h
        .http
        .get(h.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    check(&doc, "get", "/.well-known/jwks.json", r).await;

    // Operations.
    let r = h.http.get(h.url("/healthz")).send().await.unwrap();
    check(&doc, "get", "/healthz", r).await;
    let r = h.http.get(h.url("/readyz")).send().await.unwrap();
    let ready = check(&doc, "get", "/readyz", r).await;
    assert_eq!(ready["status"], "ready");
    // Not on the public listener (it counts verdicts), only on the operator's.
    let r = h.http.get(h.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let metrics = h
        .http
        .get(format!("http://{}/metrics", h.server.metrics_addr.unwrap()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "liveness_http_requests_total",
        "liveness_http_request_duration_seconds_bucket",
        "liveness_submissions_total",
        "liveness_verifications_total",
        "liveness_submission_to_verdict_seconds",
        "liveness_webhook_attempts_total",
    ] {
        assert!(metrics.contains(name), "{name} missing from /metrics");
    }
    // Routes are counted by template, never by their raw path (which holds ids and tokens).
    assert!(metrics.contains("route=\"/v1/sessions/{session_id}/result\""));
    assert!(!metrics.contains(token));
    let r = h.http.get(h.url("/nope")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    receiver.stop();
    h.server.shutdown().await;
}

#[test]
fn the_validator_rejects_what_the_document_does_not_say() {
    let doc: Value = serde_json::from_str(DOC).unwrap();
    let schema = json!({"$ref": "#/components/schemas/JobView"});
    let mut errors = Vec::new();
    let good =
        json!({"job_id": "j", "session_id": "s", "status": "done", "result_status": "success"});
    validate(&doc, &schema, &good, "body", &mut errors);
    // The device's view: the job's status only.
    let device = json!({"job_id": "j", "session_id": "s", "status": "done"});
    validate(&doc, &schema, &device, "body", &mut errors);
    assert!(errors.is_empty(), "{errors:?}");
    for bad in [
        json!({"job_id": "j", "session_id": "s"}),
        json!({"job_id": "j", "session_id": "s", "status": "finished", "result_status": "success"}),
        json!({"job_id": 1, "session_id": "s", "status": "done", "result_status": "success"}),
        json!({"job_id": "j", "session_id": "s", "status": "done", "result_status": "success", "x": 1}),
        json!({"job_id": "j", "session_id": "s", "status": "done", "result_status": "success", "result": {"session_id": "s", "status": "success", "reasons": [{"check": 3}]}}),
    ] {
        let mut errors = Vec::new();
        validate(&doc, &schema, &bad, "body", &mut errors);
        assert!(!errors.is_empty(), "{bad}");
    }
}
