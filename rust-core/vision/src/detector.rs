//! BlazeFace detection: anchors, box decoding and weighted non-maximum suppression.

use liveness_frame::{Affine2, Frame};

use crate::error::Result;
use crate::models::{Model, ModelKind};

/// A detected face in upright frame pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// x, y (top-left), width, height.
    pub bbox: [f32; 4],
    /// Right eye, left eye (the subject's), nose tip, mouth, right ear tragion, left ear tragion.
    pub keypoints: [[f32; 2]; 6],
    pub score: f32,
}

impl Detection {
    pub fn center(&self) -> [f32; 2] {
        [
            self.bbox[0] + self.bbox[2] / 2.0,
            self.bbox[1] + self.bbox[3] / 2.0,
        ]
    }

    fn iou(&self, other: &Detection) -> f32 {
        let [ax, ay, aw, ah] = self.bbox;
        let [bx, by, bw, bh] = other.bbox;
        let iw = ((ax + aw).min(bx + bw) - ax.max(bx)).max(0.0);
        let ih = ((ay + ah).min(by + bh) - ay.max(by)).max(0.0);
        let inter = iw * ih;
        let union = aw * ah + bw * bh - inter;
        if union > 0.0 { inter / union } else { 0.0 }
    }
}

/// Anchor centres in the unit square, in the model's output order.
fn anchors(kind: ModelKind) -> Vec<[f32; 2]> {
    // (grid cells per side, anchors per cell)
    let layers: &[(usize, usize)] = match kind {
        ModelKind::DetectorFullRange => &[(48, 1)],
        _ => &[(16, 2), (8, 6)],
    };
    let mut out = Vec::new();
    for &(n, per_cell) in layers {
        for y in 0..n {
            for x in 0..n {
                for _ in 0..per_cell {
                    out.push([(x as f32 + 0.5) / n as f32, (y as f32 + 0.5) / n as f32]);
                }
            }
        }
    }
    out
}

/// Runs a BlazeFace model on a frame, reusing `input` as the tensor buffer.
#[derive(Debug)]
pub struct Detector {
    model: Model,
    anchors: Vec<[f32; 2]>,
    input: Vec<f32>,
    pub min_score: f32,
    pub nms_iou: f32,
}

impl Detector {
    pub fn new(model: Model) -> Self {
        let side = model.kind().input_side();
        Self {
            anchors: anchors(model.kind()),
            input: vec![0.0; side * side * 3],
            model,
            min_score: 0.5,
            nms_iou: 0.3,
        }
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Every face found, best first.
    pub fn detect(&mut self, frame: &Frame) -> Result<Vec<Detection>> {
        let side = self.model.kind().input_side();
        let (w, h) = frame.size();
        let to_frame = Affine2::letterbox(w as f32, h as f32, side);
        frame.warp_into(&to_frame, side, side, 2.0 / 255.0, -1.0, &mut self.input)?;
        let outputs = self.model.run(&self.input)?;
        let (regressors, logits) = (&outputs[0], &outputs[1]);
        let scale = side as f32;
        let mut candidates = Vec::new();
        for (i, anchor) in self.anchors.iter().enumerate() {
            let score = sigmoid(logits[i].clamp(-100.0, 100.0));
            if score < self.min_score {
                continue;
            }
            let r = &regressors[i * 16..i * 16 + 16];
            // Decoded in input pixels, then mapped back through the letterbox.
            let cx = (r[0] / scale + anchor[0]) * scale;
            let cy = (r[1] / scale + anchor[1]) * scale;
            let (bw, bh) = (r[2], r[3]);
            let (x0, y0) = to_frame.apply(cx - bw / 2.0, cy - bh / 2.0);
            let (x1, y1) = to_frame.apply(cx + bw / 2.0, cy + bh / 2.0);
            let mut keypoints = [[0.0; 2]; 6];
            for (k, kp) in keypoints.iter_mut().enumerate() {
                let kx = r[4 + 2 * k] + anchor[0] * scale;
                let ky = r[5 + 2 * k] + anchor[1] * scale;
                let (fx, fy) = to_frame.apply(kx, ky);
                *kp = [fx, fy];
            }
            candidates.push(Detection {
                bbox: [x0, y0, x1 - x0, y1 - y0],
                keypoints,
                score,
            });
        }
        Ok(weighted_nms(candidates, self.nms_iou))
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// MediaPipe's weighted NMS: each kept face is the score-weighted mean of the candidates that
/// overlap it, which steadies boxes from frame to frame.
fn weighted_nms(mut candidates: Vec<Detection>, iou: f32) -> Vec<Detection> {
    candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept = Vec::new();
    while !candidates.is_empty() {
        let best = candidates[0].clone();
        let (cluster, rest): (Vec<_>, Vec<_>) =
            candidates.into_iter().partition(|c| c.iou(&best) > iou);
        candidates = rest;
        let total: f32 = cluster.iter().map(|c| c.score).sum();
        let mut merged = Detection {
            bbox: [0.0; 4],
            keypoints: [[0.0; 2]; 6],
            score: best.score,
        };
        for c in &cluster {
            let w = c.score / total;
            for k in 0..4 {
                merged.bbox[k] += c.bbox[k] * w;
            }
            for k in 0..6 {
                merged.keypoints[k][0] += c.keypoints[k][0] * w;
                merged.keypoints[k][1] += c.keypoints[k][1] * w;
            }
        }
        kept.push(merged);
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchor_counts_match_the_models() {
        assert_eq!(anchors(ModelKind::DetectorShortRange).len(), 896);
        assert_eq!(anchors(ModelKind::DetectorFullRange).len(), 2304);
    }

    #[test]
    fn nms_merges_overlaps_and_keeps_separate_faces() {
        let d = |x: f32, s: f32| Detection {
            bbox: [x, 0.0, 10.0, 10.0],
            keypoints: [[x, 0.0]; 6],
            score: s,
        };
        let out = weighted_nms(vec![d(0.0, 0.9), d(1.0, 0.6), d(50.0, 0.7)], 0.3);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].score, 0.9);
        assert!((out[0].bbox[0] - 0.4).abs() < 1e-5, "{:?}", out[0].bbox);
        assert_eq!(out[1].bbox[0], 50.0);
    }
}
