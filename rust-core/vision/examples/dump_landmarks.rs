//! Writes the FaceMesh landmarks (x, y, z in image pixels) and presence found on an image as
//! JSON. `liveness-testkit` keeps the astronaut's as `assets/astronaut_mesh.json`, built with
//! this and checked against the pipeline by a test.
#![allow(clippy::unwrap_used, clippy::expect_used)]
fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: dump_landmarks IMAGE");
    let img = image::open(path).unwrap().to_rgb8();
    let (w, h) = img.dimensions();
    let frame = liveness_frame::Frame::rgb8(img.as_raw(), w, h, w as usize * 3).unwrap();
    let models = liveness_vision::ModelSet::bundled(liveness_vision::Precision::Fp32).unwrap();
    let mut p = liveness_vision::Pipeline::new(models, Default::default()).unwrap();
    let face = p.process(&frame).unwrap().face.expect("no face found");
    let round = |v: f32| (f64::from(v) * 100.0).round() / 100.0;
    let points: Vec<[f64; 3]> = face.mesh.points.iter().map(|q| q.map(round)).collect();
    println!(
        "{}",
        serde_json::json!({ "width": w, "height": h, "presence": face.mesh.presence, "points": points })
    );
}
