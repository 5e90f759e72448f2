//! The upload check's throughput (`verify::check_upload`: the device signature over the
//! manifest, the session binding, every frame's SHA-256 and JPEG header), per core, on
//! genuine uploads of 3, 7 and 11 frames (1, 3 and 5 challenges). The target is 2,000
//! uploads/s per core; criterion prints the rate as `thrpt` (elements = uploads).
//!   cargo bench -p liveness-server --bench upload_check

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../examples/support/genuine.rs"]
mod genuine;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use genuine::{Binding, KINDS, Shots};
use liveness_protocol::{DeviceSigningKey, Nonce, SessionOptions, derive_plan};
use liveness_server::verify::check_upload;

fn upload_check(c: &mut Criterion) {
    let shots = Shots::new();
    let mut group = c.benchmark_group("check_upload");
    group.throughput(Throughput::Elements(1));
    for challenges in [1u8, 3, 5] {
        let nonce = Nonce::random().unwrap();
        let options: SessionOptions = serde_json::from_value(serde_json::json!({
            "available_actions": KINDS,
            "challenge_count": challenges,
            "light_challenge": false,
        }))
        .unwrap();
        let plan = derive_plan(&nonce, &options).unwrap();
        let token = "st_benchmarksubmissiontoken0123456789abcdefgh";
        let binding = Binding {
            session_id: "ses_bench",
            nonce: &nonce,
            submission_token: token,
        };
        let evidence = shots.evidence(&plan, &binding, 1_700_000_000_000);
        let signed = DeviceSigningKey::generate()
            .unwrap()
            .sign_manifest(&evidence.manifest)
            .unwrap();
        let bytes: usize = evidence.frames.iter().map(Vec::len).sum();
        let name = format!("{} frames, {} KiB", evidence.frames.len(), bytes / 1024);
        // The check must pass, or the figure would time an early rejection.
        check_upload(&signed, "ses_bench", &plan, token, &evidence.frames).unwrap();
        group.bench_function(name, |b| {
            b.iter(|| check_upload(&signed, "ses_bench", &plan, token, &evidence.frames).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, upload_check);
criterion_main!(benches);
