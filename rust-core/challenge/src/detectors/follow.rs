//! FollowText: the head follows a text moving across the screen. The yaw must correlate with
//! where the text was a little earlier (a person lags behind it) and move enough; the frame
//! of the largest excursion is kept as the step's peak, for the server's re-check.

use super::{Baseline, Step};
use crate::config::EngineConfig;
use crate::observation::FaceObservation;

#[derive(Debug, Clone)]
pub(crate) struct Follow {
    /// (ms since the step started, x, y in thousandths of the preview).
    path: Vec<[f32; 3]>,
    /// (ms, yaw relative to the baseline).
    samples: Vec<[f32; 2]>,
    largest: f32,
}

impl Follow {
    pub fn new(path: Vec<[f32; 3]>) -> Self {
        Self {
            path,
            samples: Vec::new(),
            largest: 0.0,
        }
    }

    pub fn target(&self, t: u64) -> [f32; 2] {
        path_at(&self.path, t as f32)
    }

    pub fn observe(&mut self, t: u64, f: &FaceObservation, b: &Baseline, c: &EngineConfig) -> Step {
        let yaw = f.yaw - b.yaw;
        self.samples.push([t as f32, yaw]);
        let end = self.path.last().map_or(0.0, |w| w[0]);
        if (t as f32) < end + c.follow_max_lag_ms as f32 + 200.0 {
            let p = (t as f32 / end.max(1.0)).clamp(0.0, 0.95);
            // The largest excursion so far is the frame the server compares with the start.
            if yaw.abs() > self.largest {
                self.largest = yaw.abs();
                return Step::Peak(p, yaw.abs());
            }
            return Step::Pending(p);
        }
        let (corr, amplitude) = follow_score(&self.path, &self.samples, c.follow_max_lag_ms);
        if corr >= c.follow_min_correlation && amplitude >= 4.0 {
            Step::Passed
        } else {
            Step::Failed("did_not_follow")
        }
    }
}

fn path_at(path: &[[f32; 3]], t: f32) -> [f32; 2] {
    match path.iter().position(|w| w[0] >= t) {
        _ if path.is_empty() => [500.0, 500.0],
        Some(0) => [path[0][1], path[0][2]],
        None => [path[path.len() - 1][1], path[path.len() - 1][2]],
        Some(i) => {
            let (a, b) = (path[i - 1], path[i]);
            let f = (t - a[0]) / (b[0] - a[0]).max(1e-3);
            [a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f]
        }
    }
}

/// Best correlation between the head's yaw and where the text was `lag` ms earlier (text to
/// the user's right asks for a turn to their right: negative yaw), and the yaw's amplitude.
fn follow_score(path: &[[f32; 3]], samples: &[[f32; 2]], max_lag_ms: u32) -> (f32, f32) {
    if samples.len() < 8 {
        return (0.0, 0.0);
    }
    let yaw: Vec<f32> = samples.iter().map(|s| s[1]).collect();
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
    let my = mean(&yaw);
    let sy = (yaw.iter().map(|y| (y - my).powi(2)).sum::<f32>() / yaw.len() as f32).sqrt();
    let mut best = -1.0f32;
    for lag in (0..=max_lag_ms).step_by(33) {
        let expected: Vec<f32> = samples
            .iter()
            .map(|s| -(path_at(path, s[0] - lag as f32)[0] - 500.0))
            .collect();
        let me = mean(&expected);
        let cov: f32 = expected
            .iter()
            .zip(&yaw)
            .map(|(e, y)| (e - me) * (y - my))
            .sum();
        let ve: f32 = expected.iter().map(|e| (e - me).powi(2)).sum();
        let vy: f32 = yaw.iter().map(|y| (y - my).powi(2)).sum();
        if ve > 0.0 && vy > 0.0 {
            best = best.max(cov / (ve * vy).sqrt());
        }
    }
    (best, sy * 2.0)
}
