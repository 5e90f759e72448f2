//! Frame sinks by number: the JNI path gets a plain `long` from Kotlin, so it must never be a
//! pointer. A handle whose session is gone answers "closed" (CameraX can deliver one more
//! frame after the app closed the session, on its own executor: that must not throw); a
//! handle that was never issued is refused.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};

use liveness_session::FramePusher;

static SINKS: LazyLock<Mutex<HashMap<u64, FramePusher>>> = LazyLock::new(Default::default);
static NEXT: AtomicU64 = AtomicU64::new(1);

pub(crate) fn register(pusher: FramePusher) -> u64 {
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    if let Ok(mut sinks) = SINKS.lock() {
        sinks.insert(id, pusher);
    }
    id
}

pub(crate) fn unregister(id: u64) {
    if let Ok(mut sinks) = SINKS.lock() {
        sinks.remove(&id);
    }
}

pub(crate) enum Sink {
    Live(FramePusher),
    /// Issued, and its session has since been dropped.
    Gone,
    Unknown,
}

pub(crate) fn lookup(id: u64) -> Sink {
    let live = SINKS.lock().ok().and_then(|sinks| sinks.get(&id).cloned());
    match live {
        Some(pusher) => Sink::Live(pusher),
        // Handles are issued in order from 1, so every id below the next one was issued.
        None if id >= 1 && id < NEXT.load(Ordering::Relaxed) => Sink::Gone,
        None => Sink::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use liveness_session::source::PushSource;
    use std::time::Duration;

    #[test]
    fn a_dropped_sessions_sink_is_gone_and_a_made_up_one_unknown() {
        let (_source, pusher) = PushSource::new(Duration::from_secs(1));
        let id = register(pusher);
        assert!(matches!(lookup(id), Sink::Live(_)));
        unregister(id);
        assert!(matches!(lookup(id), Sink::Gone));
        assert!(matches!(lookup(0), Sink::Unknown));
        assert!(matches!(lookup(u64::MAX), Sink::Unknown));
        assert!(matches!(lookup(id + 1_000_000), Sink::Unknown));
    }
}
