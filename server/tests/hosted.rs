//! The hosted page's links and routes, on SQLite and PostgreSQL, over real HTTP: a
//! `redirect_url` opens once and replaces the submission token; a used, unknown or expired
//! link or a closed session gets its own page; the watch token alone reaches the hand-off,
//! progress and cancel routes, for its own session only; the CSP carries the tenant's frame
//! ancestors. (The page itself, in a real Chromium, is scripts/test-web.sh.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use liveness_server::admin;
use serde_json::{Value, json};
use support::{Backend, Harness, code, device_key, faceless_upload};

/// A server hosting the page from a folder that holds only the page's script: these tests
/// are about links and tokens, not the web package.
async fn hosting(backend: Backend) -> Harness {
    let web = tempfile::tempdir().unwrap();
    std::fs::write(web.path().join("hosted.js"), "export {};\n").unwrap();
    let dir = web.keep();
    Harness::start_with(backend, move |c| c.web_dir = Some(dir)).await
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Opens a link: status, CSP header and body.
async fn open(url: &str) -> (u16, String, String) {
    let r = no_redirects().get(url).send().await.unwrap();
    let status = r.status().as_u16();
    let csp = r
        .headers()
        .get("content-security-policy")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, csp, r.text().await.unwrap())
}

/// The page's session descriptor (the JSON in `<script id="liveness-session">`).
fn descriptor(page: &str) -> Value {
    let start = page.find("id=\"liveness-session\">").unwrap() + "id=\"liveness-session\">".len();
    let end = start + page[start..].find("</script>").unwrap();
    serde_json::from_str(&page[start..end]).unwrap()
}

/// The `data-code` of a notice page.
fn notice_code(page: &str) -> String {
    let start = page.find("data-code=\"").expect(page) + "data-code=\"".len();
    page[start..start + page[start..].find('"').unwrap()].to_owned()
}

async fn watch(
    h: &Harness,
    method: &str,
    session_id: &str,
    route: &str,
    token: &str,
) -> reqwest::Response {
    let url = h.url(&format!("/ui/{session_id}/{route}"));
    let req = match method {
        "GET" => h.http.get(url),
        _ => h.http.post(url),
    };
    req.bearer_auth(token).send().await.unwrap()
}

/// What the desktop's page polls: `{state, reason?}`.
async fn progress(h: &Harness, session_id: &str, token: &str) -> Value {
    let r = watch(h, "GET", session_id, "progress", token).await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn without_web_dir_there_is_no_link(backend: Backend) {
    let h = Harness::start(backend).await;
    let created = h.create_session(json!({})).await;
    assert!(created.get("redirect_url").is_none(), "{created}");
    let id = created["session_id"].as_str().unwrap();
    let r = h
        .http
        .get(h.url(&format!("/ui/{id}/liveness?otp=otp_x")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

async fn a_link_opens_once_and_replaces_the_submission_token(backend: Backend) {
    let h = hosting(backend).await;
    let created = h
        .create_session(json!({
            "redirect_url": "https://example.com/done",
            "cancel_url": "https://example.com/cancel",
            "relay_state": "r-1"
        }))
        .await;
    let id = created["session_id"].as_str().unwrap();
    let link = created["redirect_url"].as_str().unwrap();
    assert!(
        link.starts_with(&format!("{}/ui/{id}/liveness?otp=otp_", h.base)),
        "{link}"
    );

    let (status, csp, page) = open(link).await;
    assert_eq!(status, 200, "{page}");
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    let d = descriptor(&page);
    assert_eq!(d["session_id"], id);
    assert_eq!(d["nonce"], created["nonce"]);
    assert_eq!(d["kind"], "page");
    assert!(d["watch_token"].as_str().unwrap().starts_with("wt_"));
    let done = d["exits"]["completed"].as_str().unwrap();
    assert!(
        done.starts_with("https://example.com/done?")
            && done.contains(&format!("session_id={id}"))
            && done.contains("relay_state=r-1"),
        "{done}"
    );
    assert!(
        d["exits"]["cancelled"]
            .as_str()
            .unwrap()
            .starts_with("https://example.com/cancel?")
    );
    // The result is never in the URL and the tokens the integrator holds are not in the page.
    assert!(!page.contains(created["result_token"].as_str().unwrap()));
    assert!(!page.contains(created["submission_token"].as_str().unwrap()));

    // Opened again: used.
    let (status, _, again) = open(link).await;
    assert_eq!((status, notice_code(&again).as_str()), (410, "link_used"));

    // The token handed to the integrator no longer submits; the page's does.
    let upload = faceless_upload(&created, &device_key());
    let old = h
        .submit(created["submission_token"].as_str().unwrap(), &upload)
        .await;
    assert_eq!(old.status(), 401, "{}", old.text().await.unwrap());
    // Evidence is bound to the token it is sent with: the page's.
    let mut as_page = created.clone();
    as_page["submission_token"] = d["submission_token"].clone();
    let upload = faceless_upload(&as_page, &device_key());
    let new = h
        .submit(d["submission_token"].as_str().unwrap(), &upload)
        .await;
    assert_eq!(new.status(), 202, "{}", new.text().await.unwrap());
}

async fn bad_links_get_their_own_pages(backend: Backend) {
    let h = hosting(backend).await;
    let created = h.create_session(json!({})).await;
    let id = created["session_id"].as_str().unwrap();
    let link = created["redirect_url"].as_str().unwrap();

    for query in ["otp=otp_notthecode", "otp=", ""] {
        let (status, _, page) = open(&h.url(&format!("/ui/{id}/liveness?{query}"))).await;
        assert_eq!(
            (status, notice_code(&page).as_str()),
            (404, "link_unknown"),
            "{query}"
        );
    }
    // The right code on another session's path is unknown too.
    let other = h.create_session(json!({})).await;
    let moved = link.replace(id, other["session_id"].as_str().unwrap());
    let (status, _, page) = open(&moved).await;
    assert_eq!((status, notice_code(&page).as_str()), (404, "link_unknown"));

    // Past the submission token's lifetime: expired (and the link stays unused).
    h.clock.advance(Duration::from_secs(301));
    let (status, _, page) = open(link).await;
    assert_eq!((status, notice_code(&page).as_str()), (410, "link_expired"));
}

async fn the_watch_token_hands_off_follows_and_cancels(backend: Backend) {
    let h = hosting(backend).await;
    let created = h.create_session(json!({})).await;
    let id = created["session_id"].as_str().unwrap();
    let (_, _, page) = open(created["redirect_url"].as_str().unwrap()).await;
    let desktop = descriptor(&page);
    let wt = desktop["watch_token"].as_str().unwrap();

    // Without the watch token, or with another session's, nothing answers.
    let other = h.create_session(json!({})).await;
    let (_, _, other_page) = open(other["redirect_url"].as_str().unwrap()).await;
    let other_wt = descriptor(&other_page)["watch_token"]
        .as_str()
        .unwrap()
        .to_owned();
    for token in [
        "wt_unknown",
        created["result_token"].as_str().unwrap(),
        &other_wt,
    ] {
        for (method, route) in [("POST", "handoff"), ("GET", "progress"), ("POST", "cancel")] {
            let (status, error) = code(watch(&h, method, id, route, token).await).await;
            assert_eq!(
                (status, error.as_str()),
                (401, "invalid_watch_token"),
                "{route} {token}"
            );
        }
    }

    assert_eq!(progress(&h, id, wt).await["state"], "waiting");

    let r = watch(&h, "POST", id, "handoff", wt).await;
    assert_eq!(r.status(), 200);
    let handoff: Value = r.json().await.unwrap();
    let phone_link = handoff["url"].as_str().unwrap();
    assert!(phone_link.contains(&format!("/ui/{id}/liveness?otp=otp_")));
    let qr = handoff["qr_svg"].as_str().unwrap();
    assert!(qr.contains("<svg") && qr.contains("</svg>"), "{qr}");

    let (status, _, phone_page) = open(phone_link).await;
    assert_eq!(status, 200);
    let phone = descriptor(&phone_page);
    assert_eq!(phone["kind"], "phone");
    // The phone neither watches nor leaves for the integrator's pages: the desktop does.
    assert!(phone.get("watch_token").is_none());
    assert_eq!(phone["exits"], json!({}));
    assert_eq!(progress(&h, id, wt).await["state"], "phone_opened");

    // A second hand-off link, then the desktop cancels: the unused link shows the ending.
    let spare: Value = watch(&h, "POST", id, "handoff", wt)
        .await
        .json()
        .await
        .unwrap();
    let r: Value = watch(&h, "POST", id, "cancel", wt)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["status"], "cancelled");
    let r = progress(&h, id, wt).await;
    assert_eq!(
        (r["state"].as_str(), r["reason"].as_str()),
        (Some("cancelled"), Some("user_cancelled"))
    );
    let (status, _, page) = open(spare["url"].as_str().unwrap()).await;
    assert_eq!(
        (status, notice_code(&page).as_str()),
        (410, "session_closed")
    );
    let (status, error) = code(watch(&h, "POST", id, "handoff", wt).await).await;
    assert_eq!((status, error.as_str()), (409, "session_closed"));
    // The phone's token died with the session.
    let upload = faceless_upload(&created, &device_key());
    let r = h
        .submit(phone["submission_token"].as_str().unwrap(), &upload)
        .await;
    assert_ne!(r.status(), 202);
    // The integrator's result says cancelled.
    let result: Value = h
        .get_as(
            &format!("/v1/sessions/{id}/result"),
            created["result_token"].as_str().unwrap(),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (result["status"].as_str(), result["live"].as_bool()),
        (Some("incompleted"), Some(false)),
        "{result}"
    );
    assert_eq!(result["message_code"], "cancelled", "{result}");
}

async fn frame_ancestors_follow_the_tenant(backend: Backend) {
    let h = hosting(backend).await;
    let set = admin::set_frame_ancestors(
        &h.server.state.db,
        &h.tenant.tenant_id,
        &[
            "https://shop.example".to_owned(),
            "http://localhost:8080".to_owned(),
        ],
    )
    .await
    .unwrap();
    assert_eq!(
        set.as_deref(),
        Some("https://shop.example http://localhost:8080")
    );
    for bad in [
        "http://shop.example",
        "https://shop.example/path",
        "https://u:p@shop.example",
        "javascript:alert(1)",
    ] {
        let e =
            admin::set_frame_ancestors(&h.server.state.db, &h.tenant.tenant_id, &[bad.to_owned()])
                .await;
        assert!(e.is_err(), "{bad}");
    }
    let created = h.create_session(json!({})).await;
    let (status, csp, _) = open(created["redirect_url"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert!(
        csp.ends_with("frame-ancestors https://shop.example http://localhost:8080"),
        "{csp}"
    );
}

support::on_every_backend! {
    no_web_dir_no_link => without_web_dir_there_is_no_link,
    link_opens_once => a_link_opens_once_and_replaces_the_submission_token,
    bad_links => bad_links_get_their_own_pages,
    watch_token_routes => the_watch_token_hands_off_follows_and_cancels,
    frame_ancestors => frame_ancestors_follow_the_tenant,
}
