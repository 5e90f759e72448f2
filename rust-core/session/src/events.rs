//! What the session tells the host while it runs.

pub use liveness_capture::SessionEvent;

/// Receives events, from the session's worker threads: implementations must be thread-safe
/// and return quickly.
pub trait Observer: Send + Sync {
    fn on_event(&self, event: SessionEvent);
}

/// Drops every event.
#[derive(Debug, Default)]
pub struct NoObserver;

impl Observer for NoObserver {
    fn on_event(&self, _event: SessionEvent) {}
}

impl<F: Fn(SessionEvent) + Send + Sync> Observer for F {
    fn on_event(&self, event: SessionEvent) {
        self(event)
    }
}

/// Where the host reports when each light colour reached the screen (its presentation time,
/// in the clock of the frames it pushes: `CADisplayLink`/`CMSampleBuffer` host time on iOS,
/// `Choreographer`/`ImageProxy` `CLOCK_MONOTONIC`-based times on Android). Cheap to clone;
/// callable from any thread.
#[derive(Debug, Clone, Default)]
pub struct ScreenReports(std::sync::Arc<std::sync::Mutex<Vec<(u8, u64)>>>);

impl ScreenReports {
    /// Colour `index` (from [`SessionEvent::Screen`]) was on the screen from `t_ms`.
    pub fn presented(&self, index: u8, t_ms: u64) {
        if let Ok(mut v) = self.0.lock() {
            v.push((index, t_ms));
        }
    }

    pub(crate) fn drain(&self) -> Vec<(u8, u64)> {
        self.0
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }
}
