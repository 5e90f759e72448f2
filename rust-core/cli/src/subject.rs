//! `liveness render` and `liveness analyze`: the synthetic subject to frames, and any frame
//! sequence to per-frame vision signals as JSON lines.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use liveness_testkit::output::{Y4mWriter, write_png};
use liveness_testkit::{Renderer, Script};
use liveness_vision::{ModelSet, Pipeline, PipelineConfig, Precision};

fn progress(len: usize, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    if let Ok(style) =
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} frames, {per_sec}, eta {eta}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_owned());
    bar
}

fn is_y4m(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("y4m"))
}

/// How long a session's rendered performance keeps the user in view after the last step.
const AFTER_PERFORMANCE_S: f32 = 1.0;

/// A script file, or the genuine performance of a session's plan (`responsive`: for a
/// subject that holds still through the light step by reading the screen, so the script
/// itself holds no pause for it).
pub fn load_script(
    script: Option<&Path>,
    for_session: Option<&Path>,
    responsive: bool,
) -> Result<Script, String> {
    match (script, for_session) {
        (Some(path), None) => Script::from_file(path).map_err(|e| e.to_string()),
        (None, Some(path)) => {
            let text = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let mut value: serde_json::Value =
                serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            let plan = match value.get_mut("plan") {
                Some(plan) => plan.take(),
                None => value,
            };
            let plan: liveness_protocol::ChallengePlan = serde_json::from_value(plan)
                .map_err(|e| format!("{}: not a session or plan: {e}", path.display()))?;
            let mut script = if responsive {
                liveness_testkit::performing_plan_steps(&plan)
            } else {
                liveness_testkit::performing_plan(&plan)
            }
            .map_err(|e| e.to_string())?;
            // A camera keeps running after the user is done: a second of the user still in
            // view, so a host that drops frames under load (the last return to the centre
            // among them) still shows the engine the end of the performance.
            script.duration += AFTER_PERFORMANCE_S;
            script.validate().map_err(|e| e.to_string())?;
            Ok(script)
        }
        _ => Err("give either a script or --for-session".into()),
    }
}

/// `script` presented as the attack `kind` (`print`, `screen`), or as it is for `None`.
pub fn presented_as(mut script: Script, kind: Option<&str>) -> Result<Script, String> {
    if let Some(kind) = kind {
        let attack = serde_json::from_value(serde_json::json!({ "kind": kind }))
            .map_err(|e| format!("--attack {kind}: {e}"))?;
        script.attack = Some(attack);
        script.validate().map_err(|e| e.to_string())?;
    }
    Ok(script)
}

/// Renders `script` to a PNG folder or a `.y4m` file; returns frames rendered per second.
pub fn render(script: Script, out: &Path) -> Result<f64, String> {
    let renderer = Renderer::new(script.clone());
    let n = renderer.frame_count();
    let bar = progress(n, "render");
    let start = Instant::now();
    let mut rendering = 0.0;
    let mut timed = |i: usize| {
        let t = Instant::now();
        let img = renderer.render(i);
        rendering += t.elapsed().as_secs_f64();
        img
    };
    if is_y4m(out) {
        let file = std::fs::File::create(out).map_err(|e| format!("{}: {e}", out.display()))?;
        let mut y4m = Y4mWriter::new(
            std::io::BufWriter::new(file),
            script.width,
            script.height,
            script.fps,
        )
        .map_err(|e| format!("{}: {e}", out.display()))?;
        for i in 0..n {
            y4m.write(&timed(i))
                .map_err(|e| format!("{}: {e}", out.display()))?;
            bar.inc(1);
        }
        y4m.finish()
            .map_err(|e| format!("{}: {e}", out.display()))?;
    } else {
        std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
        for i in 0..n {
            write_png(out, i, &timed(i)).map_err(|e| e.to_string())?;
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    let secs = start.elapsed().as_secs_f64();
    let fps = n as f64 / rendering.max(1e-9);
    eprintln!(
        "rendered {n} frames of {}x{} to {}: {:.1} ms/frame rendering ({fps:.1} fps, one core), {secs:.2} s in all with encoding",
        script.width,
        script.height,
        out.display(),
        rendering * 1000.0 / n as f64
    );
    Ok(fps)
}

/// One request of [`serve`]: the page's time since its camera started, and what it showed
/// and told the user since the last request.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FrameRequest {
    t_ms: f64,
    #[serde(default)]
    shown: Vec<(f64, Option<[u8; 3]>)>,
    #[serde(default)]
    cues: Vec<(String, Option<String>)>,
}

/// The browser tests' camera (test-only; the production path is `getUserMedia`): the
/// subject rendered on request for a page's time, lit by the colours the page showed (the
/// closed loop a fake capture device playing a file cannot give) and reacting to its
/// prompts as a person does ([`liveness_testkit::respond`]). Reads JSON lines on stdin,
/// `{"t_ms": 1234.5, "shown": [[t_ms, [r, g, b] or null], …], "cues": [["prompt", code],
/// ["guidance", code or null], …]}`, `shown` and `cues` holding what is new since the last
/// request, and answers each with a line `frame <width> <height>` and the frame's RGBA
/// bytes. After its script the subject stays in view, still, as people do.
pub fn serve(script: Script) -> Result<(), String> {
    use liveness_testkit::Illumination;
    use liveness_testkit::respond::{Cues, Responder};
    use std::io::BufRead;

    let renderer = Renderer::new(script.clone());
    let mut light = Illumination::default();
    let mut cues = Cues::default();
    let mut responder = Responder::new();
    let mut last_i = None;
    let stdin = std::io::stdin().lock();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut rgba = Vec::new();
    for line in stdin.lines() {
        let line = line.map_err(|e| format!("stdin: {e}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let req: FrameRequest =
            serde_json::from_str(&line).map_err(|e| format!("request `{line}`: {e}"))?;
        if !(req.t_ms.is_finite() && req.t_ms >= 0.0) {
            return Err(format!("request time {} is not a time", req.t_ms));
        }
        for (at, colour) in req.shown {
            light.show(at.max(0.0).round() as u64, colour);
        }
        for (kind, code) in &req.cues {
            match kind.as_str() {
                "prompt" => cues.prompt(code.as_deref().unwrap_or("")),
                "guidance" => cues.guidance(code.as_deref()),
                other => return Err(format!("unknown cue `{other}`")),
            }
        }
        // The frame slot nearest the page's time: its noise and light are read at the
        // slot's time, within half a frame of the page's.
        let slot = (req.t_ms * f64::from(script.fps) / 1000.0).round() as usize;
        let i = last_i.map_or(slot, |l: usize| slot.max(l));
        last_i = Some(i);
        let (script_t, approach) = responder.step(script.time(i), cues);
        let mut state = script.state_at(script_t.min(script.duration));
        state.scale *= approach;
        let img = renderer.render_posed(i, &state, script_t.min(script.duration), &light);
        rgba.clear();
        for px in img.rgb.chunks_exact(3) {
            rgba.extend_from_slice(&[px[0], px[1], px[2], 255]);
        }
        writeln!(out, "frame {} {}", img.width, img.height)
            .and_then(|()| out.write_all(&rgba))
            .and_then(|()| out.flush())
            .map_err(|e| format!("stdout: {e}"))?;
    }
    Ok(())
}

/// A recording as a frame source: a `.y4m` file (streamed) or a folder of PNG frames at `fps`.
pub fn recording(
    input: &Path,
    fps: u32,
    pace: bool,
) -> Result<Box<dyn liveness_session::FrameSource>, String> {
    let source: Box<dyn liveness_session::FrameSource> = if is_y4m(input) {
        Box::new(liveness_session::source::y4m(input, pace).map_err(|e| e.to_string())?)
    } else {
        Box::new(liveness_session::source::png_dir(input, fps, pace).map_err(|e| e.to_string())?)
    };
    Ok(source)
}

/// Prints one JSON line per frame of a PNG folder or `.y4m` file.
pub fn analyze(
    input: &Path,
    iris: bool,
    landmarks: bool,
    mirrored: bool,
    fps_hint: u32,
) -> Result<(), String> {
    let mut source = recording(input, fps_hint.max(1), false)?;
    let models = ModelSet::bundled(Precision::Fp32).map_err(|e| e.to_string())?;
    let mut pipeline = Pipeline::new(
        models,
        PipelineConfig {
            iris,
            ..Default::default()
        },
    )
    .map_err(|e| e.to_string())?;
    let bar = ProgressBar::new_spinner();
    bar.set_message("analyze");
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut i = 0u64;
    while let Some(sf) = source.next_frame().map_err(|e| e.to_string())? {
        let frame = sf
            .frame()
            .map_err(|e| e.to_string())?
            .with_mirroring(mirrored);
        let a = pipeline.process(&frame).map_err(|e| e.to_string())?;
        let mut line = serde_json::json!({
            "frame": i,
            "t_ms": sf.t_ms,
            "face_count": a.face_count,
            "detector_ran": a.detector_ran,
            "frame_brightness": a.frame_brightness,
            "signals": a.face.as_ref().map(|f| &f.signals),
            "ms": a.timings.total_us as f64 / 1000.0,
        });
        if let (true, Some(face)) = (landmarks, &a.face) {
            // Rounded to 0.01 px: the mesh is not more precise than that.
            let points: Vec<[f32; 3]> = face
                .mesh
                .points
                .iter()
                .map(|p| p.map(|v| (v * 100.0).round() / 100.0))
                .collect();
            line["landmarks"] = serde_json::json!(points);
        }
        writeln!(out, "{line}").map_err(|e| e.to_string())?;
        i += 1;
        bar.inc(1);
    }
    bar.finish_and_clear();
    if i == 0 {
        return Err(format!("{}: no frames", input.display()));
    }
    Ok(())
}
