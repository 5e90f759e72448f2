//! The browser's per-frame work, natively: the same `Check::push_rgba` the page calls, on
//! the same rendered subject the browser test plays through the fake camera (640×480 RGBA).
//! Prints the median and p95; `scripts/bench-web.sh` puts it beside the browser's figure.
//!   cargo bench -p liveness-web --bench per_frame

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::time::Instant;

use liveness_protocol::options::SessionOptions;
use liveness_protocol::plan::derive_plan;
use liveness_protocol::{Action, Nonce};
use liveness_testkit::Renderer;
use liveness_web::{Check, model_files};
use serde_json::json;

const BROWSER: &str =
    r#"{"browser":"native bench","os":"Linux","key_storage":"wasm","origin":"http://127.0.0.1"}"#;

fn main() {
    let nonce = Nonce([7; 32]);
    let options = SessionOptions {
        action: Action::BlinkEyes,
        light_challenge: Some(false),
        ..Default::default()
    };
    let plan = derive_plan(&nonce, &options).unwrap();
    let descriptor = json!({
        "session_id": "ses_0123456789abcdef0123456789abcdef",
        "nonce": nonce.to_b64url(),
        "plan": plan,
        "submission_token": "st_bench",
        "submission_expires_at": 4_000_000_000i64,
    })
    .to_string();
    let renderer = Renderer::new(liveness_testkit::performing_plan(&plan).unwrap());
    let frames: Vec<_> = (0..renderer.frame_count())
        .map(|i| {
            let img = renderer.render(i);
            let rgba: Vec<u8> = img
                .rgb
                .chunks_exact(3)
                .flat_map(|p| [p[0], p[1], p[2], 255])
                .collect();
            (
                rgba,
                img.width,
                img.height,
                renderer.timestamp_us(i) as f64 / 1000.0,
            )
        })
        .collect();
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models");
    let mut durations = Vec::new();
    // Several checks so the figure covers more than one pass over the clip.
    for _ in 0..3 {
        let mut check = Check::new(&descriptor, BROWSER).unwrap();
        for f in model_files().unwrap().as_array().unwrap() {
            let file = f["file"].as_str().unwrap();
            check
                .load_model(file, &std::fs::read(models.join(file)).unwrap())
                .unwrap();
        }
        check.start().unwrap();
        for (rgba, w, h, t_ms) in &frames {
            let before = Instant::now();
            let step = check.push_rgba(rgba, *w, *h, *t_ms, 1.8e12 + t_ms).unwrap();
            durations.push(before.elapsed().as_secs_f64() * 1000.0);
            if step["done"] == true {
                break;
            }
        }
    }
    durations.sort_by(f64::total_cmp);
    let at = |q: f64| durations[((q * durations.len() as f64) as usize).min(durations.len() - 1)];
    println!(
        "native push_rgba (640x480 RGBA, fp32, one thread): {:.1} ms/frame median, p95 {:.1}, over {} frames",
        at(0.5),
        at(0.95),
        durations.len()
    );
}
