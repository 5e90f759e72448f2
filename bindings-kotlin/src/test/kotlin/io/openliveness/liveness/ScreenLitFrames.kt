package io.openliveness.liveness

import io.openliveness.liveness.ffi.FrameImage
import io.openliveness.liveness.ffi.FramePlane
import io.openliveness.liveness.ffi.FrameProvider
import io.openliveness.liveness.ffi.HostFrame
import kotlin.math.pow
import kotlin.math.sqrt

/**
 * The phone's screen lighting a recorded face, so the light step can run on the JVM: a test
 * double of the physics the Rust renderer models (a convex face lit from the front answers
 * most in its middle and fades towards its outline; the room behind is too far to answer).
 *
 * It closes the loop the way a host does: before each frame it reads the colour the UI state
 * says to paint ([LivenessUiState.screenColor], folded from the `Screen` events on the SDK's
 * capture thread), lights the face with it, and reports the colour's presentation time with
 * [Liveness.screenPresented] on the first frame that shows it.
 */
class ScreenLitFrames(
    private val inner: Y4mFrameProvider,
    private val liveness: Liveness,
    /** The screen's light over the room's, on the middle of the face. */
    private val strength: Double = 0.15,
) : FrameProvider {
    private var shownIndex: Int? = null
    var coloursShown = 0
        private set

    override fun nextFrame(): HostFrame? {
        val frame = inner.nextFrame() ?: return null
        val state = liveness.state.value
        val argb = state.screenColor ?: return frame.also { shownIndex = null }
        val index = state.screenIndex
        if (index != null && index != shownIndex) {
            shownIndex = index
            coloursShown++
            liveness.screenPresented(index, frame.timestampMs.toLong())
        }
        val screen = doubleArrayOf(
            linear((argb shr 16) and 0xFF),
            linear((argb shr 8) and 0xFF),
            linear(argb and 0xFF),
        )
        return light(frame, screen)
    }

    override fun stop() = inner.stop()

    private fun linear(v: Int) = (v / 255.0).pow(2.2)

    private fun light(frame: HostFrame, screen: DoubleArray): HostFrame {
        val image = frame.image as? FrameImage.Yuv420 ?: return frame
        val w = image.width.toInt()
        val h = image.height.toInt()
        val y = image.y.bytes.copyOf()
        val u = image.u.bytes.copyOf()
        val v = image.v.bytes.copyOf()
        val cw = image.u.rowStride.toInt()
        // The head of `liveness render --for-session`: centred at (0.5, 0.45); its face is
        // ~0.23 of the width from cheek to cheek, the head a little wider (the cheeks' outline
        // sits at ~0.9 of its half-width, where a sphere lit from the front is at ~40 %).
        val cx = 0.5 * w
        val cy = 0.45 * h
        val ax = 0.13 * w
        val ay = 0.17 * w
        for (py in 0 until h) {
            for (px in 0 until w) {
                val dx = (px + 0.5 - cx) / ax
                val dy = (py + 0.5 - cy) / ay
                val r2 = dx * dx + dy * dy
                if (r2 >= 1.0) continue
                // A sphere lit from the viewer's side: Lambert is the normal's z, √(1 − r²).
                val shade = sqrt(1.0 - r2)
                val ci = (py / 2) * cw + px / 2
                val yy = (y[py * w + px].toInt() and 0xFF).toDouble()
                val uu = (u[ci].toInt() and 0xFF) - 128.0
                val vv = (v[ci].toInt() and 0xFF) - 128.0
                val rgb = doubleArrayOf(yy + 1.402 * vv, yy - 0.344 * uu - 0.714 * vv, yy + 1.772 * uu)
                for (c in 0..2) {
                    val lin = (rgb[c].coerceIn(0.0, 255.0) / 255.0).pow(2.2) * (1 + strength * shade * screen[c])
                    rgb[c] = 255.0 * lin.pow(1 / 2.2)
                }
                y[py * w + px] = (0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]).toInt().coerceIn(0, 255).toByte()
                if (px % 2 == 0 && py % 2 == 0) {
                    u[ci] = (128 - 0.169 * rgb[0] - 0.331 * rgb[1] + 0.5 * rgb[2]).toInt().coerceIn(0, 255).toByte()
                    v[ci] = (128 + 0.5 * rgb[0] - 0.419 * rgb[1] - 0.081 * rgb[2]).toInt().coerceIn(0, 255).toByte()
                }
            }
        }
        return frame.copy(
            image = FrameImage.Yuv420(
                image.width,
                image.height,
                FramePlane(y, image.y.rowStride, image.y.pixelStride),
                FramePlane(u, image.u.rowStride, image.u.pixelStride),
                FramePlane(v, image.v.rowStride, image.v.pixelStride),
            ),
        )
    }
}
