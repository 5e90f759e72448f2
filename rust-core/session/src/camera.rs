//! The desktop camera (Linux V4L2, macOS AVFoundation, Windows Media Foundation) through
//! `nokhwa`, behind the `camera` feature. A capture thread feeds a [`PushSource`], so a slow
//! analysis drops frames instead of queueing them, and a camera that stops delivering is a
//! timeout, not a hang. No camera, or no permission, is a typed error at open time.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use liveness_frame::{OwnedFrame, PixelFormat};
use nokhwa::Camera;
use nokhwa::pixel_format::RgbFormat;
use nokhwa::utils::{ApiBackend, CameraIndex, RequestedFormat, RequestedFormatType};

use crate::error::SdkError;
use crate::source::{FramePusher, FrameSource, PushSource, SourceFrame};

fn open_error(e: nokhwa::NokhwaError) -> SdkError {
    let text = e.to_string();
    if text.contains("ermission denied") || text.contains("EACCES") {
        SdkError::PermissionDenied
    } else {
        SdkError::CameraUnavailable(text)
    }
}

/// The webcam `index` (0: the first), mirrored like a selfie preview.
#[derive(Debug)]
pub struct CameraSource {
    inner: PushSource,
    pusher: FramePusher,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl CameraSource {
    /// Opens webcam `index`; waits at most `open_timeout` for it to start and then at most
    /// `frame_timeout` for each frame.
    pub fn open(
        index: u32,
        open_timeout: Duration,
        frame_timeout: Duration,
    ) -> Result<Self, SdkError> {
        let (inner, pusher) = PushSource::new(frame_timeout);
        let stop = Arc::new(AtomicBool::new(false));
        let (opened_tx, opened) = std::sync::mpsc::channel();
        // nokhwa's camera is not Send: it is opened, read and closed on its own thread.
        let thread = {
            let (pusher, stop) = (pusher.clone(), stop.clone());
            std::thread::Builder::new()
                .name("liveness-camera".into())
                .spawn(move || match open_camera(index) {
                    Ok(camera) => {
                        let _ = opened_tx.send(Ok(()));
                        capture(camera, &pusher, &stop);
                    }
                    Err(e) => {
                        let _ = opened_tx.send(Err(e));
                        pusher.close();
                    }
                })
                .map_err(|e| SdkError::CameraUnavailable(e.to_string()))?
        };
        match opened.recv_timeout(open_timeout) {
            Ok(Ok(())) => Ok(Self {
                inner,
                pusher,
                stop,
                thread: Some(thread),
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => {
                stop.store(true, Ordering::SeqCst);
                Err(SdkError::CameraUnavailable(format!(
                    "the camera did not start within {} ms",
                    open_timeout.as_millis()
                )))
            }
        }
    }
}

fn open_camera(index: u32) -> Result<Camera, SdkError> {
    let cameras = nokhwa::query(ApiBackend::Auto).map_err(open_error)?;
    if cameras.is_empty() {
        return Err(SdkError::CameraUnavailable("no camera found".into()));
    }
    let requested =
        RequestedFormat::new::<RgbFormat>(RequestedFormatType::AbsoluteHighestFrameRate);
    let mut camera = Camera::new(CameraIndex::Index(index), requested).map_err(open_error)?;
    camera.open_stream().map_err(open_error)?;
    Ok(camera)
}

fn capture(mut camera: Camera, pusher: &FramePusher, stop: &AtomicBool) {
    let started = Instant::now();
    while !stop.load(Ordering::SeqCst) && !pusher.is_closed() {
        let Ok(buffer) = camera.frame() else {
            break;
        };
        let t_ms = started.elapsed().as_millis() as u64;
        let Ok(rgb) = buffer.decode_image::<RgbFormat>() else {
            continue;
        };
        let (w, h) = rgb.dimensions();
        let Ok(frame) = OwnedFrame::from_rgb(rgb.as_raw(), w, h, PixelFormat::Rgb8) else {
            continue;
        };
        let mut f = SourceFrame::new(t_ms, frame);
        f.mirrored = true;
        pusher.push(f);
    }
    let _ = camera.stop_stream();
    pusher.close();
}

impl FrameSource for CameraSource {
    fn next_frame(&mut self) -> Result<Option<SourceFrame>, SdkError> {
        self.inner.next_frame()
    }

    fn dropped(&self) -> u64 {
        self.inner.dropped()
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.inner.stop();
        self.pusher.close();
        // The thread sees the flag after the frame it is waiting for, stops the stream and
        // drops the camera. It is not joined: a camera that never delivers again must not
        // hang the session's end.
        if let Some(t) = self.thread.take()
            && t.is_finished()
        {
            let _ = t.join();
        }
    }
}

impl Drop for CameraSource {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Run where no camera exists (CI, this project's machines): a typed error, quickly.
    #[test]
    fn no_camera_is_a_typed_error_not_a_hang() {
        if std::path::Path::new("/dev/video0").exists() {
            eprintln!("a camera is present: this test is about machines without one");
            return;
        }
        let started = Instant::now();
        let e = CameraSource::open(0, Duration::from_secs(5), Duration::from_secs(1)).unwrap_err();
        assert!(
            matches!(e.code(), "camera_unavailable" | "permission_denied"),
            "{e}"
        );
        assert!(started.elapsed() < Duration::from_secs(6));
    }
}
