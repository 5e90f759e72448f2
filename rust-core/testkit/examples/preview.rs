//! Renders one frame per pose/attack side by side into a contact sheet PNG (for looking).
#![allow(clippy::unwrap_used, clippy::expect_used)]
use liveness_testkit::{Renderer, Script};
fn main() {
    let out = std::env::args().nth(1).expect("usage: preview OUT.png");
    let cases = [
        "[[keys]]\nt=0",
        "[[keys]]\nt=0\nyaw=30",
        "[[keys]]\nt=0\nyaw=-30",
        "[[keys]]\nt=0\npitch=20",
        "[[keys]]\nt=0\npitch=-20",
        "[[keys]]\nt=0\neyes=1",
        "[[keys]]\nt=0\nsmile=1",
        "[[keys]]\nt=0\nscale=0.5",
        "[attack]\nkind='print'\n[[keys]]\nt=0\nyaw=25",
        "[attack]\nkind='screen'\n[[keys]]\nt=0",
        "[occluder]\ndx=0.15\ndy=0.1\nwidth=0.8\nheight=0.9\n[[keys]]\nt=0",
        "[second_face]\nx=0.82\ny=0.5\nscale=0.6\n[[keys]]\nt=0\nx=0.35",
    ];
    let (w, h) = (320u32, 240u32);
    let cols = 4;
    let rows = cases.len().div_ceil(cols) as u32;
    let mut sheet = image::RgbImage::new(w * cols as u32, h * rows);
    for (i, body) in cases.iter().enumerate() {
        let script =
            Script::parse(&format!("duration=0.1\nwidth={w}\nheight={h}\n{body}")).unwrap();
        let img = Renderer::new(script).render(0);
        let tile = image::RgbImage::from_raw(img.width, img.height, img.rgb).unwrap();
        image::imageops::overlay(
            &mut sheet,
            &tile,
            ((i % cols) as u32 * w).into(),
            ((i / cols) as u32 * h).into(),
        );
    }
    sheet.save(out).unwrap();
}
