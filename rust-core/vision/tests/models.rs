//! Loading models: real files, corrupt or swapped files, and both precisions.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::PathBuf;

use common::*;
use liveness_vision::models::manifest_entry;
use liveness_vision::{
    Model, ModelKind, ModelSet, Pipeline, PipelineConfig, Precision, VisionError,
};

fn models_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models")
}

#[test]
fn every_model_loads_from_the_models_folder_in_both_precisions() {
    for precision in [Precision::Fp32, Precision::Int8] {
        let set = ModelSet::from_dir(&models_dir(), precision).unwrap();
        for kind in ModelKind::ALL {
            let entry = manifest_entry(kind, precision).unwrap();
            let bytes = std::fs::read(models_dir().join(&entry.file)).unwrap();
            assert_eq!(bytes.len() as u64, entry.bytes);
        }
        assert_eq!(
            set.mesh.sha256(),
            manifest_entry(ModelKind::FaceMesh, precision)
                .unwrap()
                .sha256
        );
    }
}

#[test]
fn corrupt_truncated_or_swapped_files_are_refused() {
    let entry = manifest_entry(ModelKind::FaceMesh, Precision::Fp32).unwrap();
    let good = std::fs::read(models_dir().join(&entry.file)).unwrap();
    let mut flipped = good.clone();
    flipped[good.len() / 2] ^= 0x10;
    let swapped = std::fs::read(models_dir().join("iris_landmark.onnx")).unwrap();
    for bytes in [
        flipped,
        good[..good.len() - 100].to_vec(),
        swapped,
        b"not a model".to_vec(),
        vec![],
    ] {
        match Model::from_bytes(ModelKind::FaceMesh, Precision::Fp32, &bytes) {
            Err(VisionError::ModelHashMismatch { expected, .. }) => {
                assert_eq!(expected, entry.sha256)
            }
            other => panic!("expected a hash mismatch, got {other:?}"),
        }
    }
    let err = Model::from_dir(
        ModelKind::Iris,
        Precision::Int8,
        std::path::Path::new("/nonexistent"),
    )
    .unwrap_err();
    assert_eq!(err.code(), "model_io");
}

#[test]
fn int8_models_agree_with_fp32_on_the_photo() {
    let fp = pipeline()
        .process(&frame(astronaut()))
        .unwrap()
        .face
        .unwrap();
    let mut p = Pipeline::new(models(Precision::Int8), PipelineConfig::default()).unwrap();
    let q = p.process(&frame(astronaut())).unwrap().face.unwrap();
    let errs: Vec<f32> = fp
        .mesh
        .points
        .iter()
        .zip(&q.mesh.points)
        .map(|(a, b)| (a[0] - b[0]).hypot(a[1] - b[1]))
        .collect();
    let mean = errs.iter().sum::<f32>() / errs.len() as f32;
    let face = fp.signals.face_box[2];
    // Reported in the README; bound here so a broken quantization cannot pass unnoticed.
    assert!(
        mean < 0.03 * face,
        "int8 mean landmark error {mean} px on a {face} px face"
    );
    assert!((fp.signals.pose.yaw - q.signals.pose.yaw).abs() < 5.0);
}

#[test]
fn invalid_config_is_a_typed_error() {
    for config in [
        PipelineConfig {
            redetect_every: 0,
            ..Default::default()
        },
        PipelineConfig {
            min_presence: 1.5,
            ..Default::default()
        },
        PipelineConfig {
            max_jump: 0.0,
            ..Default::default()
        },
        PipelineConfig {
            max_jump: f32::NAN,
            ..Default::default()
        },
    ] {
        assert_eq!(
            Pipeline::new(models(Precision::Fp32), config)
                .unwrap_err()
                .code(),
            "invalid_config"
        );
    }
}

#[test]
fn detector_false_positives_are_neither_the_user_nor_a_second_face() {
    // On this darker copy the int8 detector also fires on a non-face region; FaceMesh
    // presence must reject it.
    let darker = astronaut().with_gain(0.6);
    for precision in [Precision::Fp32, Precision::Int8] {
        let mut p = Pipeline::new(models(precision), PipelineConfig::default()).unwrap();
        let out = p.process(&frame(&darker)).unwrap();
        assert_eq!(out.face_count, 1, "{precision:?}");
        let face = out.face.unwrap();
        let c = face.signals.face_box;
        assert!(
            (c[0]..c[0] + c[2]).contains(&222.0) && (c[1]..c[1] + c[3]).contains(&118.0),
            "{precision:?}: {c:?}"
        );
    }
}

#[test]
fn more_threads_give_the_same_landmarks() {
    let one = pipeline()
        .process(&frame(astronaut()))
        .unwrap()
        .face
        .unwrap()
        .mesh
        .points;
    let mut p = pipeline_with(PipelineConfig {
        threads: 2,
        ..Default::default()
    });
    let two = p
        .process(&frame(astronaut()))
        .unwrap()
        .face
        .unwrap()
        .mesh
        .points;
    let worst = worst_landmark(&one, &two);
    assert!(worst < 0.01, "{worst}");
}
