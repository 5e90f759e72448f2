package io.openliveness.liveness

import io.openliveness.liveness.ffi.AttestationProvider
import io.openliveness.liveness.ffi.DeviceKeyStore
import io.openliveness.liveness.ffi.FrameProvider
import io.openliveness.liveness.ffi.HostFrame
import io.openliveness.liveness.ffi.LivenessConfig
import io.openliveness.liveness.ffi.LivenessEvent
import io.openliveness.liveness.ffi.LivenessException
import io.openliveness.liveness.ffi.LivenessObserver
import io.openliveness.liveness.ffi.LivenessResult
import io.openliveness.liveness.ffi.LivenessSession
import io.openliveness.liveness.ffi.PushResult
import io.openliveness.liveness.ffi.SessionInfo
import java.nio.ByteBuffer
import java.util.concurrent.atomic.AtomicBoolean
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
 *
 * [close] releases the native session (the observer registered with it keeps this object
 * alive until then). Once closed, the control calls ([cancel], [endOfFrames], [cameraFailed],
 * [screenPresented], …) do nothing and [run] throws `Cancelled`: a UI torn down in any order
 * cannot crash on a call that arrives late.
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
    private val closed = AtomicBoolean(false)

    /** Runs [block] unless closed; a close racing the call is not the caller's error. */
    private inline fun ifOpen(block: () -> Unit) {
        if (closed.get()) return
        try {
            block()
        } catch (e: IllegalStateException) {
            // uniffi's "already destroyed": close() won the race.
            if (!closed.get()) throw e
        }
    }

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
    suspend fun run(provider: FrameProvider? = null): LivenessResult {
        if (closed.get()) throw closedError()
        return try {
            session.run(provider)
        } catch (e: CancellationException) {
            cancel()
            throw e
        } catch (e: IllegalStateException) {
            if (closed.get()) throw closedError() else throw e
        }
    }

    private fun closedError() = LivenessException.Cancelled(
        "cancelled",
        "the session was closed",
        "Start a new session when the user is ready.",
    )

    /** A frame by copy; a malformed one throws `LivenessException.InvalidFrame`. */
    fun pushFrame(frame: HostFrame): PushResult {
        if (closed.get()) return PushResult.CLOSED
        return try {
            session.pushFrame(frame)
        } catch (e: IllegalStateException) {
            if (closed.get()) PushResult.CLOSED else throw e
        }
    }

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
        ifOpen { session.screenPresented(index.toUByte(), timestampMs.toULong()) }

    /** The camera stopped: the session sees the end of the frames. */
    fun endOfFrames() = ifOpen { session.endOfFrames() }

    /**
     * The camera could not be started (CameraX's `bindToLifecycle` threw, no front camera, the
     * camera is in use): [run] throws `LivenessException.CameraUnavailable` with [detail] and
     * the server is told `camera_unavailable`.
     */
    fun cameraFailed(detail: String) = ifOpen { session.cameraFailed(detail) }

    /**
     * The user refused the camera: [run] throws `LivenessException.PermissionDenied` at once
     * and the server is told, so the integrator has its verdict now.
     */
    fun permissionDenied() = ifOpen { session.cameraPermissionDenied() }

    /** Stops the session from any thread; [run] throws `LivenessException.Cancelled`. */
    fun cancel() = ifOpen { session.cancel() }

    /** Cancels the session and frees it. Safe to call more than once, from any thread. */
    override fun close() {
        if (!closed.compareAndSet(false, true)) return
        runCatching { session.cancel() }
        session.close()
    }
}
