//! The browser check, natively: a rendered subject performing the session's plan goes through
//! `Check` as RGBA frames (what the page's canvas hands over), and the manifest it builds is
//! signed and verifies; bad descriptors, models and frames are refused with typed codes.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use liveness_protocol::device::SignedManifest;
use liveness_protocol::options::SessionOptions;
use liveness_protocol::plan::derive_plan;
use liveness_protocol::{Action, Nonce};
use liveness_testkit::Renderer;
use liveness_web::{Check, PRECISION, model_files};
use serde_json::{Value, json};

const BROWSER: &str =
    r#"{"browser":"Chromium 120","os":"Linux","key_storage":"wasm","origin":"http://127.0.0.1"}"#;

fn descriptor(light: bool) -> (String, liveness_protocol::ChallengePlan) {
    let nonce = Nonce([7; 32]);
    let options = SessionOptions {
        action: Action::BlinkEyes,
        light_challenge: Some(light),
        ..Default::default()
    };
    let plan = derive_plan(&nonce, &options).unwrap();
    let json = json!({
        "session_id": "ses_0123456789abcdef0123456789abcdef",
        "nonce": nonce.to_b64url(),
        "plan": plan,
        "submission_token": "st_test",
        "submission_expires_at": 4_000_000_000i64,
    });
    (json.to_string(), plan)
}

fn load_models(check: &mut Check) {
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models");
    for f in model_files().unwrap().as_array().unwrap() {
        let file = f["file"].as_str().unwrap();
        check
            .load_model(file, &std::fs::read(models.join(file)).unwrap())
            .unwrap();
    }
}

fn rgba(rgb: &[u8]) -> Vec<u8> {
    rgb.chunks_exact(3)
        .flat_map(|p| [p[0], p[1], p[2], 255])
        .collect()
}

#[test]
fn a_rendered_subject_performing_the_plan_passes_and_its_manifest_verifies() {
    let (json, plan) = descriptor(false);
    let mut check = Check::new(&json, BROWSER).unwrap();
    load_models(&mut check);
    check.start().unwrap();
    let r = Renderer::new(liveness_testkit::performing_plan(&plan).unwrap());
    let mut events: Vec<Value> = Vec::new();
    let mut done = false;
    for i in 0..r.frame_count() {
        let img = r.render(i);
        let t_ms = r.timestamp_us(i) as f64 / 1000.0;
        let step = check
            .push_rgba(&rgba(&img.rgb), img.width, img.height, t_ms, 1.8e12 + t_ms)
            .unwrap();
        events.extend(step["events"].as_array().unwrap().iter().cloned());
        if step["done"] == true {
            done = true;
            break;
        }
    }
    assert!(done, "the engine never decided: {events:?}");
    assert_eq!(check.local_outcome()["passed"], true, "{events:?}");
    assert!(events.iter().any(|e| e["type"] == "prompt"));
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "local_outcome" && e["passed"] == true)
    );

    let manifest_bytes = check.manifest().unwrap();
    let key_and_sig = check.sign_with_ephemeral_key().unwrap();
    let signed = SignedManifest {
        manifest_bytes,
        public_key: key_and_sig[..32].try_into().unwrap(),
        signature: key_and_sig[32..].try_into().unwrap(),
    };
    let manifest = signed.verify().unwrap();
    assert_eq!(manifest.frames.len(), check.frames().len());
    assert!(!check.frames().is_empty());
    assert_eq!(manifest.device.platform, "web");
    assert_eq!(manifest.device.key_storage.as_deref(), Some("wasm"));
    // Once per check.
    assert_eq!(check.manifest().unwrap_err().code, "invalid_state");
}

#[test]
fn a_check_ended_by_the_page_is_judged_and_still_builds_evidence() {
    let (json, plan) = descriptor(false);
    let mut check = Check::new(&json, BROWSER).unwrap();
    load_models(&mut check);
    check.start().unwrap();
    let r = Renderer::new(liveness_testkit::performing_plan(&plan).unwrap());
    for i in 0..8 {
        let img = r.render(i);
        let t = r.timestamp_us(i) as f64 / 1000.0;
        check
            .push_rgba(&rgba(&img.rgb), img.width, img.height, t, 1.8e12)
            .unwrap();
    }
    let end = check.end("timed_out");
    assert_eq!(end["done"], true);
    assert_eq!(check.local_outcome()["passed"], false);
    check.manifest().unwrap();
    assert!(!check.frames().is_empty());
}

#[test]
fn bad_inputs_get_typed_codes() {
    let (json, _) = descriptor(false);
    assert_eq!(Check::new("{", BROWSER).unwrap_err().code, "invalid_input");
    let mut wrong_nonce: Value = serde_json::from_str(&json).unwrap();
    wrong_nonce["nonce"] = json!(Nonce([8; 32]).to_b64url());
    assert_eq!(
        Check::new(&wrong_nonce.to_string(), BROWSER)
            .unwrap_err()
            .code,
        "invalid_input"
    );
    let bad_storage = BROWSER.replace("wasm", "cookie");
    assert_eq!(
        Check::new(&json, &bad_storage).unwrap_err().code,
        "invalid_input"
    );

    let mut check = Check::new(&json, BROWSER).unwrap();
    // A frame before the models, a model of the wrong bytes, a model not of this build.
    assert_eq!(
        check.push_rgba(&[0; 16], 2, 2, 0.0, 0.0).unwrap_err().code,
        "invalid_state"
    );
    let file = model_files().unwrap()[0]["file"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        check.load_model(&file, b"not a model").unwrap_err().code,
        "model_load"
    );
    assert_eq!(
        check.load_model("evil.onnx", b"x").unwrap_err().code,
        "model_load"
    );
    assert_eq!(check.start().unwrap_err().code, "model_load");

    let mut check = Check::new(&json, BROWSER).unwrap();
    load_models(&mut check);
    check.start().unwrap();
    assert_eq!(
        check.push_rgba(&[0; 15], 2, 2, 0.0, 0.0).unwrap_err().code,
        "invalid_frame"
    );
    assert_eq!(
        check
            .push_rgba(&[0; 16], 2, 2, f64::NAN, 0.0)
            .unwrap_err()
            .code,
        "invalid_frame"
    );
    // A malformed frame breaks nothing: the check goes on.
    let img = liveness_testkit::Renderer::new(
        liveness_testkit::performing_plan(&descriptor(false).1).unwrap(),
    )
    .render(0);
    check
        .push_rgba(&rgba(&img.rgb), img.width, img.height, 1.0, 0.0)
        .unwrap();
    // A repeated frame time is skipped, not an error.
    let again = check
        .push_rgba(&rgba(&img.rgb), img.width, img.height, 1.0, 0.0)
        .unwrap();
    assert_eq!(again["skipped"], true);
}

#[test]
fn the_model_list_names_every_fp32_model_with_its_digest() {
    let files = model_files().unwrap();
    assert_eq!(files.as_array().unwrap().len(), 4);
    for f in files.as_array().unwrap() {
        assert_eq!(f["sha256"].as_str().unwrap().len(), 64);
        assert!(!f["file"].as_str().unwrap().contains("int8"));
    }
    assert_eq!(PRECISION, liveness_vision::Precision::Fp32);
}

#[test]
fn models_prepared_ahead_serve_the_checks_that_follow() {
    let (json, _) = descriptor(false);
    let mut check = Check::new(&json, BROWSER).unwrap();
    let files = model_files().unwrap();
    let first = files[0]["file"].as_str().unwrap().to_owned();
    // Nothing prepared yet on this thread.
    assert!(!check.load_prepared(&first).unwrap());
    assert_eq!(
        check.load_prepared("evil.onnx").unwrap_err().code,
        "model_load"
    );
    assert_eq!(
        liveness_web::prepare_model(&first, b"not a model")
            .unwrap_err()
            .code,
        "model_load"
    );
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models");
    for f in files.as_array().unwrap() {
        let file = f["file"].as_str().unwrap();
        liveness_web::prepare_model(file, &std::fs::read(models.join(file)).unwrap()).unwrap();
    }
    // Two checks in a row take them without the bytes.
    for _ in 0..2 {
        let mut check = Check::new(&json, BROWSER).unwrap();
        for f in files.as_array().unwrap() {
            assert!(check.load_prepared(f["file"].as_str().unwrap()).unwrap());
        }
        check.start().unwrap();
        assert_eq!(
            check.load_prepared(&first).unwrap_err().code,
            "invalid_state"
        );
    }
}
