//! Cross-origin calls from the web package on an integrator's own site, on SQLite and
//! PostgreSQL, over real HTTP: the device's routes answer preflights and mark their answers
//! (errors included) readable only for origins a tenant listed with `admin web-origins`;
//! every other route stays same-origin only. (A browser's own enforcement of these headers
//! is Chromium's, exercised by scripts/test-web.sh for the hosted page, which is same-origin.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use liveness_server::admin;
use serde_json::{Value, json};
use support::{Backend, Harness, device_key, faceless_upload};

const SHOP: &str = "https://shop.example";

/// A preflight for `method path` from `origin` asking for `headers`: status and headers.
async fn preflight(
    h: &Harness,
    path: &str,
    origin: &str,
    method: &str,
    headers: &str,
) -> (u16, reqwest::header::HeaderMap, String) {
    let r = h
        .http
        .request(reqwest::Method::OPTIONS, h.url(path))
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header("access-control-request-headers", headers)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.text().await.unwrap())
}

fn allowed_origin(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers
        .get("access-control-allow-origin")
        .map(|v| v.to_str().unwrap().to_owned())
}

async fn cancel_from(h: &Harness, token: &str, origin: &str) -> reqwest::Response {
    h.http
        .post(h.url("/v1/submissions/cancel"))
        .header("origin", origin)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn only_listed_origins_reach_the_devices_routes(backend: Backend) {
    let h = Harness::start(backend).await;
    let db = &h.server.state.db;
    let tenant = &h.tenant.tenant_id;

    // Nothing listed: a preflight is refused with a reason, an answer carries no grant.
    let (status, headers, body) = preflight(
        &h,
        "/v1/submissions",
        SHOP,
        "POST",
        "authorization,content-type",
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("cors_refused") && body.contains("web-origins"),
        "{body}"
    );
    assert_eq!(allowed_origin(&headers), None);
    let created = h.create_session(json!({})).await;
    let token = created["submission_token"].as_str().unwrap().to_owned();
    let r = cancel_from(&h, "st_not_a_token", SHOP).await;
    assert_eq!(r.status(), 401);
    assert_eq!(allowed_origin(r.headers()), None);

    // Listing: origins are checked and serialised as browsers send them.
    for bad in ["http://shop.example", "https://shop.example/pay", "null"] {
        let e = admin::set_web_origins(db, tenant, &[bad.to_owned()]).await;
        assert!(e.is_err(), "{bad}");
    }
    let set = admin::set_web_origins(
        db,
        tenant,
        &[format!("{SHOP}/"), "http://localhost:8080".to_owned()],
    )
    .await
    .unwrap();
    assert_eq!(
        set.as_deref(),
        Some("https://shop.example http://localhost:8080")
    );
    assert!(
        admin::set_web_origins(db, "no-such-tenant", &[SHOP.to_owned()])
            .await
            .is_err()
    );

    // A listed origin's preflights pass, for each route's own method and the package's
    // headers only.
    for (path, method) in [
        ("/v1/submissions", "POST"),
        ("/v1/submissions/cancel", "POST"),
        ("/v1/jobs/job_x", "GET"),
    ] {
        let (status, headers, body) =
            preflight(&h, path, SHOP, method, "authorization, content-type").await;
        assert_eq!(status, 204, "{path}: {body}");
        assert_eq!(allowed_origin(&headers).as_deref(), Some(SHOP), "{path}");
        assert_eq!(headers["access-control-allow-methods"], method, "{path}");
        assert!(headers.get("access-control-allow-credentials").is_none());
        assert!(headers.get("access-control-max-age").is_some());
    }
    for (path, origin, method, asked) in [
        ("/v1/submissions", SHOP, "DELETE", "authorization"),
        ("/v1/jobs/job_x", SHOP, "POST", "authorization"),
        ("/v1/submissions", SHOP, "POST", "authorization, x-api-key"),
        (
            "/v1/submissions",
            "https://evil.example",
            "POST",
            "authorization",
        ),
        ("/v1/submissions", "https://shop.example.evil", "POST", ""),
        ("/v1/submissions", "null", "POST", ""),
        ("/v1/submissions", "https://shop.example/", "POST", ""),
    ] {
        let (status, headers, body) = preflight(&h, path, origin, method, asked).await;
        assert_eq!(status, 403, "{path} {origin} {method} {asked}: {body}");
        assert!(body.contains("cors_refused"), "{body}");
        assert_eq!(allowed_origin(&headers), None);
    }
    // The integrator's routes and the result stay same-origin only.
    for path in ["/v1/sessions", "/v1/sessions/s_x/result", "/oauth/token"] {
        let (status, headers, _) = preflight(&h, path, SHOP, "POST", "authorization").await;
        assert_ne!(status, 204, "{path}");
        assert_eq!(allowed_origin(&headers), None, "{path}");
    }
    let r = h
        .http
        .post(h.url("/v1/sessions"))
        .header("origin", SHOP)
        .bearer_auth(h.api_key())
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(allowed_origin(r.headers()), None);

    // Answers, errors included, are readable by a listed origin only.
    let r = cancel_from(&h, "st_not_a_token", SHOP).await;
    assert_eq!(r.status(), 401);
    assert_eq!(allowed_origin(r.headers()).as_deref(), Some(SHOP));
    assert!(r.headers()["vary"].to_str().unwrap().contains("origin"));
    let upload = faceless_upload(&created, &device_key());
    let r = h
        .http
        .post(h.url("/v1/submissions"))
        .header("origin", SHOP)
        .bearer_auth(&token)
        .multipart(upload.form())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(allowed_origin(r.headers()).as_deref(), Some(SHOP));
    let accepted: Value = r.json().await.unwrap();
    let job = format!("/v1/jobs/{}", accepted["job_id"].as_str().unwrap());
    for (origin, granted) in [(SHOP, true), ("https://evil.example", false)] {
        let r = h
            .http
            .get(h.url(&job))
            .header("origin", origin)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(allowed_origin(r.headers()).is_some(), granted, "{origin}");
    }

    // Unlisting takes the grant away.
    admin::set_web_origins(db, tenant, &[]).await.unwrap();
    let (status, _, _) = preflight(&h, "/v1/submissions", SHOP, "POST", "authorization").await;
    assert_eq!(status, 403);
}

support::on_every_backend! {
    listed_origins => only_listed_origins_reach_the_devices_routes,
}
