//! The report's PNG: APCER per attack type, then BPCER per condition value, as horizontal
//! bars (with the sessions behind each rate). Drawn with plotters into a buffer and encoded
//! with `image`; text needs a TrueType font, read from Debian's `fonts-dejavu-core`.

use std::path::Path;
use std::sync::OnceLock;

use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use super::report::{Rate, Report};

const FONT_PATHS: [&str; 2] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

fn font() -> Result<(), String> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            let bytes = FONT_PATHS
                .iter()
                .find_map(|p| std::fs::read(p).ok())
                .ok_or("no DejaVuSans.ttf (apt-get install fonts-dejavu-core)")?;
            // plotters keeps fonts for the life of the process.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            register_font("sans-serif", FontStyle::Normal, bytes)
                .map_err(|_| "DejaVuSans.ttf is not a usable font".to_owned())
        })
        .clone()
}

const WIDTH: u32 = 1100;
const ROW: u32 = 22;

/// The rows: (section title, [(label, rate)]).
fn rows(report: &Report) -> Vec<(String, Vec<(String, Rate)>)> {
    let mut out = vec![(
        "APCER by attack type (attacks accepted as live)".to_owned(),
        report
            .apcer
            .iter()
            .map(|(k, r)| ((*k).to_owned(), *r))
            .collect(),
    )];
    if !report.apcer_distance_only.is_empty() {
        out.push((
            "APCER on distance-only plans".to_owned(),
            report
                .apcer_distance_only
                .iter()
                .map(|(k, r)| ((*k).to_owned(), *r))
                .collect(),
        ));
    }
    out.push((
        "BPCER (bona fide rejected)".to_owned(),
        vec![
            ("all".to_owned(), report.bpcer),
            ("rendered grid".to_owned(), report.bpcer_rendered),
            ("real clips".to_owned(), report.bpcer_real),
        ],
    ));
    for dim in [
        "challenge",
        "lighting",
        "sensor",
        "framing",
        "timing",
        "amplitude",
        "frame_rate",
        "preview",
        "clip",
    ] {
        if let Some(values) = report.bpcer_by.get(dim) {
            out.push((
                format!("BPCER by {dim}"),
                values.iter().map(|(v, r)| (v.clone(), *r)).collect(),
            ));
        }
    }
    out
}

pub fn draw(report: &Report, path: &Path) -> Result<(), String> {
    font()?;
    let sections = rows(report);
    let lines: u32 = sections.iter().map(|s| 2 + s.1.len() as u32).sum();
    let height = 40 + lines * ROW;
    let mut buf = vec![255u8; (WIDTH * height * 3) as usize];
    {
        let root = BitMapBackend::<plotters::backend::RGBPixel>::with_buffer_and_format(
            &mut buf,
            (WIDTH, height),
        )
        .map_err(|e| e.to_string())?
        .into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let text = |s: &str, x: i32, y: i32, size: u32, color: &RGBColor| {
            root.draw(&Text::new(
                s.to_owned(),
                (x, y),
                ("sans-serif", size).into_font().color(color),
            ))
            .map_err(|e| e.to_string())
        };
        text(
            &format!(
                "liveness eval — {} sessions, seed {}{}",
                report.sessions,
                report.seed,
                if report.quick { " (quick)" } else { "" }
            ),
            10,
            10,
            18,
            &BLACK,
        )?;
        let (bar_x, bar_w) = (320, 620);
        let mut y = 40i32;
        for (title, values) in &sections {
            y += ROW as i32 / 2;
            text(title, 10, y, 15, &BLACK)?;
            y += ROW as i32;
            for (label, rate) in values {
                let short: String = label.chars().take(40).collect();
                text(&short, 20, y + 3, 13, &RGBColor(60, 60, 60))?;
                // 0–100 % scale; a thin grey track shows the whole range.
                root.draw(&Rectangle::new(
                    [(bar_x, y + 4), (bar_x + bar_w, y + ROW as i32 - 6)],
                    RGBColor(235, 235, 235).filled(),
                ))
                .map_err(|e| e.to_string())?;
                let w = (bar_w as f64 * rate.percent / 100.0).round() as i32;
                let color = if rate.errors == 0 {
                    RGBColor(60, 160, 90)
                } else {
                    RGBColor(200, 70, 60)
                };
                if w > 0 {
                    root.draw(&Rectangle::new(
                        [(bar_x, y + 4), (bar_x + w, y + ROW as i32 - 6)],
                        color.filled(),
                    ))
                    .map_err(|e| e.to_string())?;
                }
                text(
                    &format!("{:.1} %  ({}/{})", rate.percent, rate.errors, rate.total),
                    bar_x + bar_w + 10,
                    y + 3,
                    13,
                    &BLACK,
                )?;
                y += ROW as i32;
            }
        }
        root.present().map_err(|e| e.to_string())?;
    }
    image::save_buffer(path, &buf, WIDTH, height, image::ExtendedColorType::Rgb8)
        .map_err(|e| format!("{}: {e}", path.display()))
}
