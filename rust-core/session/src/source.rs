//! Where frames come from. One trait, [`FrameSource`], with:
//! - [`PushSource`]: the host app pushes frames (AVFoundation, CameraX: the mobile path)
//!   through a [`FramePusher`]. It holds one frame: when analysis is slower than the camera
//!   the newer frame replaces the waiting one (counted as dropped), so nothing queues without
//!   bound and the analysed frame is always the freshest.
//! - [`VecSource`]: frames already in memory, optionally paced in real time.
//! - with the `synthetic` feature: a rendered subject, a `.y4m` file or a PNG folder (QA).
//!
//! A source never blocks forever: waiting longer than its timeout for a frame is an error.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use liveness_frame::{Frame, OwnedFrame, Plane, Rotation, YuvRange};

use crate::error::SdkError;
use liveness_challenge::ScreenRequest;

/// One plane with its strides, as cameras deliver them (CameraX's `ImageProxy.PlaneProxy`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StridedPlane {
    pub bytes: Vec<u8>,
    pub row_stride: usize,
    pub pixel_stride: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameData {
    Owned(OwnedFrame),
    /// Y, U, V planes with any row and pixel strides (interleaved NV12/NV21 included).
    Yuv420 {
        width: u32,
        height: u32,
        y: StridedPlane,
        u: StridedPlane,
        v: StridedPlane,
        /// Full range for Android and iOS 420f; video range for iOS 420v.
        range: YuvRange,
    },
}

/// A frame from a source, with its capture time and how to make it upright.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFrame {
    /// Capture time in milliseconds on any monotonic clock.
    pub t_ms: u64,
    pub data: FrameData,
    pub rotation: Rotation,
    /// A front camera's selfie preview.
    pub mirrored: bool,
}

impl SourceFrame {
    pub fn new(t_ms: u64, frame: OwnedFrame) -> Self {
        Self {
            t_ms,
            data: FrameData::Owned(frame),
            rotation: Rotation::R0,
            mirrored: false,
        }
    }

    /// A borrowed view the pipeline reads, checked against its sizes and strides.
    pub fn frame(&self) -> Result<Frame<'_>, SdkError> {
        let bad = |e: liveness_frame::FrameError| SdkError::InvalidFrame(e.to_string());
        let frame = match &self.data {
            FrameData::Owned(f) => f.as_frame().map_err(bad)?,
            FrameData::Yuv420 {
                width,
                height,
                y,
                u,
                v,
                range,
            } => Frame::yuv420(
                Plane::new(&y.bytes, y.row_stride, y.pixel_stride),
                Plane::new(&u.bytes, u.row_stride, u.pixel_stride),
                Plane::new(&v.bytes, v.row_stride, v.pixel_stride),
                *width,
                *height,
            )
            .map_err(bad)?
            .with_yuv_range(*range),
        };
        Ok(frame
            .with_rotation(self.rotation)
            .with_mirroring(self.mirrored))
    }
}

pub trait FrameSource: Send {
    /// The next frame, waiting for it if needed; `Ok(None)` at the end of the stream.
    fn next_frame(&mut self) -> Result<Option<SourceFrame>, SdkError>;

    /// Frames dropped because analysis was slower than the source.
    fn dropped(&self) -> u64 {
        0
    }

    /// Releases the device behind the source (the camera). Called once when the session ends,
    /// whichever way it ends.
    fn stop(&mut self) {}

    /// The light step asks for `request` on the screen after the frame captured at `t_ms`.
    /// A source that is its own screen (the rendered subject: a closed loop, as on a phone)
    /// shows it and returns when it was presented, in the frames' clock. Camera sources
    /// return `None`: the host paints the colour and reports the presentation itself.
    fn show(&mut self, _request: ScreenRequest, _t_ms: u64) -> Option<u64> {
        None
    }
}

impl FrameSource for Box<dyn FrameSource> {
    fn next_frame(&mut self) -> Result<Option<SourceFrame>, SdkError> {
        (**self).next_frame()
    }
    fn show(&mut self, request: ScreenRequest, t_ms: u64) -> Option<u64> {
        (**self).show(request, t_ms)
    }
    fn dropped(&self) -> u64 {
        (**self).dropped()
    }
    fn stop(&mut self) {
        (**self).stop()
    }
}

#[derive(Debug, Default)]
struct Mailbox {
    frame: Option<SourceFrame>,
    closed: bool,
    /// Why the host's camera stopped, when it failed rather than ended (a bind failure):
    /// the session ends with this error, not with "no evidence".
    failure: Option<SdkError>,
    dropped: u64,
    accepted: u64,
}

type Shared = Arc<(Mutex<Mailbox>, Condvar)>;

/// The frames the host app pushes.
#[derive(Debug)]
pub struct PushSource {
    shared: Shared,
    timeout: Duration,
}

/// The host's end of a [`PushSource`]: cheap to clone, usable from any thread.
#[derive(Debug, Clone)]
pub struct FramePusher {
    shared: Shared,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    Accepted,
    /// Accepted; the frame that was still waiting was dropped.
    ReplacedOlder,
    /// The session ended: stop the camera.
    Closed,
}

impl PushSource {
    /// A source whose frames arrive through the returned pusher; waiting more than `timeout`
    /// for a frame is [`SdkError::Timeout`].
    pub fn new(timeout: Duration) -> (Self, FramePusher) {
        let shared: Shared = Arc::default();
        (
            Self {
                shared: shared.clone(),
                timeout,
            },
            FramePusher { shared },
        )
    }
}

fn poisoned<T>(_: T) -> SdkError {
    SdkError::Internal("frame mailbox lock poisoned".into())
}

impl FramePusher {
    pub fn push(&self, frame: SourceFrame) -> PushOutcome {
        let (lock, ready) = &*self.shared;
        let Ok(mut m) = lock.lock() else {
            return PushOutcome::Closed;
        };
        if m.closed {
            return PushOutcome::Closed;
        }
        let replaced = m.frame.replace(frame).is_some();
        m.accepted += 1;
        if replaced {
            m.dropped += 1;
        }
        ready.notify_one();
        if replaced {
            PushOutcome::ReplacedOlder
        } else {
            PushOutcome::Accepted
        }
    }

    /// The camera stopped delivering: the session sees the end of the stream.
    pub fn close(&self) {
        let (lock, ready) = &*self.shared;
        if let Ok(mut m) = lock.lock() {
            m.closed = true;
        }
        ready.notify_all();
    }

    /// The host's camera failed (it could not be opened or bound): the session ends with
    /// `error` (for a camera, [`SdkError::CameraUnavailable`]) instead of waiting for frames.
    /// A frame still waiting is dropped. Does nothing once the source is closed.
    pub fn fail(&self, error: SdkError) {
        let (lock, ready) = &*self.shared;
        if let Ok(mut m) = lock.lock()
            && !m.closed
        {
            m.closed = true;
            m.frame = None;
            m.failure = Some(error);
        }
        ready.notify_all();
    }

    pub fn is_closed(&self) -> bool {
        self.shared.0.lock().map_or(true, |m| m.closed)
    }
}

impl FrameSource for PushSource {
    fn next_frame(&mut self) -> Result<Option<SourceFrame>, SdkError> {
        let (lock, ready) = &*self.shared;
        let deadline = Instant::now() + self.timeout;
        let mut m = lock.lock().map_err(poisoned)?;
        loop {
            if let Some(error) = m.failure.take() {
                return Err(error);
            }
            if let Some(f) = m.frame.take() {
                return Ok(Some(f));
            }
            if m.closed {
                return Ok(None);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(SdkError::Timeout(format!(
                    "no camera frame for {} ms",
                    self.timeout.as_millis()
                )));
            }
            m = ready.wait_timeout(m, deadline - now).map_err(poisoned)?.0;
        }
    }

    fn dropped(&self) -> u64 {
        self.shared.0.lock().map_or(0, |m| m.dropped)
    }

    fn stop(&mut self) {
        let (lock, ready) = &*self.shared;
        if let Ok(mut m) = lock.lock() {
            m.closed = true;
            m.frame = None;
        }
        ready.notify_all();
    }
}

/// Frames in memory. With `pace`, each is delivered no earlier than its timestamp after the
/// first (a recording played back as if live).
#[derive(Debug)]
pub struct VecSource {
    frames: std::vec::IntoIter<SourceFrame>,
    pace: bool,
    started: Option<(Instant, u64)>,
}

impl VecSource {
    pub fn new(frames: Vec<SourceFrame>, pace: bool) -> Self {
        Self {
            frames: frames.into_iter(),
            pace,
            started: None,
        }
    }
}

fn pace_to(started: &mut Option<(Instant, u64)>, t_ms: u64) {
    let (at, t0) = *started.get_or_insert((Instant::now(), t_ms));
    let due = at + Duration::from_millis(t_ms.saturating_sub(t0));
    let now = Instant::now();
    if due > now {
        std::thread::sleep(due - now);
    }
}

impl FrameSource for VecSource {
    fn next_frame(&mut self) -> Result<Option<SourceFrame>, SdkError> {
        let next = self.frames.next();
        if let (true, Some(f)) = (self.pace, &next) {
            pace_to(&mut self.started, f.t_ms);
        }
        Ok(next)
    }
}

#[cfg(feature = "synthetic")]
pub use synthetic::{RenderedSource, UserCues, Y4mSource, png_dir, y4m};

#[cfg(feature = "synthetic")]
mod synthetic {
    use std::io::BufReader;
    use std::path::Path;
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    use liveness_frame::{OwnedFrame, PixelFormat};
    use liveness_testkit::output::Y4mReader;
    use liveness_testkit::respond::{Cues, MAX_PAUSED_S, Responder};
    use liveness_testkit::{Illumination, Renderer, Script};

    use super::{FrameSource, ScreenRequest, SourceFrame, VecSource, pace_to};
    use crate::error::SdkError;
    use crate::events::SessionEvent;

    /// What the rendered subject has read on the screen, for a subject who reacts as a
    /// person does ([`liveness_testkit::respond`]). The session's observer feeds it
    /// ([`UserCues::on_event`]); the capture loop calls the observer before it asks for the
    /// next frame, so a responsive run is as deterministic as a scripted one.
    #[derive(Debug, Clone, Default)]
    pub struct UserCues(Arc<Mutex<Cues>>);

    impl UserCues {
        pub fn new() -> Self {
            Self::default()
        }

        pub fn on_event(&self, e: &SessionEvent) {
            let Ok(mut c) = self.0.lock() else { return };
            match e {
                SessionEvent::Prompt { code, .. } => c.prompt(code),
                SessionEvent::Guidance { code, .. } => c.guidance(*code),
                _ => {}
            }
        }

        fn get(&self) -> Cues {
            self.0.lock().map(|c| *c).unwrap_or_default()
        }
    }

    /// A responsive subject: what it has read, and where that put it.
    #[derive(Debug)]
    struct Response {
        cues: UserCues,
        responder: Responder,
    }

    /// The synthetic subject performing a script, rendered frame by frame as it is asked for.
    #[derive(Debug)]
    pub struct RenderedSource {
        renderer: Renderer,
        next: usize,
        pace: bool,
        started: Option<(Instant, u64)>,
        mirrored: bool,
        light: Illumination,
        display_latency_ms: u64,
        screen_answers: bool,
        response: Option<Response>,
    }

    impl RenderedSource {
        pub fn new(script: Script, pace: bool) -> Self {
            Self {
                renderer: Renderer::new(script),
                next: 0,
                pace,
                started: None,
                mirrored: false,
                light: Illumination::default(),
                display_latency_ms: 17,
                screen_answers: true,
                response: None,
            }
        }

        /// The subject reacts to what the session shows (see [`UserCues`]) instead of
        /// playing its script on the clock: the script pauses while the light step runs and
        /// the subject comes closer when that step asks it to. The script then holds no pause
        /// of its own for the light step.
        pub fn responsive(mut self, cues: UserCues) -> Self {
            self.response = Some(Response {
                cues,
                responder: Responder::new(),
            });
            self
        }

        /// The frames ignore this session's screen and carry the light step of the session
        /// they were recorded in (an injected recording); the default is a closed loop, the
        /// phone's screen lighting the face it films.
        pub fn recorded_light(mut self) -> Self {
            self.screen_answers = false;
            let seed = self.renderer.script().seed;
            self.light = Illumination::recorded(seed, 1300, 400, 6);
            self
        }

        /// Delivered mirrored, as a front camera's selfie preview is.
        pub fn mirrored(mut self, mirrored: bool) -> Self {
            self.mirrored = mirrored;
            self
        }
    }

    impl FrameSource for RenderedSource {
        fn next_frame(&mut self) -> Result<Option<SourceFrame>, SdkError> {
            let i = self.next;
            let script = self.renderer.script();
            let img = match &mut self.response {
                None if i >= self.renderer.frame_count() => return Ok(None),
                None => self.renderer.render_lit(i, &self.light),
                Some(r) => {
                    let t = script.time(i);
                    let (script_t, approach) = r.responder.step(t, r.cues.get());
                    if script_t >= script.duration || t >= script.duration + MAX_PAUSED_S {
                        return Ok(None);
                    }
                    let mut state = script.state_at(script_t);
                    state.scale *= approach;
                    self.renderer.render_posed(i, &state, script_t, &self.light)
                }
            };
            self.next += 1;
            let t_ms = self.renderer.timestamp_us(i) / 1000;
            if self.pace {
                pace_to(&mut self.started, t_ms);
            }
            let frame = OwnedFrame::from_rgb(&img.rgb, img.width, img.height, PixelFormat::Rgb8)
                .map_err(|e| SdkError::InvalidFrame(e.to_string()))?;
            let mut f = SourceFrame::new(t_ms, frame);
            f.mirrored = self.mirrored;
            Ok(Some(f))
        }

        fn show(&mut self, request: ScreenRequest, t_ms: u64) -> Option<u64> {
            // The next refresh of a 60 Hz display after the frame that asked.
            let at = t_ms + self.display_latency_ms;
            let colour = match request {
                ScreenRequest::Colour { rgb, .. } => Some(rgb),
                ScreenRequest::Restore => None,
            };
            if self.screen_answers {
                self.light.show(at, colour);
            }
            Some(at)
        }
    }

    #[cfg(test)]
    mod responsive_tests {
        use super::*;

        fn prompt(code: &'static str) -> SessionEvent {
            SessionEvent::Prompt {
                code,
                text: "",
                target: None,
            }
        }

        fn guidance(code: Option<&'static str>) -> SessionEvent {
            SessionEvent::Guidance { code, text: None }
        }

        #[test]
        fn the_subject_pauses_through_the_light_step_and_comes_closer_when_asked() {
            let cues = UserCues::new();
            let mut r = Response {
                cues: cues.clone(),
                responder: Responder::new(),
            };
            let at = |r: &mut Response, t: f32| r.responder.step(t, r.cues.get());
            assert_eq!(at(&mut r, 0.0), (0.0, 1.0));
            assert_eq!(at(&mut r, 0.5), (0.5, 1.0));
            // The light step: the script stops, whatever the frames' clock does.
            cues.on_event(&prompt("light_check"));
            assert_eq!(at(&mut r, 1.0), (0.5, 1.0));
            assert_eq!(at(&mut r, 4.0), (0.5, 1.0));
            // Asked to come closer: after the reaction time, closer every frame...
            cues.on_event(&guidance(Some("too_far")));
            assert_eq!(at(&mut r, 4.1), (0.5, 1.0));
            assert_eq!(at(&mut r, 4.4), (0.5, 1.0));
            let (_, a) = at(&mut r, 4.9);
            assert!((a - 1.25).abs() < 1e-4, "{a}");
            // ...a little past the message, then still.
            cues.on_event(&guidance(None));
            let (_, b) = at(&mut r, 5.1);
            assert!(b > a, "{b}");
            let (_, c) = at(&mut r, 5.5);
            let (_, d) = at(&mut r, 6.5);
            assert_eq!(c, d);
            // Asked to face the camera, which it does: still waiting for the instruction.
            cues.on_event(&prompt("return_to_center"));
            assert_eq!(at(&mut r, 6.8), (0.5, d));
            // The next prompt: the script goes on from where it stopped, at the new distance.
            cues.on_event(&prompt("turn_left"));
            let (script_t, size) = at(&mut r, 7.0);
            assert!(
                (script_t - 0.7).abs() < 1e-4 && size == d,
                "{script_t} {size}"
            );
        }
    }

    /// A `.y4m` recording, read frame by frame as it plays (8-bit 4:2:0 in any of ffmpeg's
    /// chroma sitings, or mono), stamped from its exact frame rate and paced by it when
    /// asked.
    #[derive(Debug)]
    pub struct Y4mSource {
        reader: Y4mReader<BufReader<std::fs::File>>,
        next: u64,
        pace: bool,
        started: Option<(Instant, u64)>,
        mirrored: bool,
    }

    impl Y4mSource {
        /// Delivered as a mirrored (selfie) preview.
        pub fn mirrored(mut self, mirrored: bool) -> Self {
            self.mirrored = mirrored;
            self
        }

        pub fn frame_rate(&self) -> (u32, u32) {
            (self.reader.fps_num, self.reader.fps_den)
        }
    }

    impl FrameSource for Y4mSource {
        fn next_frame(&mut self) -> Result<Option<SourceFrame>, SdkError> {
            let Some(frame) = self
                .reader
                .next_frame()
                .map_err(|e| SdkError::InvalidInput(e.to_string()))?
            else {
                return Ok(None);
            };
            let t_ms = self.reader.timestamp_ms(self.next);
            self.next += 1;
            if self.pace {
                pace_to(&mut self.started, t_ms);
            }
            let mut f = SourceFrame::new(t_ms, frame);
            f.mirrored = self.mirrored;
            Ok(Some(f))
        }
    }

    /// Opens a `.y4m` recording (see [`Y4mSource`]); a stream it cannot read is refused here,
    /// before any session starts.
    pub fn y4m(path: &Path, pace: bool) -> Result<Y4mSource, SdkError> {
        let reader = Y4mReader::open(path).map_err(|e| SdkError::InvalidInput(e.to_string()))?;
        Ok(Y4mSource {
            reader,
            next: 0,
            pace,
            started: None,
            mirrored: false,
        })
    }

    /// A folder of PNG frames in name order, at `fps`.
    pub fn png_dir(dir: &Path, fps: u32, pace: bool) -> Result<VecSource, SdkError> {
        let images = liveness_testkit::output::read_png_dir(dir)
            .map_err(|e| SdkError::InvalidInput(e.to_string()))?;
        let fps = u64::from(fps.max(1));
        let frames = images
            .into_iter()
            .enumerate()
            .map(|(i, img)| {
                OwnedFrame::from_rgb(&img.rgb, img.width, img.height, PixelFormat::Rgb8)
                    .map(|f| SourceFrame::new(i as u64 * 1000 / fps, f))
                    .map_err(|e| SdkError::InvalidFrame(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(VecSource::new(frames, pace))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use liveness_frame::PixelFormat;

    fn frame(t: u64) -> SourceFrame {
        SourceFrame::new(
            t,
            OwnedFrame::from_rgb(&[0u8; 16 * 16 * 3], 16, 16, PixelFormat::Rgb8).unwrap(),
        )
    }

    #[test]
    fn a_slow_reader_gets_the_newest_frame_and_drops_the_rest() {
        let (mut source, pusher) = PushSource::new(Duration::from_millis(100));
        assert_eq!(pusher.push(frame(1)), PushOutcome::Accepted);
        assert_eq!(pusher.push(frame(2)), PushOutcome::ReplacedOlder);
        assert_eq!(pusher.push(frame(3)), PushOutcome::ReplacedOlder);
        assert_eq!(source.next_frame().unwrap().unwrap().t_ms, 3);
        assert_eq!(source.dropped(), 2);
        // Nothing arrives: a typed timeout, not a hang.
        assert_eq!(source.next_frame().unwrap_err().code(), "timeout");
        // From another thread.
        let p = pusher.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            p.push(frame(4))
        });
        assert_eq!(source.next_frame().unwrap().unwrap().t_ms, 4);
        t.join().unwrap();
        pusher.close();
        assert_eq!(source.next_frame().unwrap(), None);
        source.stop();
        assert_eq!(pusher.push(frame(5)), PushOutcome::Closed);
    }

    #[test]
    fn a_failed_camera_ends_the_source_with_its_error_once() {
        let (mut source, pusher) = PushSource::new(Duration::from_secs(5));
        assert_eq!(pusher.push(frame(1)), PushOutcome::Accepted);
        pusher.fail(SdkError::CameraUnavailable("bind failed".into()));
        // The waiting frame is dropped: the error comes first, and at once (no timeout).
        let e = source.next_frame().unwrap_err();
        assert_eq!(e, SdkError::CameraUnavailable("bind failed".into()));
        assert_eq!(source.next_frame().unwrap(), None);
        assert_eq!(pusher.push(frame(2)), PushOutcome::Closed);
        // A camera that ended normally is not turned into a failure afterwards.
        let (mut source, pusher) = PushSource::new(Duration::from_secs(5));
        pusher.close();
        pusher.fail(SdkError::CameraUnavailable("late".into()));
        assert_eq!(source.next_frame().unwrap(), None);
    }

    #[test]
    fn strided_yuv_frames_are_checked() {
        let plane = |h: usize, stride: usize| StridedPlane {
            bytes: vec![128; stride * h],
            row_stride: stride,
            pixel_stride: 1,
        };
        let mut f = SourceFrame {
            t_ms: 0,
            data: FrameData::Yuv420 {
                width: 32,
                height: 16,
                y: plane(16, 40),
                u: plane(8, 24),
                v: plane(8, 24),
                range: YuvRange::Video,
            },
            rotation: Rotation::R90,
            mirrored: true,
        };
        assert_eq!(f.frame().unwrap().size(), (16, 32));
        assert_eq!(f.frame().unwrap().yuv_range(), YuvRange::Video);
        if let FrameData::Yuv420 { y, .. } = &mut f.data {
            y.bytes.truncate(100);
        }
        assert_eq!(f.frame().unwrap_err().code(), "invalid_frame");
    }
}
