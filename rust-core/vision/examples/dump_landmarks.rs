//! Prints the landmarks found on an image as JSON, for looking at them.
#![allow(clippy::unwrap_used, clippy::expect_used)]
fn main() {
    let path = std::env::args().nth(1).expect("image path");
    let img = image::open(path).unwrap().to_rgb8();
    let (w, h) = img.dimensions();
    let frame = liveness_frame::Frame::rgb8(img.as_raw(), w, h, w as usize * 3).unwrap();
    let models = liveness_vision::ModelSet::bundled(liveness_vision::Precision::Fp32).unwrap();
    let config = liveness_vision::PipelineConfig {
        iris: true,
        ..Default::default()
    };
    let mut p = liveness_vision::Pipeline::new(models, config).unwrap();
    let out = p.process(&frame).unwrap();
    let face = out.face.unwrap();
    let eyes = face.eyes.as_ref().unwrap();
    println!(
        "{}",
        serde_json::json!({
            "points": face.mesh.points.iter().map(|p| [p[0], p[1]]).collect::<Vec<_>>(),
            "iris": [eyes.0.iris, eyes.1.iris],
            "bbox": face.detection.as_ref().map(|d| d.bbox),
            "signals": format!("{:?}", face.signals),
        })
    );
}
