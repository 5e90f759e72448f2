//! Writing and reading rendered sequences: PNG folders and `.y4m` video (YUV4MPEG2, 4:2:0,
//! which Chromium accepts as a fake camera with `--use-file-for-fake-video-capture`).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use liveness_frame::{OwnedFrame, PixelFormat};
use thiserror::Error;

use crate::RgbImage;

#[derive(Debug, Error)]
pub enum OutputError {
    #[error("{path}: {reason}")]
    Io { path: String, reason: String },
    #[error("{path}: not a supported y4m stream: {reason}")]
    Y4m { path: String, reason: String },
    #[error("{path}: {reason}")]
    Image { path: String, reason: String },
}

fn io(path: &Path, e: impl std::fmt::Display) -> OutputError {
    OutputError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// Writes frames as a YUV4MPEG2 stream.
#[derive(Debug)]
pub struct Y4mWriter<W: Write> {
    out: W,
    width: u32,
    height: u32,
}

impl<W: Write> Y4mWriter<W> {
    pub fn new(mut out: W, width: u32, height: u32, fps: u32) -> std::io::Result<Self> {
        writeln!(
            out,
            "YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg XYSCSS=420JPEG"
        )?;
        Ok(Self { out, width, height })
    }

    pub fn write(&mut self, img: &RgbImage) -> std::io::Result<()> {
        if (img.width, img.height) != (self.width, self.height) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "frame size differs from the stream's",
            ));
        }
        let yuv = OwnedFrame::from_rgb(&img.rgb, img.width, img.height, PixelFormat::I420)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
        self.out.write_all(b"FRAME\n")?;
        for plane in &yuv.planes {
            self.out.write_all(plane)?;
        }
        Ok(())
    }

    pub fn finish(mut self) -> std::io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Reads every frame of a `.y4m` file (4:2:0 only) as I420 frames, with its frame rate.
pub fn read_y4m(path: &Path) -> Result<(Vec<OwnedFrame>, u32), OutputError> {
    let bad = |reason: &str| OutputError::Y4m {
        path: path.display().to_string(),
        reason: reason.into(),
    };
    let file = std::fs::File::open(path).map_err(|e| io(path, e))?;
    let mut r = BufReader::new(file);
    let mut header = String::new();
    r.read_line(&mut header).map_err(|e| io(path, e))?;
    let mut fields = header.split_whitespace();
    if fields.next() != Some("YUV4MPEG2") {
        return Err(bad("missing YUV4MPEG2 signature"));
    }
    let (mut w, mut h, mut fps) = (0u32, 0u32, 30u32);
    for f in fields {
        match f.as_bytes().first() {
            Some(b'W') => w = f[1..].parse().map_err(|_| bad("bad width"))?,
            Some(b'H') => h = f[1..].parse().map_err(|_| bad("bad height"))?,
            Some(b'F') => {
                let (n, d) = f[1..]
                    .split_once(':')
                    .ok_or_else(|| bad("bad frame rate"))?;
                let (n, d): (u32, u32) = (
                    n.parse().map_err(|_| bad("bad frame rate"))?,
                    d.parse().map_err(|_| bad("bad frame rate"))?,
                );
                fps = (n / d.max(1)).max(1);
            }
            Some(b'C') if !f.starts_with("C420") => {
                return Err(bad("only 4:2:0 chroma is supported"));
            }
            _ => {}
        }
    }
    if w == 0 || h == 0 || w > 8192 || h > 8192 {
        return Err(bad("missing or invalid size"));
    }
    let (cw, ch) = (w.div_ceil(2) as usize, h.div_ceil(2) as usize);
    let sizes = [(w * h) as usize, cw * ch, cw * ch];
    let mut frames = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).map_err(|e| io(path, e))? == 0 {
            break;
        }
        if !line.starts_with("FRAME") {
            return Err(bad("expected FRAME"));
        }
        let mut planes = Vec::with_capacity(3);
        for size in sizes {
            let mut plane = vec![0u8; size];
            r.read_exact(&mut plane)
                .map_err(|_| bad("truncated frame"))?;
            planes.push(plane);
        }
        frames.push(OwnedFrame {
            format: PixelFormat::I420,
            width: w,
            height: h,
            planes,
        });
    }
    Ok((frames, fps))
}

/// Writes `frame-00000.png`, … into `dir`.
pub fn write_png(dir: &Path, index: usize, img: &RgbImage) -> Result<PathBuf, OutputError> {
    let path = dir.join(format!("frame-{index:05}.png"));
    image::save_buffer(
        &path,
        &img.rgb,
        img.width,
        img.height,
        image::ExtendedColorType::Rgb8,
    )
    .map_err(|e| OutputError::Image {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    Ok(path)
}

/// Reads every `*.png` in `dir`, in name order.
pub fn read_png_dir(dir: &Path) -> Result<Vec<RgbImage>, OutputError> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("png")))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let img = image::open(p)
                .map_err(|e| OutputError::Image {
                    path: p.display().to_string(),
                    reason: e.to_string(),
                })?
                .to_rgb8();
            Ok(RgbImage {
                width: img.width(),
                height: img.height(),
                rgb: img.into_raw(),
            })
        })
        .collect()
}
