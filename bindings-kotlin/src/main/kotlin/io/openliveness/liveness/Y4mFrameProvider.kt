package io.openliveness.liveness

import io.openliveness.liveness.ffi.FrameImage
import io.openliveness.liveness.ffi.FramePlane
import io.openliveness.liveness.ffi.FrameProvider
import io.openliveness.liveness.ffi.HostFrame
import io.openliveness.liveness.ffi.LivenessException
import java.io.BufferedInputStream
import java.io.DataInputStream
import java.io.EOFException
import java.io.File
import java.io.InputStream

/**
 * Plays a recorded `.y4m` clip (YUV4MPEG2, 4:2:0) as a session's frames: QA runs a session
 * on a recording instead of the camera (`liveness render --for-session` makes one).
 *
 * With [paced] the frames come at the clip's frame rate, as a camera would deliver them.
 */
class Y4mFrameProvider(
    private val input: InputStream,
    private val paced: Boolean = false,
    private val mirrored: Boolean = false,
) : FrameProvider, AutoCloseable {
    constructor(file: File, paced: Boolean = false, mirrored: Boolean = false) :
        this(BufferedInputStream(file.inputStream()), paced, mirrored)

    private val data = DataInputStream(input)
    val width: Int
    val height: Int
    val fps: Double
    private var index = 0L
    private var startedAt = 0L

    @Volatile
    var stopped = false
        private set

    init {
        val header = readLine() ?: throw invalid("empty stream")
        val fields = header.split(' ')
        if (fields.first() != "YUV4MPEG2") throw invalid("not a y4m stream")
        var w = 0
        var h = 0
        var rate = 30.0
        for (f in fields.drop(1)) {
            when (f.firstOrNull()) {
                'W' -> w = f.drop(1).toInt()
                'H' -> h = f.drop(1).toInt()
                'F' -> f.drop(1).split(':').let { (n, d) -> rate = n.toDouble() / d.toDouble() }
                'C' -> if (!f.startsWith("C420")) throw invalid("only 4:2:0 is supported, not $f")
            }
        }
        if (w <= 0 || h <= 0) throw invalid("no frame size in the header")
        width = w
        height = h
        fps = rate
    }

    private fun invalid(why: String) = LivenessException.InvalidInput(
        "invalid_input",
        "y4m: $why",
        "Record the clip again as YUV4MPEG2 4:2:0.",
    )

    private fun readLine(): String? {
        val sb = StringBuilder()
        while (true) {
            val b = input.read()
            if (b < 0) return if (sb.isEmpty()) null else sb.toString()
            if (b == '\n'.code) return sb.toString()
            sb.append(b.toChar())
        }
    }

    override fun nextFrame(): HostFrame? {
        if (stopped) return null
        val tag = readLine() ?: return null
        if (!tag.startsWith("FRAME")) throw invalid("expected FRAME, got '$tag'")
        val cw = (width + 1) / 2
        val ch = (height + 1) / 2
        val y = ByteArray(width * height)
        val u = ByteArray(cw * ch)
        val v = ByteArray(cw * ch)
        try {
            data.readFully(y)
            data.readFully(u)
            data.readFully(v)
        } catch (e: EOFException) {
            throw invalid("the last frame is cut short")
        }
        val tMs = (index * 1000.0 / fps).toLong()
        if (paced) {
            if (index == 0L) startedAt = System.nanoTime()
            val wait = tMs - (System.nanoTime() - startedAt) / 1_000_000
            if (wait > 0) Thread.sleep(wait)
        }
        index++
        return HostFrame(
            timestampMs = tMs.toULong(),
            rotationDegrees = 0u,
            mirrored = mirrored,
            image = FrameImage.Yuv420(
                width.toUInt(),
                height.toUInt(),
                FramePlane(y, width.toUInt(), 1u),
                FramePlane(u, cw.toUInt(), 1u),
                FramePlane(v, cw.toUInt(), 1u),
            ),
        )
    }

    override fun stop() {
        stopped = true
        input.close()
    }

    override fun close() = stop()
}
