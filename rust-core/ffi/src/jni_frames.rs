//! The Android zero-copy frame path: `io.openliveness.liveness.NativeFrames.pushYuv420`
//! reads CameraX's `ImageProxy` planes straight from their direct `ByteBuffer`s (Y, U, V
//! with row and pixel strides). Nothing is copied into the JVM heap and no JNA marshalling
//! runs; the planes are copied once, natively, into the session's one-slot frame mailbox
//! (the `ImageProxy` is closed as soon as the analyzer returns, so the session cannot keep
//! pointing at the camera's memory).
//!
//! Bad input is a Java exception (`IllegalArgumentException` for a heap buffer, a short
//! buffer or bad strides, `IllegalStateException` for a sink that was never issued), never a
//! crash; a panic becomes a `RuntimeException`. A sink whose session was closed answers 2
//! ("closed"), as a live session that has ended does: a late CameraX frame after
//! `Liveness.close()` must not throw on CameraX's executor.

use jni::objects::{JByteBuffer, JClass};
use jni::strings::JNIString;
use jni::sys::{jboolean, jint, jlong};
use jni::{Env, EnvUnowned, jni_str};
use liveness_session::SourceFrame;
use liveness_session::source::{FrameData, StridedPlane};

use crate::sinks;

enum Refusal {
    Argument(String),
    State(String),
}

/// Bytes a plane of `cols` × `rows` samples spans with these strides.
fn span(cols: usize, rows: usize, row_stride: usize, pixel_stride: usize) -> Option<usize> {
    if cols == 0 || rows == 0 {
        return Some(0);
    }
    (rows - 1)
        .checked_mul(row_stride)?
        .checked_add((cols - 1).checked_mul(pixel_stride)?)?
        .checked_add(1)
}

fn plane(
    env: &Env<'_>,
    name: &str,
    buf: &JByteBuffer<'_>,
    cols: usize,
    rows: usize,
    row_stride: jint,
    pixel_stride: jint,
) -> Result<StridedPlane, Refusal> {
    let arg = |m: String| Refusal::Argument(format!("{name} plane: {m}"));
    if buf.is_null() {
        return Err(arg("the buffer is null".into()));
    }
    let (Ok(row_stride), Ok(pixel_stride)) =
        (usize::try_from(row_stride), usize::try_from(pixel_stride))
    else {
        return Err(arg("strides must not be negative".into()));
    };
    if pixel_stride == 0 || row_stride < cols.saturating_sub(1) * pixel_stride + 1 {
        return Err(arg(format!(
            "row stride {row_stride} and pixel stride {pixel_stride} do not fit {cols} samples a row"
        )));
    }
    let address = env.get_direct_buffer_address(buf).map_err(|_| {
        arg("not a direct ByteBuffer (ByteBuffer.allocateDirect, or CameraX's planes)".into())
    })?;
    let capacity = env
        .get_direct_buffer_capacity(buf)
        .map_err(|_| arg("not a direct ByteBuffer".into()))?;
    if address.is_null() {
        return Err(arg("not a direct ByteBuffer".into()));
    }
    let need = span(cols, rows, row_stride, pixel_stride)
        .ok_or_else(|| arg("the strides overflow".into()))?;
    if capacity < need {
        return Err(arg(format!(
            "{capacity} bytes, but {cols}×{rows} samples with these strides need {need}"
        )));
    }
    // SAFETY: `address` is the start of a direct buffer of `capacity` bytes (JNI
    // GetDirectBufferAddress/Capacity), `need <= capacity`, and `buf` is a local reference
    // held by the caller for the whole native call, so the memory stays valid while we copy.
    let bytes = unsafe { std::slice::from_raw_parts(address, need) }.to_vec();
    Ok(StridedPlane {
        bytes,
        row_stride,
        pixel_stride,
    })
}

#[allow(clippy::too_many_arguments)]
fn push_yuv420(
    env: &Env<'_>,
    sink: jlong,
    width: jint,
    height: jint,
    planes: [(&JByteBuffer<'_>, jint, jint); 3],
    timestamp_ms: jlong,
    rotation_degrees: jint,
    mirrored: jboolean,
) -> Result<jint, Refusal> {
    let pusher = match u64::try_from(sink).map(sinks::lookup) {
        Ok(sinks::Sink::Live(pusher)) => pusher,
        Ok(sinks::Sink::Gone) => return Ok(2),
        Ok(sinks::Sink::Unknown) | Err(_) => {
            return Err(Refusal::State(format!(
                "frame sink {sink} was never issued"
            )));
        }
    };
    let (Ok(w), Ok(h)) = (u32::try_from(width), u32::try_from(height)) else {
        return Err(Refusal::Argument(format!("bad size {width}×{height}")));
    };
    if w == 0 || h == 0 || w > liveness_frame::MAX_SIDE || h > liveness_frame::MAX_SIDE {
        return Err(Refusal::Argument(format!("bad size {width}×{height}")));
    }
    let (cw, ch) = ((w as usize).div_ceil(2), (h as usize).div_ceil(2));
    let [y, u, v] = planes;
    let y = plane(env, "Y", y.0, w as usize, h as usize, y.1, y.2)?;
    let u = plane(env, "U", u.0, cw, ch, u.1, u.2)?;
    let v = plane(env, "V", v.0, cw, ch, v.1, v.2)?;
    let rotation = liveness_frame::Rotation::from_degrees(rotation_degrees)
        .map_err(|e| Refusal::Argument(e.to_string()))?;
    let frame = SourceFrame {
        t_ms: u64::try_from(timestamp_ms).unwrap_or(0),
        data: FrameData::Yuv420 {
            width: w,
            height: h,
            y,
            u,
            v,
            // CameraX's YUV_420_888 is full range (JFIF), as Android's camera HAL delivers it.
            range: liveness_frame::YuvRange::Full,
        },
        rotation,
        mirrored,
    };
    frame
        .frame()
        .map_err(|e| Refusal::Argument(e.to_string()))?;
    Ok(match pusher.push(frame) {
        liveness_session::PushOutcome::Accepted => 0,
        liveness_session::PushOutcome::ReplacedOlder => 1,
        liveness_session::PushOutcome::Closed => 2,
    })
}

/// `NativeFrames.pushYuv420(sink, width, height, y, yRowStride, yPixelStride, u, …, v, …,
/// timestampMs, rotationDegrees, mirrored): Int` — 0 accepted, 1 accepted replacing a
/// waiting frame, 2 the session has ended (stop the camera).
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub extern "system" fn Java_io_openliveness_liveness_NativeFrames_pushYuv420<'local>(
    mut unowned_env: EnvUnowned<'local>,
    _class: JClass<'local>,
    sink: jlong,
    width: jint,
    height: jint,
    y: JByteBuffer<'local>,
    y_row_stride: jint,
    y_pixel_stride: jint,
    u: JByteBuffer<'local>,
    u_row_stride: jint,
    u_pixel_stride: jint,
    v: JByteBuffer<'local>,
    v_row_stride: jint,
    v_pixel_stride: jint,
    timestamp_ms: jlong,
    rotation_degrees: jint,
    mirrored: jboolean,
) -> jint {
    unowned_env
        .with_env(|env| -> jni::errors::Result<jint> {
            let pushed = push_yuv420(
                env,
                sink,
                width,
                height,
                [
                    (&y, y_row_stride, y_pixel_stride),
                    (&u, u_row_stride, u_pixel_stride),
                    (&v, v_row_stride, v_pixel_stride),
                ],
                timestamp_ms,
                rotation_degrees,
                mirrored,
            );
            match pushed {
                Ok(outcome) => Ok(outcome),
                Err(Refusal::Argument(m)) => {
                    let _ = env.throw_new(
                        jni_str!("java/lang/IllegalArgumentException"),
                        JNIString::new(m),
                    );
                    Ok(-1)
                }
                Err(Refusal::State(m)) => {
                    let _ = env.throw_new(
                        jni_str!("java/lang/IllegalStateException"),
                        JNIString::new(m),
                    );
                    Ok(-1)
                }
            }
        })
        .resolve::<jni::errors::ThrowRuntimeExAndDefault>()
}

#[cfg(test)]
mod tests {
    use super::span;

    #[test]
    fn plane_span_counts_the_short_last_row() {
        // CameraX's last chroma row stops at the last sample, not at the row stride.
        assert_eq!(span(320, 240, 640, 2), Some(239 * 640 + 319 * 2 + 1));
        assert_eq!(span(640, 480, 640, 1), Some(640 * 480));
        assert_eq!(span(0, 10, 10, 1), Some(0));
        assert_eq!(span(usize::MAX, 2, usize::MAX, 2), None);
    }
}
