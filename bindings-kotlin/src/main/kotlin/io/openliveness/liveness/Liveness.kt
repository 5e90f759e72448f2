package io.openliveness.liveness

import io.openliveness.liveness.ffi.AttestationProvider
import io.openliveness.liveness.ffi.DeviceKeyStore
import io.openliveness.liveness.ffi.FrameProvider
import io.openliveness.liveness.ffi.HostFrame
import io.openliveness.liveness.ffi.LivenessConfig
import io.openliveness.liveness.ffi.LivenessEvent
import io.openliveness.liveness.ffi.LivenessObserver
import io.openliveness.liveness.ffi.LivenessResult
import io.openliveness.liveness.ffi.LivenessSession
import io.openliveness.liveness.ffi.PushResult
import io.openliveness.liveness.ffi.SessionInfo
import java.nio.ByteBuffer
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.channels.BufferOverflow
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.MutableSharedFlow
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.SharedFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asSharedFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update

/**
 * One liveness session, the Kotlin way: `events` and `state` as flows, `run()` as a suspend
 * function that throws [io.openliveness.liveness.ffi.LivenessException] (with a stable `code`
 * and a `recovery` hint) and is cancelled with its coroutine.
 *
 * `sessionJson` is what the app's backend got from `POST /v1/sessions` (the backend keeps the
 * result token; the SDK ignores it if present). Frames arrive by [pushYuv420] (zero-copy, for
 * CameraX: see `android.CameraXFrameAnalyzer`), by [pushFrame] (a copy), or from a
 * [FrameProvider] passed to [run].
 *
 * Collect [events] before calling [run]: it is a hot flow and does not replay.
 */
class Liveness(
    serverUrl: String,
    sessionJson: String,
    config: LivenessConfig,
    keyStore: DeviceKeyStore,
    attestation: AttestationProvider? = null,
) : AutoCloseable {
    private val eventFlow = MutableSharedFlow<LivenessEvent>(
        extraBufferCapacity = 1024,
        onBufferOverflow = BufferOverflow.DROP_OLDEST,
    )
    private val stateFlow = MutableStateFlow(LivenessUiState.INITIAL)

    // Called on the SDK's threads; both flows are thread-safe.
    private val observer = object : LivenessObserver {
        override fun onEvent(event: LivenessEvent) {
            stateFlow.update { it.reduce(event) }
            eventFlow.tryEmit(event)
        }
    }

    private val session = LivenessSession(serverUrl, sessionJson, config, keyStore, observer, attestation)

    /** Every event of the session, from guidance to the server's answer. */
    val events: SharedFlow<LivenessEvent> = eventFlow.asSharedFlow()

    /** What a UI shows now (prompt, guidance, progress), folded from [events]. */
    val state: StateFlow<LivenessUiState> = stateFlow.asStateFlow()

    val info: SessionInfo = session.info()

    init {
        stateFlow.value = LivenessUiState.INITIAL.copy(challenges = info.challenges)
    }

    /** The handle the zero-copy path takes; valid until [close]. Read once: each uniffi
     *  call through JNA costs allocations, which the per-frame path must not pay. */
    val frameSink: Long = session.frameSink().toLong()

    /**
     * Runs the session to the server's answer. Cancelling the calling coroutine cancels the
     * session: the camera is released and nothing is uploaded.
     */
    suspend fun run(provider: FrameProvider? = null): LivenessResult =
        try {
            session.run(provider)
        } catch (e: CancellationException) {
            session.cancel()
            throw e
        }

    /** A frame by copy; a malformed one throws `LivenessException.InvalidFrame`. */
    fun pushFrame(frame: HostFrame): PushResult = session.pushFrame(frame)

    /**
     * A YUV 4:2:0 frame read straight from direct buffers (CameraX `ImageProxy` planes):
     * nothing is copied into the Java heap. Buffers are read from index 0.
     */
    fun pushYuv420(
        width: Int,
        height: Int,
        y: ByteBuffer, yRowStride: Int, yPixelStride: Int,
        u: ByteBuffer, uRowStride: Int, uPixelStride: Int,
        v: ByteBuffer, vRowStride: Int, vPixelStride: Int,
        timestampMs: Long,
        rotationDegrees: Int,
        mirrored: Boolean,
    ): PushResult = NativeFrames.pushResult(
        NativeFrames.pushYuv420(
            frameSink, width, height,
            y, yRowStride, yPixelStride,
            u, uRowStride, uPixelStride,
            v, vRowStride, vPixelStride,
            timestampMs, rotationDegrees, mirrored,
        ),
    )

    /**
     * The light step: colour [index] of a `Screen` event is on the glass since [timestampMs],
     * in the frames' clock (what [pushYuv420] is given: CameraX's sensor timestamps).
     */
    fun screenPresented(index: Int, timestampMs: Long) =
        session.screenPresented(index.toUByte(), timestampMs.toULong())

    /** The camera stopped: the session sees the end of the frames. */
    fun endOfFrames() = session.endOfFrames()

    /** Stops the session from any thread; [run] throws `LivenessException.Cancelled`. */
    fun cancel() = session.cancel()

    override fun close() {
        session.cancel()
        session.close()
    }
}
