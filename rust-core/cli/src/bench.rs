//! `liveness bench` and `liveness compare-engines`: the vision pipeline measured, and tract
//! checked against onnxruntime on identical inputs. onnxruntime is the PyPI wheel's library,
//! loaded at run time from `ORT_DYLIB_PATH` (scripts/bench.sh sets it).

use std::time::Instant;

use liveness_frame::{Affine2, OwnedFrame, PixelFormat};
use liveness_testkit::{RgbImage, astronaut};
use liveness_vision::compare::compare_engines;
use liveness_vision::{ModelKind, ModelSet, Pipeline, PipelineConfig, Precision, VisionError};

type Result<T> = std::result::Result<T, VisionError>;

fn frame_err(e: liveness_frame::FrameError) -> VisionError {
    VisionError::Frame(e)
}

fn precision_name(p: Precision) -> &'static str {
    match p {
        Precision::Fp32 => "fp32",
        Precision::Int8 => "int8",
    }
}

/// Varied real inputs: the photo as is, mirrored, rotated, small in a 640×480 frame, darker.
fn comparison_images() -> Result<Vec<(String, RgbImage, bool)>> {
    let a = astronaut();
    Ok(vec![
        ("photo".into(), a.clone(), false),
        ("mirrored".into(), a.clone(), true),
        (
            "rotated 20°".into(),
            a.rotated(20.0, 222.0, 118.0).map_err(frame_err)?,
            false,
        ),
        (
            "640x480, face 0.7x".into(),
            RgbImage::astronaut_placed(0.7, 300.0, 220.0, 640, 480, 110).map_err(frame_err)?,
            false,
        ),
        ("darker (gain 0.6)".into(), a.with_gain(0.6), false),
    ])
}

/// Returns whether fp32 FaceMesh stayed within `max_fp32_px` of onnxruntime.
pub fn compare(max_fp32_px: f32) -> Result<bool> {
    let images = comparison_images()?;
    let frames = images
        .iter()
        .map(|(_, img, mirrored)| {
            img.frame()
                .map(|f| f.with_mirroring(*mirrored))
                .map_err(frame_err)
        })
        .collect::<Result<Vec<_>>>()?;
    println!(
        "tract vs onnxruntime on {} real inputs per model (errors in model input pixels)",
        frames.len()
    );
    println!(
        "{:<28} {:>5} {:>10} {:>10}",
        "model", "prec", "max px", "mean px"
    );
    let mut ok = true;
    for precision in [Precision::Fp32, Precision::Int8] {
        for d in compare_engines(&frames, precision)? {
            println!(
                "{:<28} {:>5} {:>10.4} {:>10.4}",
                d.model.name(),
                precision_name(precision),
                d.max_px,
                d.mean_px
            );
            if precision == Precision::Fp32
                && d.model == ModelKind::FaceMesh
                && d.max_px > max_fp32_px
            {
                ok = false;
            }
        }
    }
    println!(
        "{}: fp32 FaceMesh landmarks agree within {max_fp32_px} px",
        if ok { "PASS" } else { "FAIL" }
    );
    Ok(ok)
}

#[derive(Default)]
struct Stats {
    detect: Vec<f64>,
    mesh: Vec<f64>,
    iris: Vec<f64>,
    total: Vec<f64>,
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        f64::NAN
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

fn percentile(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s[((s.len() - 1) as f64 * p).round() as usize]
}

/// A 640×480 sequence: the face drifting on a small circle, as a hand-held phone does.
fn sequence(frames: usize) -> Result<Vec<OwnedFrame>> {
    (0..frames)
        .map(|i| {
            let t = i as f32 / 30.0;
            let (fx, fy) = (
                320.0 + 12.0 * (t * 2.0).cos(),
                230.0 + 8.0 * (t * 2.0).sin(),
            );
            let img = RgbImage::astronaut_placed(0.9, fx, fy, 640, 480, 110).map_err(frame_err)?;
            OwnedFrame::from_rgb(&img.rgb, img.width, img.height, PixelFormat::Rgb8)
                .map_err(frame_err)
        })
        .collect()
}

fn run(models: ModelSet, iris: bool, threads: usize, seq: &[OwnedFrame]) -> Result<Stats> {
    let mut pipeline = Pipeline::new(
        models,
        PipelineConfig {
            iris,
            threads,
            ..Default::default()
        },
    )?;
    for f in seq.iter().take(5) {
        pipeline.process(&f.as_frame().map_err(frame_err)?)?;
    }
    pipeline.reset();
    let mut s = Stats::default();
    for f in seq {
        let out = pipeline.process(&f.as_frame().map_err(frame_err)?)?;
        let ms = |us: u64| us as f64 / 1000.0;
        if out.detector_ran {
            s.detect.push(ms(out.timings.detect_us));
        }
        s.mesh.push(ms(out.timings.mesh_us));
        if iris {
            s.iris.push(ms(out.timings.iris_us));
        }
        s.total.push(ms(out.timings.total_us));
    }
    Ok(s)
}

/// Time of one crop+resize+convert of a 640×480 frame into the 192×192 FaceMesh tensor.
fn conversion_ms(format: PixelFormat) -> Result<f64> {
    let img = RgbImage::astronaut_placed(0.9, 320.0, 230.0, 640, 480, 110).map_err(frame_err)?;
    let owned = OwnedFrame::from_rgb(&img.rgb, img.width, img.height, format).map_err(frame_err)?;
    let frame = owned.as_frame().map_err(frame_err)?;
    let t = Affine2::square_crop(320.0, 230.0, 250.0, 0.1, 192);
    let mut out = vec![0.0; 192 * 192 * 3];
    let n = 200;
    let start = Instant::now();
    for _ in 0..n {
        frame
            .warp_into(&t, 192, 192, 1.0 / 255.0, 0.0, &mut out)
            .map_err(frame_err)?;
    }
    Ok(start.elapsed().as_secs_f64() * 1000.0 / n as f64)
}

/// Where tract's time goes, per op type, for each model (fp32 and int8).
fn print_ops() -> Result<()> {
    println!();
    println!("tract time per op type (ms per run, 20 runs):");
    for precision in [Precision::Fp32, Precision::Int8] {
        let set = ModelSet::bundled(precision)?;
        let models = [Some(&set.detector), Some(&set.mesh), set.iris.as_ref()];
        for model in models.into_iter().flatten() {
            let side = model.kind().input_side();
            let input = vec![0.5f32; side * side * 3];
            if let Some(ops) = model.profile_ops(&input, 20)? {
                let total: f64 = ops.iter().map(|o| o.1).sum();
                let top: Vec<String> = ops
                    .iter()
                    .take(5)
                    .map(|(n, ms)| format!("{n} {ms:.2}"))
                    .collect();
                println!(
                    "  {:<28} {} {:>6.2} ms: {}",
                    model.kind().name(),
                    precision_name(precision),
                    total,
                    top.join(", ")
                );
            }
        }
    }
    Ok(())
}

pub fn bench(frames: usize, iris: bool, threads: usize, with_ort: bool, ops: bool) -> Result<()> {
    let seq = sequence(frames.max(10))?;
    println!(
        "Vision pipeline, 640x480, {} frames, single thread, iris {}",
        seq.len(),
        if iris { "on" } else { "off" }
    );
    println!();
    println!("Frame conversion into the 192x192 FaceMesh tensor (crop + resize + colour):");
    for format in [
        PixelFormat::Rgb8,
        PixelFormat::Bgra8,
        PixelFormat::Nv21,
        PixelFormat::I420,
    ] {
        println!(
            "  {:<8} {:>7.3} ms",
            format!("{format:?}"),
            conversion_ms(format)?
        );
    }
    println!();
    println!(
        "{:<12} {:>5} {:>11} {:>9} {:>9} {:>12} {:>12} {:>9}",
        "engine", "prec", "detect ms", "mesh ms", "iris ms", "frame ms", "frame p95", "det runs"
    );
    let mut rows = Vec::new();
    for precision in [Precision::Fp32, Precision::Int8] {
        let mut engines = vec![("tract", ModelSet::bundled(precision)?)];
        if with_ort {
            engines.push(("onnxruntime", ModelSet::bundled_onnxruntime(precision)?));
        }
        for (engine, models) in engines {
            let s = run(models, iris, threads, &seq)?;
            println!(
                "{:<12} {:>5} {:>11.2} {:>9.2} {:>9.2} {:>12.2} {:>12.2} {:>9}",
                engine,
                precision_name(precision),
                mean(&s.detect),
                mean(&s.mesh),
                mean(&s.iris),
                mean(&s.total),
                percentile(&s.total, 0.95),
                s.detect.len()
            );
            rows.push((engine, precision, s));
        }
    }
    if with_ort {
        println!();
        for precision in [Precision::Fp32, Precision::Int8] {
            let find = |e: &str| {
                rows.iter()
                    .find(|r| r.0 == e && r.1 == precision)
                    .map(|r| &r.2)
            };
            if let (Some(t), Some(o)) = (find("tract"), find("onnxruntime")) {
                println!(
                    "ratio tract/onnxruntime {}: frame {:.2}x, detect {:.2}x, mesh {:.2}x{}",
                    precision_name(precision),
                    mean(&t.total) / mean(&o.total),
                    mean(&t.detect) / mean(&o.detect),
                    mean(&t.mesh) / mean(&o.mesh),
                    if iris {
                        format!(", iris {:.2}x", mean(&t.iris) / mean(&o.iris))
                    } else {
                        String::new()
                    }
                );
            }
        }
    }
    if ops {
        print_ops()?;
    }
    Ok(())
}
