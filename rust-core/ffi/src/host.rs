//! What the host app implements (observer, frame provider, key store, attestation) and the
//! frames it hands over, with the bridges to the session crate's traits.
//!
//! Host callbacks run on the SDK's threads. A callback that throws must not take the session
//! (or the app) down: observer exceptions are swallowed, the others become `LivenessError`s.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use liveness_frame::{Frame, OwnedFrame, PixelFormat, Rotation};
use liveness_protocol::manifest::Attestation;
use liveness_session::source::{FrameData, StridedPlane};
use liveness_session::{KeyStore, Observer, SdkError, SessionEvent, SourceFrame};

use crate::error::{LivenessError, panic_message};
use crate::types::LivenessEvent;

/// Receives the session's events. Called from the SDK's threads (never the main thread):
/// hop to the UI thread before touching views, and return quickly. Whatever it throws is
/// ignored: the session carries on.
#[uniffi::export(with_foreign)]
pub trait LivenessObserver: Send + Sync {
    // A `Result` so that a host exception comes back as a value, not as a panic inside
    // uniffi's callback glue.
    fn on_event(&self, event: LivenessEvent) -> Result<(), LivenessError>;
}

pub(crate) struct ObserverBridge(pub Arc<dyn LivenessObserver>);

impl Observer for ObserverBridge {
    fn on_event(&self, event: SessionEvent) {
        let event = LivenessEvent::from(event);
        // A throwing observer is the host's bug; the session carries on without that event.
        let _ = catch_unwind(AssertUnwindSafe(|| self.0.on_event(event)));
    }
}

/// One plane of a YUV frame, as the camera delivered it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FramePlane {
    pub bytes: Vec<u8>,
    pub row_stride: u32,
    /// 1 for planar, 2 for interleaved chroma (NV12/NV21 as Android hands it out).
    pub pixel_stride: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum PackedFormat {
    Rgb8,
    Rgba8,
    /// iOS `kCVPixelFormatType_32BGRA`.
    Bgra8,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum FrameImage {
    /// One interleaved plane (`row_stride` bytes a row, padding allowed).
    Packed {
        format: PackedFormat,
        width: u32,
        height: u32,
        row_stride: u32,
        bytes: Vec<u8>,
    },
    /// 4:2:0 YUV in three planes with any strides (Android `YUV_420_888`; iOS 420f/420v as Y
    /// and the CbCr plane given twice with pixel stride 2, offset by one byte for V).
    /// `video_range`: the samples use 16–235 (Y) and 16–240 (chroma), as iOS
    /// `kCVPixelFormatType_420YpCbCr8BiPlanarVideoRange` (420v) delivers them; false (the
    /// default) for full range (Android, iOS 420f).
    Yuv420 {
        width: u32,
        height: u32,
        y: FramePlane,
        u: FramePlane,
        v: FramePlane,
        #[uniffi(default = false)]
        video_range: bool,
    },
}

/// A camera frame handed over by copy (the portable path; Android's CameraX analyzer uses
/// the zero-copy JNI path instead).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HostFrame {
    /// Capture time in milliseconds on any monotonic clock.
    pub timestamp_ms: u64,
    /// Clockwise rotation that makes the buffer upright: 0, 90, 180 or 270.
    pub rotation_degrees: u32,
    /// A front camera's selfie preview.
    pub mirrored: bool,
    pub image: FrameImage,
}

fn bad(e: impl std::fmt::Display) -> SdkError {
    SdkError::InvalidFrame(e.to_string())
}

fn rotation(degrees: u32) -> Result<Rotation, SdkError> {
    i32::try_from(degrees)
        .map_err(bad)
        .and_then(|d| Rotation::from_degrees(d).map_err(bad))
}

impl HostFrame {
    /// Checks sizes and strides and makes the session's frame (one copy for packed frames,
    /// which are stored tightly packed).
    pub(crate) fn into_source_frame(self) -> Result<SourceFrame, SdkError> {
        let data = match self.image {
            FrameImage::Packed {
                format,
                width,
                height,
                row_stride,
                bytes,
            } => {
                let stride = row_stride as usize;
                let (view, px, format) = match format {
                    PackedFormat::Rgb8 => (
                        Frame::rgb8(&bytes, width, height, stride),
                        3,
                        PixelFormat::Rgb8,
                    ),
                    PackedFormat::Rgba8 => (
                        Frame::rgba8(&bytes, width, height, stride),
                        4,
                        PixelFormat::Rgba8,
                    ),
                    PackedFormat::Bgra8 => (
                        Frame::bgra8(&bytes, width, height, stride),
                        4,
                        PixelFormat::Bgra8,
                    ),
                };
                view.map_err(bad)?;
                let row = width as usize * px;
                let tight = if stride == row {
                    let mut b = bytes;
                    b.truncate(row * height as usize);
                    b
                } else {
                    bytes
                        .chunks(stride)
                        .take(height as usize)
                        .flat_map(|r| &r[..row])
                        .copied()
                        .collect()
                };
                FrameData::Owned(OwnedFrame {
                    format,
                    width,
                    height,
                    planes: vec![tight],
                })
            }
            FrameImage::Yuv420 {
                width,
                height,
                y,
                u,
                v,
                video_range,
            } => {
                let plane = |p: FramePlane| StridedPlane {
                    bytes: p.bytes,
                    row_stride: p.row_stride as usize,
                    pixel_stride: p.pixel_stride as usize,
                };
                FrameData::Yuv420 {
                    width,
                    height,
                    y: plane(y),
                    u: plane(u),
                    v: plane(v),
                    range: if video_range {
                        liveness_frame::YuvRange::Video
                    } else {
                        liveness_frame::YuvRange::Full
                    },
                }
            }
        };
        let frame = SourceFrame {
            t_ms: self.timestamp_ms,
            data,
            rotation: rotation(self.rotation_degrees)?,
            mirrored: self.mirrored,
        };
        // Refuse a malformed frame here, at the host's call, rather than mid-session.
        frame.frame()?;
        Ok(frame)
    }
}

/// Frames the host produces on demand (a recorded clip, a test sequence, a camera wrapper
/// that blocks until the next frame). The SDK calls it from its analysis thread.
#[uniffi::export(with_foreign)]
pub trait FrameProvider: Send + Sync {
    /// The next frame, waiting for it if needed; `None` at the end of the stream.
    fn next_frame(&self) -> Result<Option<HostFrame>, LivenessError>;
    /// The session ended: release the camera. Called exactly once; an error is ignored.
    fn stop(&self) -> Result<(), LivenessError>;
}

pub(crate) struct ProviderSource {
    pub provider: Arc<dyn FrameProvider>,
    pub stopped: bool,
}

impl liveness_session::FrameSource for ProviderSource {
    fn next_frame(&mut self) -> Result<Option<SourceFrame>, SdkError> {
        let next = catch_unwind(AssertUnwindSafe(|| self.provider.next_frame())).map_err(|p| {
            SdkError::Internal(format!("the frame provider failed: {}", panic_message(&*p)))
        })?;
        match next {
            Ok(Some(f)) => f.into_source_frame().map(Some),
            Ok(None) => Ok(None),
            Err(e) => Err(e.into_sdk()),
        }
    }

    fn stop(&mut self) {
        if !std::mem::replace(&mut self.stopped, true) {
            let _ = catch_unwind(AssertUnwindSafe(|| self.provider.stop()));
        }
    }
}

/// Keeps the device key's 32-byte seed: the Android Keystore-wrapped preferences or the iOS
/// Keychain in the bindings, a file or memory from [`file_key_store`] / [`memory_key_store`].
#[uniffi::export(with_foreign)]
pub trait DeviceKeyStore: Send + Sync {
    fn load(&self) -> Result<Option<Vec<u8>>, LivenessError>;
    fn store(&self, seed: Vec<u8>) -> Result<(), LivenessError>;
}

pub(crate) struct KeyStoreBridge(pub Arc<dyn DeviceKeyStore>);

impl KeyStore for KeyStoreBridge {
    fn load(&self) -> Result<Option<[u8; 32]>, SdkError> {
        let seed = catch_unwind(AssertUnwindSafe(|| self.0.load()))
            .map_err(|p| SdkError::KeyStore(panic_message(&*p)))?
            .map_err(LivenessError::into_sdk)?;
        match seed {
            None => Ok(None),
            Some(s) => <[u8; 32]>::try_from(s.as_slice()).map(Some).map_err(|_| {
                SdkError::KeyStore(format!(
                    "the stored device key has {} bytes, not 32: the store is corrupt",
                    s.len()
                ))
            }),
        }
    }

    fn store(&self, seed: &[u8; 32]) -> Result<(), SdkError> {
        catch_unwind(AssertUnwindSafe(|| self.0.store(seed.to_vec())))
            .map_err(|p| SdkError::KeyStore(panic_message(&*p)))?
            .map_err(LivenessError::into_sdk)
    }
}

struct RustKeyStore<K>(K);

impl<K: KeyStore> DeviceKeyStore for RustKeyStore<K> {
    fn load(&self) -> Result<Option<Vec<u8>>, LivenessError> {
        Ok(self.0.load()?.map(|s| s.to_vec()))
    }

    fn store(&self, seed: Vec<u8>) -> Result<(), LivenessError> {
        let seed = <[u8; 32]>::try_from(seed.as_slice())
            .map_err(|_| LivenessError::invalid_input("a device key seed has 32 bytes"))?;
        Ok(self.0.store(&seed)?)
    }
}

/// A key store in a file readable by its owner only (desktop, tests, QA tools).
#[uniffi::export]
pub fn file_key_store(path: String) -> Arc<dyn DeviceKeyStore> {
    Arc::new(RustKeyStore(liveness_session::FileKeyStore::new(path)))
}

/// A key store that forgets the key when the process ends (one-off sessions, tests).
#[uniffi::export]
pub fn memory_key_store() -> Arc<dyn DeviceKeyStore> {
    Arc::new(RustKeyStore(liveness_session::MemoryKeyStore::default()))
}

/// A platform attestation (Play Integrity, App Attest) in the manifest, for the server to
/// check.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AttestationToken {
    /// `play_integrity`, `app_attest`, …
    pub kind: String,
    pub token: String,
}

#[uniffi::export(with_foreign)]
pub trait AttestationProvider: Send + Sync {
    /// `challenge` is SHA-256(nonce ‖ device public key): put it in the attestation's
    /// request hash / client data. `None` sends no attestation.
    fn attest(&self, challenge: Vec<u8>) -> Result<Option<AttestationToken>, LivenessError>;
}

pub(crate) struct AttestationBridge(pub Arc<dyn AttestationProvider>);

impl liveness_session::AttestationProvider for AttestationBridge {
    fn attest(&self, challenge: &[u8; 32]) -> Result<Option<Attestation>, SdkError> {
        let token = catch_unwind(AssertUnwindSafe(|| self.0.attest(challenge.to_vec())))
            .map_err(|p| SdkError::Internal(format!("attestation: {}", panic_message(&*p))))?
            .map_err(LivenessError::into_sdk)?;
        Ok(token.map(|t| Attestation {
            kind: t.kind,
            token: t.token,
        }))
    }
}
