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

/// The chroma layouts a `.y4m` stream may declare that this reader takes: every 8-bit layout
/// ffmpeg writes for `yuv420p`/`yuvj420p`/`gray` (the three 4:2:0 sitings differ only in where
/// chroma samples sit, which a face model cannot tell apart) and monochrome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Y4mChroma {
    /// `C420jpeg`, `C420mpeg2`, `C420paldv`, `C420`, or no `C` field (the format's default).
    Yuv420,
    /// `Cmono`: luma only; read as grey (neutral chroma).
    Mono,
}

/// A `.y4m` stream read frame by frame (a 200-second clip is ~750 MB of raw frames: never
/// held in memory at once). Frames come out as I420.
#[derive(Debug)]
pub struct Y4mReader<R: BufRead> {
    input: R,
    path: String,
    pub width: u32,
    pub height: u32,
    /// Frame rate as the exact fraction the header gives (ffmpeg writes 30000:1001 for
    /// 29.97 fps).
    pub fps_num: u32,
    pub fps_den: u32,
    pub chroma: Y4mChroma,
    frames_read: u64,
}

/// The longest header or `FRAME` line accepted (the spec sets no limit; real ones are < 100).
const MAX_Y4M_LINE: u64 = 4096;

impl Y4mReader<BufReader<std::fs::File>> {
    pub fn open(path: &Path) -> Result<Self, OutputError> {
        let file = std::fs::File::open(path).map_err(|e| io(path, e))?;
        Self::new(BufReader::new(file), &path.display().to_string())
    }
}

impl<R: BufRead> Y4mReader<R> {
    /// Reads and checks the stream header; `path` names the stream in errors.
    pub fn new(mut input: R, path: &str) -> Result<Self, OutputError> {
        let bad = |reason: String| OutputError::Y4m {
            path: path.to_owned(),
            reason,
        };
        let header = read_line(&mut input, path)?.ok_or_else(|| bad("empty file".into()))?;
        let mut fields = header.split(' ');
        if fields.next() != Some("YUV4MPEG2") {
            return Err(bad("missing YUV4MPEG2 signature".into()));
        }
        let (mut w, mut h) = (0u32, 0u32);
        let (mut num, mut den) = (30u32, 1u32);
        let mut chroma = Y4mChroma::Yuv420;
        for f in fields.filter(|f| !f.is_empty()) {
            // A field starting with a non-ASCII character has no value slice: it is refused
            // as unknown below.
            let value = f.get(1..).unwrap_or_default();
            match f.as_bytes()[0] {
                b'W' => {
                    w = value
                        .parse()
                        .map_err(|_| bad(format!("bad width `{value}`")))?
                }
                b'H' => {
                    h = value
                        .parse()
                        .map_err(|_| bad(format!("bad height `{value}`")))?
                }
                b'F' => {
                    let parsed = value
                        .split_once(':')
                        .and_then(|(n, d)| Some((n.parse().ok()?, d.parse().ok()?)));
                    match parsed {
                        Some((n, d)) if n > 0 && d > 0 && n / d <= 1000 => (num, den) = (n, d),
                        _ => return Err(bad(format!("bad frame rate `{value}`"))),
                    }
                }
                b'C' => {
                    chroma = match value {
                        "420jpeg" | "420mpeg2" | "420paldv" | "420" => Y4mChroma::Yuv420,
                        "mono" => Y4mChroma::Mono,
                        other => {
                            return Err(bad(format!(
                                "chroma `C{other}` is not supported: 8-bit 4:2:0 or mono only \
                                 (convert with `ffmpeg -i IN -pix_fmt yuv420p OUT.y4m`)"
                            )));
                        }
                    }
                }
                // Interlacing (I), aspect (A) and extensions (X) do not change the frame
                // layout.
                b'I' | b'A' | b'X' => {}
                _ => return Err(bad(format!("unknown header field `{f}`"))),
            }
        }
        if w == 0 || h == 0 || w > 8192 || h > 8192 {
            return Err(bad("missing or invalid size".into()));
        }
        Ok(Self {
            input,
            path: path.to_owned(),
            width: w,
            height: h,
            fps_num: num,
            fps_den: den,
            chroma,
            frames_read: 0,
        })
    }

    /// Whole frames per second, rounded (for code that wants one number).
    pub fn fps(&self) -> u32 {
        ((self.fps_num + self.fps_den / 2) / self.fps_den).max(1)
    }

    /// Capture time of frame `i` in milliseconds, from the exact frame rate.
    pub fn timestamp_ms(&self, i: u64) -> u64 {
        i * 1000 * u64::from(self.fps_den) / u64::from(self.fps_num)
    }

    /// The next frame, `None` at the end of the stream.
    pub fn next_frame(&mut self) -> Result<Option<OwnedFrame>, OutputError> {
        let bad = |reason: &str| OutputError::Y4m {
            path: self.path.clone(),
            reason: format!("frame {}: {reason}", self.frames_read),
        };
        let Some(line) = read_line(&mut self.input, &self.path)? else {
            return Ok(None);
        };
        if line != "FRAME" && !line.starts_with("FRAME ") {
            return Err(bad("expected FRAME"));
        }
        let (w, h) = (self.width as usize, self.height as usize);
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let mut y = vec![0u8; w * h];
        self.input
            .read_exact(&mut y)
            .map_err(|_| bad("truncated frame"))?;
        let (u, v) = match self.chroma {
            Y4mChroma::Yuv420 => {
                let mut u = vec![0u8; cw * ch];
                let mut v = vec![0u8; cw * ch];
                self.input
                    .read_exact(&mut u)
                    .and_then(|()| self.input.read_exact(&mut v))
                    .map_err(|_| bad("truncated frame"))?;
                (u, v)
            }
            Y4mChroma::Mono => (vec![128u8; cw * ch], vec![128u8; cw * ch]),
        };
        self.frames_read += 1;
        Ok(Some(OwnedFrame {
            format: PixelFormat::I420,
            width: self.width,
            height: self.height,
            planes: vec![y, u, v],
        }))
    }
}

/// One line without its `\n`, `None` at the end of the input; bounded in length.
fn read_line(input: &mut impl BufRead, path: &str) -> Result<Option<String>, OutputError> {
    let mut line = Vec::new();
    let n = input
        .by_ref()
        .take(MAX_Y4M_LINE)
        .read_until(b'\n', &mut line)
        .map_err(|e| OutputError::Io {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    if n == 0 {
        return Ok(None);
    }
    if line.pop() != Some(b'\n') {
        return Err(OutputError::Y4m {
            path: path.to_owned(),
            reason: "a header line is unterminated or too long".into(),
        });
    }
    String::from_utf8(line)
        .map(Some)
        .map_err(|_| OutputError::Y4m {
            path: path.to_owned(),
            reason: "a header line is not text".into(),
        })
}

/// Reads every frame of a `.y4m` file (see [`Y4mReader`] for what is accepted) as I420
/// frames, with its frame rate rounded to whole frames per second. For long clips, stream
/// with [`Y4mReader`] instead.
pub fn read_y4m(path: &Path) -> Result<(Vec<OwnedFrame>, u32), OutputError> {
    let mut reader = Y4mReader::open(path)?;
    let mut frames = Vec::new();
    while let Some(f) = reader.next_frame()? {
        frames.push(f);
    }
    Ok((frames, reader.fps()))
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

#[cfg(test)]
mod y4m_tests {
    use super::*;

    fn stream(header: &str, frames: usize, frame_bytes: usize) -> Vec<u8> {
        let mut out = format!("{header}\n").into_bytes();
        for i in 0..frames {
            out.extend_from_slice(if i == 1 { b"FRAME Ixyz\n" } else { b"FRAME\n" });
            out.extend(std::iter::repeat_n(i as u8, frame_bytes));
        }
        out
    }

    fn read(bytes: &[u8]) -> Result<(Vec<OwnedFrame>, Y4mReader<&[u8]>), OutputError> {
        let mut r = Y4mReader::new(bytes, "test.y4m")?;
        let mut frames = Vec::new();
        while let Some(f) = r.next_frame()? {
            frames.push(f);
        }
        Ok((frames, r))
    }

    #[test]
    fn every_layout_ffmpeg_writes_by_default_is_read() {
        for tag in ["C420jpeg", "C420mpeg2", "C420paldv", "C420", ""] {
            let header = format!("YUV4MPEG2 W6 H4 F30000:1001 It A1:1 {tag} XYSCSS=420");
            let bytes = stream(&header, 3, 6 * 4 + 2 * 3 * 2);
            let (frames, r) = read(&bytes).unwrap();
            assert_eq!(frames.len(), 3, "{tag}");
            assert_eq!(
                (r.width, r.height, r.fps_num, r.fps_den),
                (6, 4, 30000, 1001)
            );
            assert_eq!(r.fps(), 30);
            // 29.97 fps: frame 30 is 1001 ms in, not 1000.
            assert_eq!(r.timestamp_ms(30), 1001);
            assert_eq!(frames[2].planes[0], vec![2; 24]);
        }
        // Mono: luma only, read as grey.
        let bytes = stream("YUV4MPEG2 W6 H4 F25:1 Cmono", 2, 24);
        let (frames, r) = read(&bytes).unwrap();
        assert_eq!((frames.len(), r.chroma), (2, Y4mChroma::Mono));
        assert_eq!(frames[1].planes[1], vec![128; 6]);
    }

    #[test]
    fn other_streams_are_refused_with_the_reason() {
        for (header, why) in [
            ("YUV4MPEG2 W6 H4 F25:1 C422", "C422"),
            ("YUV4MPEG2 W6 H4 F25:1 C420p10", "C420p10"),
            ("YUV4MPEG2 W6 H4 F25:0 C420", "frame rate"),
            ("YUV4MPEG2 W0 H4 F25:1", "size"),
            ("YUV4MPEG3 W6 H4", "signature"),
            ("YUV4MPEG2 W6 H4 Q9", "unknown header field"),
            ("YUV4MPEG2 W6 H4 \u{e9}", "unknown header field"),
        ] {
            let e = read(&stream(header, 1, 36)).map(|_| ()).unwrap_err();
            assert!(e.to_string().contains(why), "{header}: {e}");
        }
        let mut truncated = stream("YUV4MPEG2 W6 H4 F25:1", 2, 36);
        truncated.truncate(truncated.len() - 5);
        let e = read(&truncated).map(|_| ()).unwrap_err();
        assert!(e.to_string().contains("frame 1: truncated"), "{e}");
        let long = format!("YUV4MPEG2 W6 H4 X{}", "a".repeat(5000));
        assert!(read(long.as_bytes()).is_err());
    }
}
