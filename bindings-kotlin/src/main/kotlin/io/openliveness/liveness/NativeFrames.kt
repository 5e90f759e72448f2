package io.openliveness.liveness

import io.openliveness.liveness.ffi.PushResult
import java.nio.ByteBuffer

/**
 * The zero-copy frame path into `libliveness_ffi` (JNI, the same library JNA loads for the
 * generated bindings). Throws `IllegalArgumentException` for a heap buffer, a buffer too
 * short for its strides or a bad size, and `IllegalStateException` for a sink whose session
 * is gone.
 */
object NativeFrames {
    init {
        System.loadLibrary("liveness_ffi")
    }

    /** Returns 0 accepted, 1 accepted replacing a waiting frame, 2 session ended. */
    @JvmStatic
    external fun pushYuv420(
        sink: Long,
        width: Int,
        height: Int,
        y: ByteBuffer, yRowStride: Int, yPixelStride: Int,
        u: ByteBuffer, uRowStride: Int, uPixelStride: Int,
        v: ByteBuffer, vRowStride: Int, vPixelStride: Int,
        timestampMs: Long,
        rotationDegrees: Int,
        mirrored: Boolean,
    ): Int

    internal fun pushResult(code: Int): PushResult = when (code) {
        0 -> PushResult.ACCEPTED
        1 -> PushResult.REPLACED_OLDER
        else -> PushResult.CLOSED
    }
}
