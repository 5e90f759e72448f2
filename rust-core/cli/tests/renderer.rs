//! The synthetic subject checked by the vision pipeline: what the script poses is what the
//! models measure.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use liveness_testkit::head::astronaut_landmarks;
use liveness_testkit::{Renderer, Script, astronaut};
use liveness_vision::{FaceSignals, ModelSet, Pipeline, PipelineConfig, Precision};

fn measure(body: &str) -> FaceSignals {
    let script = Script::parse(&format!("duration = 0.1\n{body}")).unwrap();
    let img = Renderer::new(script).render(0);
    let models = ModelSet::bundled(Precision::Fp32).unwrap();
    let mut p = Pipeline::new(
        models,
        PipelineConfig {
            iris: true,
            ..Default::default()
        },
    )
    .unwrap();
    let out = p.process(&img.frame().unwrap()).unwrap();
    assert_eq!(out.face_count, 1, "{body}");
    out.face.unwrap().signals
}

fn pose(keys: &str) -> FaceSignals {
    measure(&format!("[[keys]]\nt = 0\n{keys}"))
}

#[test]
fn committed_astronaut_mesh_matches_the_pipeline() {
    let img = astronaut();
    let mut p = Pipeline::new(
        ModelSet::bundled(Precision::Fp32).unwrap(),
        PipelineConfig::default(),
    )
    .unwrap();
    let face = p.process(&img.frame().unwrap()).unwrap().face.unwrap();
    let worst = face
        .mesh
        .points
        .iter()
        .zip(astronaut_landmarks())
        .map(|(a, b)| {
            (a[0] - b[0])
                .abs()
                .max((a[1] - b[1]).abs())
                .max((a[2] - b[2]).abs())
        })
        .fold(0.0, f32::max);
    assert!(
        worst < 0.02,
        "assets/astronaut_mesh.json is stale: {worst} px off"
    );
}

#[test]
fn scripted_yaw_and_pitch_are_measured() {
    let base = pose("");
    for yaw in [-30.0f32, -15.0, 15.0, 30.0] {
        let got = pose(&format!("yaw = {yaw}")).pose.yaw - base.pose.yaw;
        assert!(
            (got - yaw).abs() <= 8.0,
            "scripted yaw {yaw}, measured {got}"
        );
    }
    for pitch in [-20.0f32, 20.0] {
        let got = pose(&format!("pitch = {pitch}")).pose.pitch - base.pose.pitch;
        assert!(
            (got - pitch).abs() <= 8.0,
            "scripted pitch {pitch}, measured {got}"
        );
    }
    let roll = pose("roll = 15").pose.roll - base.pose.roll;
    assert!((roll - 15.0).abs() <= 5.0, "roll {roll}");
}

#[test]
fn closed_eyes_smile_and_distance_are_measured() {
    let base = pose("");
    let closed = pose("eyes = 1.0");
    for (open, shut) in [
        (base.left_eye_openness, closed.left_eye_openness),
        (base.right_eye_openness, closed.right_eye_openness),
    ] {
        assert!(shut <= 0.75 * open, "eye openness {open} -> {shut}");
    }
    // One eye: FaceMesh moves both eyes together, the iris model tells them apart.
    let lids = |s: &FaceSignals| (s.left_eye_lid.unwrap(), s.right_eye_lid.unwrap());
    let (bl, br) = lids(&base);
    let (ll, lr) = lids(&pose("eye_left = 1.0"));
    assert!(
        ll <= 0.75 * bl && lr > 0.9 * br,
        "left wink: lids {ll} {lr}, open {bl} {br}"
    );
    let (rl, rr) = lids(&pose("eye_right = 1.0"));
    assert!(
        rr <= 0.75 * br && rl > 0.9 * bl,
        "right wink: lids {rl} {rr}, open {bl} {br}"
    );
    let smile = pose("smile = 1.0");
    assert!(
        smile.smile > base.smile * 1.04,
        "smile {} -> {}",
        base.smile,
        smile.smile
    );
    let far = pose("scale = 0.5");
    let ratio = far.face_size / base.face_size;
    assert!(
        (ratio - 0.5).abs() <= 0.075,
        "scale 0.5 gave face size ratio {ratio}"
    );
}

#[test]
fn same_script_and_seed_give_identical_frames() {
    let text = "duration = 0.2\nseed = 42\n[[keys]]\nt = 0\nnoise = 6.0\nblur = 3\njpeg = 70\nyaw = 10\n[[keys]]\nt = 0.2\nyaw = -10\neyes = 1";
    let a = Renderer::new(Script::parse(text).unwrap());
    let b = Renderer::new(Script::parse(text).unwrap());
    for i in [0, 3, 5] {
        assert_eq!(a.render(i), b.render(i), "frame {i}");
    }
    let other_seed = Renderer::new(Script::parse(&text.replace("seed = 42", "seed = 43")).unwrap());
    assert_ne!(a.render(0), other_seed.render(0));
}

#[test]
fn staged_scenes_read_as_expected() {
    let models = ModelSet::bundled(Precision::Fp32).unwrap();
    let count = |body: &str| {
        let img =
            Renderer::new(Script::parse(&format!("duration = 0.1\n{body}")).unwrap()).render(0);
        let mut p = Pipeline::new(models.clone(), PipelineConfig::default()).unwrap();
        p.process(&img.frame().unwrap()).unwrap().face_count
    };
    assert_eq!(
        count("[second_face]\nx = 0.82\ny = 0.5\nscale = 0.7\n[[keys]]\nt = 0\nx = 0.35"),
        2
    );
    assert_eq!(
        count("[[keys]]\nt = 0\nx = 1.6"),
        0,
        "face out of the frame"
    );
    assert_eq!(
        count("[attack]\nkind = \"print\"\n[[keys]]\nt = 0\nyaw = 20"),
        1,
        "a print still shows a face"
    );
    assert_eq!(
        count("[attack]\nkind = \"screen\""),
        1,
        "a screen still shows a face"
    );
    let occluded = measure("[occluder]\ndx = 0.05\ndy = 0.2\nwidth = 0.8\nheight = 0.7");
    assert!(
        occluded.occlusion >= 0.5,
        "hand over nose and mouth: occlusion {}",
        occluded.occlusion
    );
    for clear in ["", "yaw = 30", "yaw = -30", "pitch = 20", "smile = 1"] {
        let o = pose(clear).occlusion;
        assert!(o < 0.34, "{clear}: occlusion {o} on a clear face");
    }
}

#[test]
fn every_output_format_reads_the_same() {
    use liveness_frame::PixelFormat;
    let r = Renderer::new(
        Script::parse("duration = 0.1\n[[keys]]\nt = 0\nyaw = 20\neyes = 0.6").unwrap(),
    );
    let models = ModelSet::bundled(Precision::Fp32).unwrap();
    let yaw = |format| {
        let owned = r.render_as(0, format).unwrap();
        let mut p = Pipeline::new(models.clone(), PipelineConfig::default()).unwrap();
        p.process(&owned.as_frame().unwrap())
            .unwrap()
            .face
            .unwrap()
            .signals
    };
    let rgb = yaw(PixelFormat::Rgb8);
    for format in [PixelFormat::Bgra8, PixelFormat::Nv21, PixelFormat::I420] {
        let s = yaw(format);
        assert!(
            (s.pose.yaw - rgb.pose.yaw).abs() < 1.0
                && (s.left_eye_openness - rgb.left_eye_openness).abs() < 0.02,
            "{format:?}"
        );
    }
}

#[test]
fn y4m_round_trip_keeps_every_frame() {
    use liveness_testkit::output::{Y4mWriter, read_y4m};
    let script = Script::parse(
        "duration = 0.2\nwidth = 96\nheight = 64\nfps = 15\n[[keys]]\nt = 0\nyaw = 10",
    )
    .unwrap();
    let r = Renderer::new(script);
    let mut y4m = Y4mWriter::new(Vec::new(), 96, 64, 15).unwrap();
    for i in 0..r.frame_count() {
        y4m.write(&r.render(i)).unwrap();
    }
    let bytes = y4m.finish().unwrap();
    let path = std::env::temp_dir().join(format!("liveness-y4m-{}.y4m", std::process::id()));
    std::fs::write(&path, &bytes).unwrap();
    let (frames, fps) = read_y4m(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!((frames.len(), fps), (3, 15));
    let expected = r.render_as(2, liveness_frame::PixelFormat::I420).unwrap();
    assert_eq!(frames[2], expected);
    std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
    assert!(read_y4m(&path).is_err(), "a truncated stream is an error");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_head_following_the_text_is_measured_following_it() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testkit/subjects/follow_text.toml"
    );
    let script = Script::from_file(std::path::Path::new(path)).unwrap();
    let follow = script.follow.clone().unwrap();
    let r = Renderer::new(script.clone());
    let mut p = Pipeline::new(
        ModelSet::bundled(Precision::Fp32).unwrap(),
        PipelineConfig::default(),
    )
    .unwrap();
    let (mut want, mut got) = (Vec::new(), Vec::new());
    for i in (0..r.frame_count()).step_by(3) {
        let out = p.process(&r.render(i).frame().unwrap()).unwrap();
        got.push(out.face.unwrap().signals.pose.yaw);
        want.push(follow.angles(script.time(i)).0);
    }
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
    let (mw, mg) = (mean(&want), mean(&got));
    let cov: f32 = want
        .iter()
        .zip(&got)
        .map(|(a, b)| (a - mw) * (b - mg))
        .sum();
    let var = |v: &[f32], m: f32| v.iter().map(|a| (a - m).powi(2)).sum::<f32>();
    let corr = cov / (var(&want, mw) * var(&got, mg)).sqrt();
    assert!(
        corr > 0.95,
        "measured yaw follows the scripted path with correlation {corr}"
    );
}
