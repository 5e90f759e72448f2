//! tract against onnxruntime on identical inputs (feature `onnxruntime`, measurement only).
//!
//! The inputs are the real tensors the pipeline builds: the letterboxed frame for the
//! detector, the face crop for FaceMesh and both eye crops for the iris model, taken from
//! tract's own run on each frame. Errors are reported in each model's crop pixels.

use liveness_frame::{Affine2, Frame};

use crate::error::{Result, VisionError};
use crate::landmarks as lm;
use crate::mesh::{EYE_SIDE, MESH_SIDE, Roi};
use crate::models::{ModelKind, ModelSet, Precision};
use crate::pipeline::{Pipeline, PipelineConfig};

/// How far onnxruntime's outputs are from tract's for one model.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineDiff {
    pub model: ModelKind,
    pub precision: Precision,
    /// Largest point distance, in the model's input pixels (detector: box centre, size and
    /// keypoints of the best anchor; FaceMesh: 468 landmarks; iris: 76 points).
    pub max_px: f32,
    pub mean_px: f32,
    pub inputs: usize,
}

fn point_errors(a: &[f32], b: &[f32], stride: usize, out: &mut Vec<f32>) {
    for (p, q) in a.chunks_exact(stride).zip(b.chunks_exact(stride)) {
        out.push((p[0] - q[0]).hypot(p[1] - q[1]));
    }
}

/// Runs every model through both engines on the inputs the tract pipeline builds for each
/// frame, at one precision.
pub fn compare_engines(frames: &[Frame], precision: Precision) -> Result<Vec<EngineDiff>> {
    let tract = ModelSet::bundled(precision)?;
    let ort = ModelSet::bundled_onnxruntime(precision)?;
    let mut pipeline = Pipeline::new(
        tract.clone(),
        PipelineConfig {
            redetect_every: 1,
            ..Default::default()
        },
    )?;
    let mut errs: [Vec<f32>; 3] = Default::default();
    let mut inputs = 0;
    for frame in frames {
        // Fresh state per frame: every crop comes from a detection, as on a first frame.
        pipeline.reset();
        let analysis = pipeline.process(frame)?;
        let Some(face) = analysis.face else {
            return Err(VisionError::Config("a comparison frame has no face".into()));
        };
        inputs += 1;

        let side = ModelKind::DetectorShortRange.input_side();
        let (w, h) = frame.size();
        let mut det_in = vec![0.0; side * side * 3];
        frame.warp_into(
            &Affine2::letterbox(w as f32, h as f32, side),
            side,
            side,
            2.0 / 255.0,
            -1.0,
            &mut det_in,
        )?;
        let (a, b) = (tract.detector.run(&det_in)?, ort.detector.run(&det_in)?);
        let best = (0..a[1].len())
            .max_by(|&i, &j| a[1][i].total_cmp(&a[1][j]))
            .unwrap_or(0);
        let (ra, rb) = (
            &a[0][best * 16..best * 16 + 16],
            &b[0][best * 16..best * 16 + 16],
        );
        point_errors(ra, rb, 2, &mut errs[0]);

        let mut mesh_in = vec![0.0; MESH_SIDE * MESH_SIDE * 3];
        frame.warp_into(
            &face.mesh.roi.to_frame(MESH_SIDE),
            MESH_SIDE,
            MESH_SIDE,
            1.0 / 255.0,
            0.0,
            &mut mesh_in,
        )?;
        let (a, b) = (tract.mesh.run(&mesh_in)?, ort.mesh.run(&mesh_in)?);
        point_errors(&a[0], &b[0], 3, &mut errs[1]);

        let p = &face.mesh.points;
        for (c0, c1) in [
            (lm::RIGHT_EYE_OUTER, lm::RIGHT_EYE_INNER),
            (lm::LEFT_EYE_INNER, lm::LEFT_EYE_OUTER),
        ] {
            let (dx, dy) = (p[c1][0] - p[c0][0], p[c1][1] - p[c0][1]);
            let roi = Roi {
                cx: (p[c0][0] + p[c1][0]) / 2.0,
                cy: (p[c0][1] + p[c1][1]) / 2.0,
                side: dx.hypot(dy) * 2.3,
                angle: dy.atan2(dx),
            };
            let mut eye_in = vec![0.0; EYE_SIDE * EYE_SIDE * 3];
            frame.warp_into(
                &roi.to_frame(EYE_SIDE),
                EYE_SIDE,
                EYE_SIDE,
                1.0 / 255.0,
                0.0,
                &mut eye_in,
            )?;
            let (Some(ti), Some(oi)) = (&tract.iris, &ort.iris) else {
                continue;
            };
            let (a, b) = (ti.run(&eye_in)?, oi.run(&eye_in)?);
            point_errors(&a[0], &b[0], 3, &mut errs[2]);
            point_errors(&a[1], &b[1], 3, &mut errs[2]);
        }
    }
    let kinds = [
        ModelKind::DetectorShortRange,
        ModelKind::FaceMesh,
        ModelKind::Iris,
    ];
    Ok(kinds
        .into_iter()
        .zip(errs)
        .map(|(model, e)| EngineDiff {
            model,
            precision,
            max_px: e.iter().copied().fold(0.0, f32::max),
            mean_px: e.iter().sum::<f32>() / e.len().max(1) as f32,
            inputs,
        })
        .collect())
}
