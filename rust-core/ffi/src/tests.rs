//! The boundary's own guarantees, without a server: error mapping both ways, panics caught,
//! frames checked at the push, host callbacks from many threads, a throwing or panicking
//! host, and a caller that stops waiting cancelling the session.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use liveness_protocol::{Nonce, SessionOptions, derive_plan};
use liveness_session::{Observer, SdkError, SessionEvent};

use crate::error::guard;
use crate::host::{KeyStoreBridge, ObserverBridge};
use crate::*;

fn every_sdk_error() -> Vec<SdkError> {
    vec![
        SdkError::CameraUnavailable("c".into()),
        SdkError::PermissionDenied,
        SdkError::TokenExpired,
        SdkError::Network("n".into()),
        SdkError::ServerRejected {
            status: 409,
            code: "submission_conflict".into(),
            message: "m".into(),
        },
        SdkError::Cancelled,
        SdkError::Timeout("t".into()),
        SdkError::ModelLoad("m".into()),
        SdkError::InvalidFrame("f".into()),
        SdkError::InvalidInput("i".into()),
        SdkError::NoEvidence("e".into()),
        SdkError::KeyStore("k".into()),
        SdkError::Internal("x".into()),
    ]
}

#[test]
fn every_error_keeps_its_code_hint_and_details_across_the_boundary() {
    let all = every_sdk_error();
    assert_eq!(all.len(), SdkError::CODES.len());
    for e in all {
        let mapped = LivenessError::from(e.clone());
        assert_eq!(mapped.code(), e.code());
        assert_eq!(mapped.to_string(), e.to_string());
        // And back, as a host implementation's error becomes the session's.
        assert_eq!(mapped.clone().into_sdk().code(), e.code(), "{mapped:?}");
    }
    // What a host says survives the trip through the session.
    let host = LivenessError::CameraUnavailable {
        code: "camera_unavailable".into(),
        detail: "no front camera".into(),
        recovery: String::new(),
    };
    let back = LivenessError::from(host.into_sdk());
    assert!(back.to_string().contains("no front camera"), "{back}");
    assert!(
        !matches!(&back, LivenessError::CameraUnavailable { recovery, .. } if recovery.is_empty())
    );
    let LivenessError::ServerRejected {
        http_status,
        server_code,
        recovery,
        ..
    } = LivenessError::from(every_sdk_error().swap_remove(4))
    else {
        panic!("not server_rejected")
    };
    assert_eq!(
        (http_status, server_code.as_str()),
        (409, "submission_conflict")
    );
    assert!(!recovery.is_empty());
    assert_eq!(message_codes().errors, SdkError::CODES.to_vec());
}

#[test]
fn a_panic_becomes_an_internal_error() {
    let r: Result<(), _> = guard(|| panic!("boom {}", 42));
    let e = r.unwrap_err();
    assert_eq!(e.code(), "internal");
    assert!(e.to_string().contains("boom 42"), "{e}");
}

fn packed(width: u32, height: u32, row_stride: u32, bytes: Vec<u8>, rotation: u32) -> HostFrame {
    HostFrame {
        timestamp_ms: 1,
        rotation_degrees: rotation,
        mirrored: false,
        image: FrameImage::Packed {
            format: PackedFormat::Bgra8,
            width,
            height,
            row_stride,
            bytes,
        },
    }
}

#[test]
fn frames_are_checked_and_padded_rows_packed() {
    // 2×2 BGRA with 4 bytes of padding a row.
    let bytes: Vec<u8> = (0..24).collect();
    let sf = packed(2, 2, 12, bytes, 90).into_source_frame().unwrap();
    let liveness_session::source::FrameData::Owned(f) = &sf.data else {
        panic!("not packed")
    };
    assert_eq!(
        f.planes[0],
        [0, 1, 2, 3, 4, 5, 6, 7, 12, 13, 14, 15, 16, 17, 18, 19]
    );
    for bad in [
        packed(2, 2, 12, vec![0; 10], 0),       // too short
        packed(2, 2, 4, vec![0; 24], 0),        // stride below a row
        packed(0, 2, 8, vec![], 0),             // empty
        packed(2, 2, 8, vec![0; 16], 45),       // rotation
        packed(1 << 20, 1, 4 << 20, vec![], 0), // absurd size
    ] {
        let e = bad.into_source_frame().unwrap_err();
        assert_eq!(e.code(), "invalid_frame", "{e}");
    }
}

/// Records every event with the thread it came from.
#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<(String, LivenessEvent)>>,
    panics: bool,
}

impl LivenessObserver for Recorder {
    fn on_event(&self, event: LivenessEvent) -> Result<(), LivenessError> {
        let name = thread::current().name().unwrap_or("unnamed").to_owned();
        self.events.lock().unwrap().push((name, event));
        if self.panics {
            panic!("the host's observer failed");
        }
        Err(LivenessError::internal(
            "observers may fail; the session ignores it",
        ))
    }
}

#[test]
fn observers_are_called_from_many_threads_at_once_and_a_panicking_one_is_contained() {
    let recorder = Arc::new(Recorder {
        panics: true,
        ..Default::default()
    });
    let bridge = Arc::new(ObserverBridge(recorder.clone()));
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let bridge = bridge.clone();
            thread::Builder::new()
                .name(format!("sdk-{i}"))
                .spawn(move || {
                    for attempt in 0..250 {
                        bridge.on_event(SessionEvent::Submitting { attempt });
                    }
                })
                .unwrap()
        })
        .collect();
    for t in threads {
        t.join().expect("a host panic escaped the bridge");
    }
    let events = recorder.events.lock().unwrap();
    assert_eq!(events.len(), 2000);
    let names: std::collections::HashSet<_> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.len(), 8);
}

struct BadStore(Option<Vec<u8>>);

impl DeviceKeyStore for BadStore {
    fn load(&self) -> Result<Option<Vec<u8>>, LivenessError> {
        Ok(self.0.clone())
    }
    fn store(&self, _seed: Vec<u8>) -> Result<(), LivenessError> {
        Err(SdkError::KeyStore("disk full".into()).into())
    }
}

#[test]
fn key_store_problems_are_key_store_errors() {
    use liveness_session::KeyStore;
    let short = KeyStoreBridge(Arc::new(BadStore(Some(vec![1; 5]))));
    assert_eq!(short.load().unwrap_err().code(), "key_store");
    let full = KeyStoreBridge(Arc::new(BadStore(None)));
    assert_eq!(
        liveness_session::device_key(&full).unwrap_err().code(),
        "key_store"
    );
    let mem = memory_key_store();
    mem.store(vec![7; 32]).unwrap();
    assert_eq!(mem.load().unwrap(), Some(vec![7; 32]));
    assert_eq!(mem.store(vec![7; 3]).unwrap_err().code(), "invalid_input");
}

fn session_json() -> String {
    let nonce = Nonce::random().unwrap();
    let options: SessionOptions = serde_json::from_str(r#"{"action":"BlinkEyes"}"#).unwrap();
    let plan = derive_plan(&nonce, &options).unwrap();
    serde_json::json!({
        "session_id": "ffi-test",
        "nonce": nonce.to_b64url(),
        "plan": plan,
        "submission_token": "st_test",
        "submission_expires_at": 4_000_000_000i64,
        "result_token": "rt_ignored",
    })
    .to_string()
}

/// A session for a fresh BlinkEyes plan, its server unreachable (these tests never upload).
fn new_session(observer: Arc<dyn LivenessObserver>) -> Arc<LivenessSession> {
    LivenessSession::new(
        "http://127.0.0.1:9".into(),
        session_json(),
        config(),
        memory_key_store(),
        observer,
        None,
    )
    .unwrap()
}

fn config() -> LivenessConfig {
    default_config(DeviceDescription {
        platform: "test".into(),
        os_version: String::new(),
        model: String::new(),
        app_id: None,
    })
}

/// Serves grey frames (no face) until stopped; counts and notes the stop.
struct Grey {
    served: AtomicUsize,
    stopped: AtomicBool,
    limit: usize,
}

impl FrameProvider for Grey {
    fn next_frame(&self) -> Result<Option<HostFrame>, LivenessError> {
        let n = self.served.fetch_add(1, Ordering::SeqCst);
        if n >= self.limit {
            return Ok(None);
        }
        thread::sleep(Duration::from_millis(5));
        Ok(Some(HostFrame {
            timestamp_ms: n as u64 * 33,
            rotation_degrees: 0,
            mirrored: false,
            image: FrameImage::Packed {
                format: PackedFormat::Rgb8,
                width: 64,
                height: 48,
                row_stride: 192,
                bytes: vec![90; 64 * 48 * 3],
            },
        }))
    }
    fn stop(&self) -> Result<(), LivenessError> {
        self.stopped.store(true, Ordering::SeqCst);
        Ok(())
    }
}

fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn a_camera_that_sends_nothing_ends_in_no_evidence_reported_to_caller_and_observer() {
    let recorder = Arc::new(Recorder::default());
    let session = new_session(recorder.clone());
    assert_eq!(session.info().challenges, vec![Challenge::Blink]);
    // (Frames without a face are evidence too, judged by the server: only a camera that
    // delivers nothing leaves nothing to send.)
    let grey = Arc::new(Grey {
        served: AtomicUsize::new(0),
        stopped: AtomicBool::new(false),
        limit: 0,
    });
    let e = block_on(session.run(Some(grey.clone()))).unwrap_err();
    assert_eq!(e.code(), "no_evidence");
    assert!(grey.stopped.load(Ordering::SeqCst));
    let events = recorder.events.lock().unwrap();
    assert!(matches!(
        events.last(),
        Some((_, LivenessEvent::Failed { code, .. })) if code == "no_evidence"
    ));
    // Nothing ran on the test's own thread.
    let me = thread::current().name().unwrap_or("").to_owned();
    assert!(events.iter().all(|(n, _)| *n != me), "{me}");
    // A session records once.
    let again = block_on(session.run(None)).unwrap_err();
    assert_eq!(again.code(), "invalid_input");
}

#[test]
fn a_caller_that_stops_waiting_cancels_the_session_and_releases_the_source() {
    let session = new_session(Arc::new(Recorder::default()));
    let grey = Arc::new(Grey {
        served: AtomicUsize::new(0),
        stopped: AtomicBool::new(false),
        limit: usize::MAX,
    });
    let provider = grey.clone();
    // The host's task is dropped (a cancelled coroutine) after half a second.
    let out = block_on(async {
        tokio::time::timeout(Duration::from_millis(500), session.run(Some(provider))).await
    });
    assert!(out.is_err(), "the session should still have been running");
    for _ in 0..200 {
        if grey.stopped.load(Ordering::SeqCst) {
            break;
        }
        thread::sleep(Duration::from_millis(10));
    }
    assert!(
        grey.stopped.load(Ordering::SeqCst),
        "the source was not released"
    );
    assert!(session.is_cancelled());
}

#[test]
fn pushes_after_the_end_say_closed_and_dropped_sinks_are_gone() {
    let session = new_session(Arc::new(Recorder::default()));
    let frame = || packed(2, 2, 8, vec![0; 16], 0);
    assert_eq!(session.push_frame(frame()).unwrap(), PushResult::Accepted);
    assert_eq!(
        session.push_frame(frame()).unwrap(),
        PushResult::ReplacedOlder
    );
    let sink = session.frame_sink();
    assert!(matches!(
        crate::sinks::lookup(sink),
        crate::sinks::Sink::Live(_)
    ));
    session.cancel();
    assert_eq!(session.push_frame(frame()).unwrap(), PushResult::Closed);
    drop(session);
    assert!(matches!(
        crate::sinks::lookup(sink),
        crate::sinks::Sink::Gone
    ));
}
