//! Criterion benchmarks of each vision stage on tract (single thread): frame conversion into
//! the FaceMesh tensor per pixel format, each model, and a steady-state tracked frame.
//! `liveness bench` prints the same figures as a table, with onnxruntime side by side.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use liveness_frame::{Affine2, OwnedFrame, PixelFormat};
use liveness_testkit::RgbImage;
use liveness_vision::{ModelSet, Pipeline, PipelineConfig, Precision};

fn frame_640() -> RgbImage {
    RgbImage::astronaut_placed(0.9, 320.0, 230.0, 640, 480, 110)
        .unwrap_or_else(|_| RgbImage::blank(640, 480, 0))
}

fn conversion(c: &mut Criterion) {
    let img = frame_640();
    let crop = Affine2::square_crop(320.0, 230.0, 250.0, 0.1, 192);
    let mut out = vec![0.0; 192 * 192 * 3];
    for format in [
        PixelFormat::Rgb8,
        PixelFormat::Bgra8,
        PixelFormat::Nv21,
        PixelFormat::I420,
    ] {
        let Ok(owned) = OwnedFrame::from_rgb(&img.rgb, img.width, img.height, format) else {
            return;
        };
        let Ok(frame) = owned.as_frame() else { return };
        c.bench_function(&format!("convert/{format:?}->mesh tensor"), |b| {
            b.iter(|| frame.warp_into(black_box(&crop), 192, 192, 1.0 / 255.0, 0.0, &mut out))
        });
    }
}

fn models(c: &mut Criterion) {
    for precision in [Precision::Fp32, Precision::Int8] {
        let Ok(set) = ModelSet::bundled(precision) else {
            return;
        };
        let models = [Some(set.detector), Some(set.mesh), set.iris];
        for model in models.into_iter().flatten() {
            let side = model.kind().input_side();
            let input = vec![0.5f32; side * side * 3];
            c.bench_function(
                &format!("model/{}/{precision:?}", model.kind().name()),
                |b| b.iter(|| model.run(black_box(&input))),
            );
        }
    }
}

fn steady_state(c: &mut Criterion) {
    let img = frame_640();
    let Ok(frame) = img.frame() else { return };
    for precision in [Precision::Fp32, Precision::Int8] {
        let Ok(set) = ModelSet::bundled(precision) else {
            return;
        };
        // Tracking only: the detector would run every 15th frame.
        let config = PipelineConfig {
            redetect_every: u32::MAX,
            ..Default::default()
        };
        let Ok(mut pipeline) = Pipeline::new(set, config) else {
            return;
        };
        let _ = pipeline.process(&frame);
        c.bench_function(
            &format!("pipeline/tracked frame 640x480/{precision:?}"),
            |b| b.iter(|| pipeline.process(black_box(&frame))),
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = conversion, models, steady_state
}
criterion_main!(benches);
