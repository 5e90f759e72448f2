package io.openliveness.liveness

import io.openliveness.liveness.ffi.DeviceKeyStore
import io.openliveness.liveness.ffi.FrameImage
import io.openliveness.liveness.ffi.FramePlane
import io.openliveness.liveness.ffi.FrameProvider
import io.openliveness.liveness.ffi.HostFrame
import io.openliveness.liveness.ffi.LivenessEvent
import io.openliveness.liveness.ffi.LivenessException
import io.openliveness.liveness.ffi.PackedFormat
import io.openliveness.liveness.ffi.memoryKeyStore
import io.openliveness.liveness.ffi.messageCodes
import java.io.File
import java.net.ServerSocket
import java.nio.file.Files
import java.util.Collections
import java.util.concurrent.atomic.AtomicBoolean
import kotlin.test.assertContains
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertTrue
import kotlinx.coroutines.async
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.runBlocking
import org.junit.AfterClass
import org.junit.Test

/**
 * Every error code the SDK has, provoked for real through the bindings, and checked to arrive
 * as the right `LivenessException` with its code and a recovery hint.
 */
class ErrorsTest {
    companion object {
        private val seen = Collections.synchronizedSet(mutableSetOf<String>())

        /** Runs last: every code of `messageCodes().errors` was provoked by some test here. */
        @JvmStatic
        @AfterClass
        fun everyCodeWasProvoked() {
            assertEquals(messageCodes().errors.toSet(), seen.toSet())
        }
    }

    private inline fun <reified E : LivenessException> expect(code: String, block: () -> Unit): E {
        val e = assertFailsWith<E> { block() }
        assertEquals(code, e.code)
        assertTrue(e.recovery.isNotBlank())
        seen.add(e.code)
        return e
    }

    private fun session(optionsJson: String = """{"action": "Smile"}""") = Backend.createSession(optionsJson)

    /** A provider serving `n` frames of one flat grey picture: no face anywhere. */
    private class Grey(private val n: Int) : FrameProvider {
        var served = 0
        val stopped = AtomicBoolean(false)
        override fun nextFrame(): HostFrame? {
            if (served == n) return null
            served++
            return HostFrame(
                (served * 33).toULong(), 0u, false,
                FrameImage.Packed(PackedFormat.RGB8, 64u, 48u, 64u * 3u, ByteArray(64 * 48 * 3) { 90 }),
            )
        }
        override fun stop() = stopped.set(true)
    }

    private class Failing(private val error: LivenessException) : FrameProvider {
        override fun nextFrame(): HostFrame? = throw error
        override fun stop() {}
    }

    @Test
    fun invalidInputForAMalformedDescriptorAndBadConfig() {
        expect<LivenessException.InvalidInput>("invalid_input") {
            Liveness(Backend.url, "{not json", Backend.config(), memoryKeyStore())
        }
        val created = session()
        expect<LivenessException.InvalidInput>("invalid_input") {
            Liveness(Backend.url, created.replace("\"st_", "\"xx_"), Backend.config(), memoryKeyStore())
        }
        expect<LivenessException.InvalidInput>("invalid_input") {
            Liveness(Backend.url, created, Backend.config().copy(pinnedSpkiSha256 = listOf("abc")), memoryKeyStore())
        }
        // A server URL the upload would refuse is refused now, before the user performs the
        // whole capture: the emulator's host alias over plain http among them.
        val emulator = expect<LivenessException.InvalidInput>("invalid_input") {
            Liveness("http://10.0.2.2:8080", created, Backend.config(), memoryKeyStore())
        }
        assertContains(emulator.detail, "adb reverse")
        expect<LivenessException.InvalidInput>("invalid_input") {
            Liveness("http://localhost.attacker.example", created, Backend.config(), memoryKeyStore())
        }
        // The same session object cannot record twice.
        val liveness = Liveness(Backend.url, created, Backend.config(), memoryKeyStore())
        runBlocking {
            expect<LivenessException.NoEvidence>("no_evidence") { liveness.run(Grey(0)) }
            expect<LivenessException.InvalidInput>("invalid_input") { liveness.run(Grey(3)) }
        }
    }

    @Test
    fun tokenExpiredBeforeAnyFrameIsTaken() {
        val created = session().replace(Regex("\"submission_expires_at\"\\s*:\\s*\\d+"), "\"submission_expires_at\":1000")
        val grey = Grey(100)
        Liveness(Backend.url, created, Backend.config(), memoryKeyStore()).use { liveness ->
            runBlocking { expect<LivenessException.TokenExpired>("token_expired") { liveness.run(grey) } }
            assertEquals(PhaseAndCode(Phase.FAILED, "token_expired"), PhaseAndCode(liveness.state.value.phase, liveness.state.value.errorCode))
        }
        assertEquals(0, grey.served)
        assertTrue(grey.stopped.get())
    }

    private data class PhaseAndCode(val phase: Phase, val code: String?)

    @Test
    fun networkWhenTheServerIsUnreachable() {
        val created = session("""{"action": "HeadLeft"}""")
        val clip = Backend.render(created, "network")
        val closedPort = ServerSocket(0).use { it.localPort }
        val config = Backend.config().copy(uploadAttempts = 2u, httpTimeoutMs = 2000u)
        Liveness("http://127.0.0.1:$closedPort", created, config, memoryKeyStore()).use { liveness ->
            runBlocking { expect<LivenessException.Network>("network") { Y4mFrameProvider(clip).use { liveness.run(it) } } }
        }
    }

    @Test
    fun serverRejectedForAForgedSubmissionToken() {
        val created = session("""{"action": "HeadLeft"}""")
        val clip = Backend.render(created, "rejected")
        val forged = created.replace(Regex("\"submission_token\"\\s*:\\s*\"st_[^\"]*\""), "\"submission_token\":\"st_forged0000000000000000000000\"")
        Liveness(Backend.url, forged, Backend.config(), memoryKeyStore()).use { liveness ->
            val e = runBlocking {
                expect<LivenessException.ServerRejected>("server_rejected") { Y4mFrameProvider(clip).use { liveness.run(it) } }
            }
            assertTrue(e.httpStatus.toInt() in 400..499, e.toString())
            assertTrue(e.serverCode.isNotEmpty())
        }
    }

    @Test
    fun cancelledFromAnotherThread() {
        val created = session()
        Liveness(Backend.url, created, Backend.config(), memoryKeyStore()).use { liveness ->
            val provider = object : FrameProvider {
                val inner = Grey(10_000)
                override fun nextFrame(): HostFrame? {
                    if (inner.served == 5) liveness.cancel()
                    return inner.nextFrame()
                }
                override fun stop() = inner.stop()
            }
            runBlocking { expect<LivenessException.Cancelled>("cancelled") { liveness.run(provider) } }
            assertTrue(provider.inner.stopped.get())
            assertTrue(provider.inner.served < 100)
        }
    }

    @Test
    fun timeoutWhenNoFrameArrives() {
        val config = Backend.config().copy(frameTimeoutMs = 300u)
        Liveness(Backend.url, session(), config, memoryKeyStore()).use { liveness ->
            runBlocking { expect<LivenessException.Timeout>("timeout") { liveness.run() } }
        }
    }

    @Test
    fun modelLoadForAMissingOrCorruptModelFolder() {
        val empty = Files.createTempDirectory(Backend.work.toPath(), "models").toFile()
        expect<LivenessException.ModelLoad>("model_load") {
            Liveness(Backend.url, session(), Backend.config().copy(modelsDir = empty.path), memoryKeyStore())
        }
        // Every expected file present, but garbage: refused by its checksum, not half-loaded.
        val modelsDir = File(System.getenv("LIVENESS_MODELS_DIR") ?: "models")
        modelsDir.listFiles { f -> f.name.endsWith(".onnx") }!!.forEach { File(empty, it.name).writeBytes(ByteArray(1000) { 7 }) }
        File(modelsDir, "manifest.json").copyTo(File(empty, "manifest.json"), overwrite = true)
        expect<LivenessException.ModelLoad>("model_load") {
            Liveness(Backend.url, session(), Backend.config().copy(modelsDir = empty.path), memoryKeyStore())
        }
    }

    @Test
    fun invalidFrameIsRefusedAtThePushAndTheSessionLivesOn() {
        Liveness(Backend.url, session(), Backend.config(), memoryKeyStore()).use { liveness ->
            val e = expect<LivenessException.InvalidFrame>("invalid_frame") {
                liveness.pushFrame(HostFrame(0u, 0u, false, FrameImage.Packed(PackedFormat.BGRA8, 640u, 480u, 2560u, ByteArray(100))))
            }
            assertContains(e.detail, "1228800")
            expect<LivenessException.InvalidFrame>("invalid_frame") {
                liveness.pushFrame(HostFrame(0u, 45u, false, FrameImage.Packed(PackedFormat.RGB8, 2u, 2u, 6u, ByteArray(12))))
            }
            expect<LivenessException.InvalidFrame>("invalid_frame") {
                val p = FramePlane(ByteArray(16), 4u, 1u)
                liveness.pushFrame(HostFrame(0u, 0u, false, FrameImage.Yuv420(4u, 4u, p, FramePlane(ByteArray(1), 2u, 1u), p)))
            }
            // A good frame after bad ones is still accepted.
            liveness.pushFrame(HostFrame(0u, 0u, false, FrameImage.Packed(PackedFormat.RGB8, 2u, 2u, 8u, ByteArray(16))))
        }
    }

    @Test
    fun noEvidenceOnlyWhenTheCameraSendsNothing() {
        Liveness(Backend.url, session(), Backend.config(), memoryKeyStore()).use { liveness ->
            runBlocking { expect<LivenessException.NoEvidence>("no_evidence") { liveness.run(Grey(0)) } }
        }
    }

    @Test
    fun aCaptureThatNeverSawAFaceIsStillJudgedByTheServer() {
        // Every capture that ends gets a verdict: the server says the session is incomplete
        // (no face), it is not an error of the SDK.
        val created = session()
        Liveness(Backend.url, created, Backend.config(), memoryKeyStore()).use { liveness ->
            val result = runBlocking { liveness.run(Grey(20)) }
            assertEquals("done", result.jobStatus, result.toString())
            assertContains(Backend.result(created), "\"status\":\"incompleted\"")
            assertEquals(false, result.localPassed)
            assertEquals("no_face", result.localFailure)
        }
    }

    @Test
    fun keyStoreErrorsAndInternalErrorsFromHostCallbacks() {
        val corrupt = object : DeviceKeyStore {
            override fun load(): ByteArray? = ByteArray(5)
            override fun store(seed: ByteArray) {}
        }
        val e = expect<LivenessException.KeyStore>("key_store") {
            Liveness(Backend.url, session(), Backend.config(), corrupt)
        }
        assertContains(e.detail, "5 bytes")
        val refusing = object : DeviceKeyStore {
            override fun load(): ByteArray? = null
            override fun store(seed: ByteArray) = throw LivenessException.KeyStore("key_store", "keychain locked", "unlock")
        }
        expect<LivenessException.KeyStore>("key_store") { Liveness(Backend.url, session(), Backend.config(), refusing) }
        // A host bug (an exception the SDK does not know) is reported, not a crash.
        val buggy = object : DeviceKeyStore {
            override fun load(): ByteArray? = throw IllegalStateException("host bug")
            override fun store(seed: ByteArray) {}
        }
        expect<LivenessException.Internal>("internal") { Liveness(Backend.url, session(), Backend.config(), buggy) }
    }

    @Test
    fun cameraErrorsRaisedByTheHostTravelThroughTheSession() {
        val events = Collections.synchronizedList(mutableListOf<LivenessEvent>())
        Liveness(Backend.url, session(), Backend.config(), memoryKeyStore()).use { liveness ->
            runBlocking {
                expect<LivenessException.CameraUnavailable>("camera_unavailable") {
                    liveness.run(Failing(LivenessException.CameraUnavailable("camera_unavailable", "no back camera", "use another device")))
                }
            }
            assertEquals("camera_unavailable", liveness.state.value.errorCode)
        }
        Liveness(Backend.url, session(), Backend.config(), memoryKeyStore()).use { liveness ->
            runBlocking {
                expect<LivenessException.PermissionDenied>("permission_denied") {
                    liveness.run(Failing(LivenessException.PermissionDenied("permission_denied", "denied", "settings")))
                }
            }
        }
        assertFalse(events.any { it is LivenessEvent.Submitted })
    }

    @Test
    fun callsAfterCloseDoNothingAndRunSaysCancelled() {
        // Compose disposes effects in its own order: a cancel or a frame may arrive after the
        // view closed the session, and must not throw on whichever thread brings it.
        val liveness = Liveness(Backend.url, session(), Backend.config(), memoryKeyStore())
        liveness.close()
        liveness.close()
        liveness.cancel()
        liveness.endOfFrames()
        liveness.cameraFailed("late")
        liveness.permissionDenied()
        liveness.screenPresented(0, 100)
        val frame = HostFrame(0u, 0u, false, FrameImage.Packed(PackedFormat.RGB8, 4u, 4u, 12u, ByteArray(48)))
        assertEquals(io.openliveness.liveness.ffi.PushResult.CLOSED, liveness.pushFrame(frame))
        runBlocking { expect<LivenessException.Cancelled>("cancelled") { liveness.run() } }
    }

    @Test
    fun aCameraThatFailsToBindEndsAsCameraUnavailableNotNoEvidence() {
        // LivenessView's path: frames are pushed, and CameraX's bindToLifecycle threw.
        val created = session()
        Liveness(Backend.url, created, Backend.config(), memoryKeyStore()).use { liveness ->
            val e = runBlocking {
                expect<LivenessException.CameraUnavailable>("camera_unavailable") {
                    coroutineScope {
                        val run = async { liveness.run() }
                        liveness.cameraFailed("bindToLifecycle: no front camera")
                        run.await()
                    }
                }
            }
            assertContains(e.detail, "no front camera")
            // The server was told at once: the integrator has a verdict with the reason.
            val result = Backend.result(created)
            assertContains(result, "camera_unavailable")
        }
        // The permission screen's Cancel after "Don't ask again".
        val refused = session()
        Liveness(Backend.url, refused, Backend.config(), memoryKeyStore()).use { liveness ->
            liveness.permissionDenied()
            runBlocking { expect<LivenessException.PermissionDenied>("permission_denied") { liveness.run() } }
            assertContains(Backend.result(refused), "camera_unavailable")
        }
    }
}
