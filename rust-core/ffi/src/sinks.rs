//! Frame sinks by number: the JNI path gets a plain `long` from Kotlin, so it must never be a
//! pointer. A handle that is unknown (never issued, or its session is gone) is refused.

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

pub(crate) fn lookup(id: u64) -> Option<FramePusher> {
    SINKS.lock().ok()?.get(&id).cloned()
}
