package io.openliveness.liveness.android

import androidx.camera.core.ImageAnalysis
import androidx.camera.core.ImageProxy
import io.openliveness.liveness.Liveness
import io.openliveness.liveness.ffi.PushResult

/**
 * Feeds CameraX frames to a [Liveness] session through the zero-copy path: the three
 * `YUV_420_888` planes are read from CameraX's direct buffers by native code, with their row
 * and pixel strides, and the `ImageProxy` is closed as soon as the call returns.
 *
 * Use with `ImageAnalysis.Builder().setOutputImageFormat(OUTPUT_IMAGE_FORMAT_YUV_420_888)`
 * and `STRATEGY_KEEP_ONLY_LATEST` (the session keeps only the newest frame too).
 * [onSessionEnded] runs once when the session stops taking frames: unbind the camera there.
 *
 * [mirrored] says what the pixels are, not what the preview shows: `ImageAnalysis` hands out
 * the sensor's image unmirrored for the front camera too (only `PreviewView` mirrors what it
 * draws), so the default is `false`, as the iOS adapter's is. Evidence images then come out
 * the same way round on both platforms.
 */
class CameraXFrameAnalyzer(
    private val liveness: Liveness,
    private val mirrored: Boolean = false,
    private val onSessionEnded: () -> Unit = {},
) : ImageAnalysis.Analyzer {
    @Volatile
    private var ended = false

    override fun analyze(image: ImageProxy) {
        image.use {
            if (ended) return
            val planes = it.planes
            if (planes.size < 3) return // not YUV_420_888: the builder was misconfigured
            val (y, u, v) = Triple(planes[0], planes[1], planes[2])
            val result = liveness.pushYuv420(
                it.width,
                it.height,
                y.buffer, y.rowStride, y.pixelStride,
                u.buffer, u.rowStride, u.pixelStride,
                v.buffer, v.rowStride, v.pixelStride,
                it.imageInfo.timestamp / 1_000_000,
                it.imageInfo.rotationDegrees,
                mirrored,
            )
            if (result == PushResult.CLOSED && !ended) {
                ended = true
                onSessionEnded()
            }
        }
    }
}
