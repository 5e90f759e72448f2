//! Frame sources for the evaluation: how a camera delivers what the subject does.
//!
//! [`Delivery`] turns an ideal stream into a real one: each exposure delivered `repeat` times
//! (a 30 fps stream of 15 fps exposures, as phones do in low light), timestamps jittered,
//! sometimes the same stamp twice. [`Window`] plays the seconds `start..end` of a recording
//! (a real clip cut to where something happens), stamped from zero.

use liveness_session::{FrameSource, ScreenRequest, SdkError, SourceFrame};
use liveness_testkit::render::Rng;

/// A camera's delivery of `inner`'s exposures.
pub struct Delivery {
    inner: Box<dyn FrameSource>,
    /// Each exposure is delivered this many times (1: no repeats), `interval_ms` apart
    /// spread over the exposure's own interval.
    repeat: u32,
    interval_ms: u64,
    /// Timestamps move by up to this many ms either way (never backwards).
    jitter_ms: u32,
    rng: Rng,
    pending: Option<(SourceFrame, u32, u64)>,
    last_t: Option<u64>,
}

impl Delivery {
    /// `interval_ms`: time between `inner`'s exposures.
    pub fn new(
        inner: Box<dyn FrameSource>,
        repeat: u32,
        interval_ms: u64,
        jitter_ms: u32,
        seed: u64,
    ) -> Self {
        Self {
            inner,
            repeat: repeat.max(1),
            interval_ms,
            jitter_ms,
            rng: Rng::new(seed),
            pending: None,
            last_t: None,
        }
    }

    fn stamp(&mut self, t: u64) -> u64 {
        let j = if self.jitter_ms == 0 {
            0
        } else {
            (self.rng.unit() * (2 * self.jitter_ms + 1) as f32) as i64 - i64::from(self.jitter_ms)
        };
        let t = (t as i64 + j).max(0) as u64;
        // A camera clock never runs backwards; equal stamps do happen.
        let t = self.last_t.map_or(t, |l| t.max(l));
        self.last_t = Some(t);
        t
    }
}

impl FrameSource for Delivery {
    fn next_frame(&mut self) -> Result<Option<SourceFrame>, SdkError> {
        if let Some((frame, left, step)) = self.pending.take() {
            let mut copy = frame.clone();
            copy.t_ms = self.stamp(frame.t_ms + step * u64::from(self.repeat - left));
            if left > 1 {
                self.pending = Some((frame, left - 1, step));
            }
            return Ok(Some(copy));
        }
        let Some(frame) = self.inner.next_frame()? else {
            return Ok(None);
        };
        if self.repeat > 1 {
            let step = self.interval_ms / u64::from(self.repeat);
            self.pending = Some((frame.clone(), self.repeat - 1, step));
        }
        let mut first = frame;
        first.t_ms = self.stamp(first.t_ms);
        Ok(Some(first))
    }

    fn dropped(&self) -> u64 {
        self.inner.dropped()
    }

    fn stop(&mut self) {
        self.inner.stop();
    }

    fn show(&mut self, request: ScreenRequest, t_ms: u64) -> Option<u64> {
        self.inner.show(request, t_ms)
    }
}

/// The part of a recording between `start_ms` and `end_ms`, restamped from zero.
pub struct Window {
    inner: Box<dyn FrameSource>,
    start_ms: u64,
    end_ms: u64,
}

impl Window {
    pub fn new(inner: Box<dyn FrameSource>, start_ms: u64, end_ms: u64) -> Self {
        Self {
            inner,
            start_ms,
            end_ms,
        }
    }
}

impl FrameSource for Window {
    fn next_frame(&mut self) -> Result<Option<SourceFrame>, SdkError> {
        loop {
            let Some(mut f) = self.inner.next_frame()? else {
                return Ok(None);
            };
            if f.t_ms < self.start_ms {
                continue;
            }
            if f.t_ms >= self.end_ms {
                return Ok(None);
            }
            f.t_ms -= self.start_ms;
            return Ok(Some(f));
        }
    }

    fn stop(&mut self) {
        self.inner.stop();
    }
}
