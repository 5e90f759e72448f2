//! The head-pose estimate against ground truth: the renderer poses the synthetic head at
//! known angles (yaw and pitch from −45° to +45°, three distances, roll 0° and 15°) and the
//! vision pipeline measures them. Angles are taken relative to the measurement at 0°, as the
//! challenge engine takes them relative to the user's baseline.

use std::fmt::Write as _;

use liveness_testkit::{Renderer, Script};
use liveness_vision::{ModelSet, Pipeline, PipelineConfig, Precision};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct PoseSweep {
    /// `yaw` or `pitch`.
    pub axis: &'static str,
    /// Apparent size (1: the default framing) and roll of the sweep.
    pub scale: f32,
    pub roll: f32,
    /// (true angle, measured minus true), relative to the measurement at 0°; `None` where
    /// no face was found.
    pub errors: Vec<(f32, Option<f32>)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PoseCurve {
    pub sweeps: Vec<PoseSweep>,
    /// The largest |error| within ±30°, over every sweep.
    pub max_abs_error_within_30: f32,
}

fn measure(
    p: &mut Pipeline,
    axis: &str,
    angle: f32,
    scale: f32,
    roll: f32,
) -> Result<Option<f32>, String> {
    let text = format!(
        "duration = 0.1\nfps = 10\nseed = 3\n[[keys]]\nt = 0.0\n{axis} = {angle}\nscale = {scale}\nroll = {roll}\n"
    );
    let script = Script::parse(&text).map_err(|e| e.to_string())?;
    let img = Renderer::new(script).render(0);
    p.reset();
    let frame = img.frame().map_err(|e| e.to_string())?;
    let a = p.process(&frame).map_err(|e| e.to_string())?;
    Ok(a.face.map(|f| match axis {
        "yaw" => f.signals.pose.yaw,
        _ => f.signals.pose.pitch,
    }))
}

/// Sweeps every configuration, every `step` degrees.
pub fn error_curve(step: usize) -> Result<PoseCurve, String> {
    let models = ModelSet::bundled(Precision::Fp32).map_err(|e| e.to_string())?;
    let mut p = Pipeline::new(models, PipelineConfig::default()).map_err(|e| e.to_string())?;
    let step = step.clamp(1, 45);
    let mut sweeps = Vec::new();
    let mut worst = 0.0f32;
    for (axis, scale, roll) in [
        ("yaw", 1.0, 0.0),
        ("yaw", 0.62, 0.0),
        ("yaw", 1.55, 0.0),
        ("yaw", 1.0, 15.0),
        ("pitch", 1.0, 0.0),
        ("pitch", 1.0, 15.0),
    ] {
        let zero = measure(&mut p, axis, 0.0, scale, roll)?.unwrap_or(0.0);
        let mut errors = Vec::new();
        for deg in (-45..=45).step_by(step) {
            let truth = deg as f32;
            let m = measure(&mut p, axis, truth, scale, roll)?;
            let e = m.map(|m| m - zero - truth);
            if let (Some(e), true) = (e, truth.abs() <= 30.0) {
                worst = worst.max(e.abs());
            }
            errors.push((truth, e));
        }
        sweeps.push(PoseSweep {
            axis,
            scale,
            roll,
            errors,
        });
    }
    Ok(PoseCurve {
        sweeps,
        max_abs_error_within_30: worst,
    })
}

impl PoseCurve {
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let Some(first) = self.sweeps.first() else {
            return s;
        };
        let _ = write!(s, "| sweep |");
        for (t, _) in &first.errors {
            let _ = write!(s, " {t:.0}° |");
        }
        let _ = writeln!(s);
        let _ = writeln!(s, "|---|{}", "---|".repeat(first.errors.len()));
        for sw in &self.sweeps {
            let _ = write!(s, "| {} (size ×{}, roll {}°) |", sw.axis, sw.scale, sw.roll);
            for (_, e) in &sw.errors {
                match e {
                    Some(e) => {
                        let _ = write!(s, " {e:+.1} |");
                    }
                    None => {
                        let _ = write!(s, " – |");
                    }
                }
            }
            let _ = writeln!(s);
        }
        let _ = writeln!(
            s,
            "\nMeasured minus true angle, relative to the measurement at 0°. Largest error within ±30°: {:.1}°.",
            self.max_abs_error_within_30
        );
        s
    }
}
