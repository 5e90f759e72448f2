package io.openliveness.liveness

import io.openliveness.liveness.ffi.FrameImage
import io.openliveness.liveness.ffi.FrameProvider
import io.openliveness.liveness.ffi.HostFrame
import io.openliveness.liveness.ffi.LivenessEvent
import io.openliveness.liveness.ffi.LivenessObserver
import io.openliveness.liveness.ffi.LivenessSession
import io.openliveness.liveness.ffi.PushResult
import io.openliveness.liveness.ffi.memoryKeyStore
import java.io.File
import java.nio.ByteBuffer
import java.util.Collections
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicBoolean
import java.util.concurrent.atomic.AtomicInteger
import kotlin.concurrent.thread
import kotlin.test.assertContains
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNotEquals
import kotlin.test.assertTrue
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.Test

/** Whole sessions through the generated bindings and the hand-written layer, on a real server. */
class SessionTest {
    private fun isJpeg(b: ByteArray) = b.size > 2 && b[0] == 0xFF.toByte() && b[1] == 0xD8.toByte()

    @Test
    fun genuineSessionThroughTheCoroutineApiAndFlows() = runBlocking {
        val created = Backend.createSession("""{"available_actions": ["HeadRight", "BlinkEyes", "Smile"], "challenge_count": 2}""")
        val clip = Backend.render(created, "genuine")
        Liveness(Backend.url, created, Backend.config(), memoryKeyStore()).use { liveness ->
            assertEquals(2, liveness.info.challenges.size)
            assertEquals(2, liveness.state.value.challenges.size)
            val events = Collections.synchronizedList(mutableListOf<LivenessEvent>())
            val collector = launch(Dispatchers.Default, start = CoroutineStart.UNDISPATCHED) {
                liveness.events.collect { events.add(it) }
            }
            // The light step runs first: the provider stands in for the phone's screen lighting
            // the face, reading what the UI state says to paint.
            val frames = ScreenLitFrames(Y4mFrameProvider(clip, mirrored = true), liveness)
            val result = liveness.run(frames)
            frames.stop()
            assertEquals(6, frames.coloursShown, "six colours were painted and reported")
            // Events come from the SDK's threads into the flow's buffer; the last one may still
            // be on its way to this collector when run() returns.
            withTimeout(5_000) { while (events.none { it is LivenessEvent.Finished }) delay(10) }
            collector.cancelAndJoin()

            // The device learns that its evidence was judged, never how (the backend reads that).
            assertEquals("done", result.jobStatus, result.toString())
            assertTrue(result.localPassed, "${result.localFailure}: ${Backend.result(created)}")
            assertTrue(result.images.isNotEmpty() && result.images.all(::isJpeg))
            assertEquals(result.evidenceBytes.toLong(), result.images.sumOf { it.size.toLong() })
            val verdict = Backend.result(created)
            assertContains(verdict, "\"live\":true", message = verdict)
            assertContains(verdict, "\"check\":\"light_reflection\",\"passed\":true", message = verdict)

            val kinds = events.map { it::class.simpleName }
            for (k in listOf("Prompt", "Screen", "Progress", "ChallengeStarted", "ChallengeFinished", "Captured", "LocalOutcome", "Submitted", "Finished")) {
                assertContains(kinds, k)
            }
            // Order: the local outcome comes before the upload, the server's answer last.
            assertTrue(kinds.indexOf("LocalOutcome") < kinds.indexOf("Submitted"))
            assertEquals("Finished", kinds.last())
            val state = liveness.state.value
            assertEquals(Phase.FINISHED, state.phase)
            assertEquals("done", state.jobStatus)
            assertEquals(true, state.localPassed)
            assertEquals(null, state.screenColor, "the normal view is back")
        }
    }

    @Test
    fun aRecordingThatCannotReflectTheScreenIsNotLiveAndSaysWhy() = runBlocking {
        val created = Backend.createSession("""{"action": "Smile"}""")
        val clip = Backend.render(created, "unlit")
        Liveness(Backend.url, created, Backend.config(), memoryKeyStore()).use { liveness ->
            val screens = Collections.synchronizedList(mutableListOf<LivenessEvent.Screen>())
            val collector = launch(Dispatchers.Default, start = CoroutineStart.UNDISPATCHED) {
                liveness.events.collect { if (it is LivenessEvent.Screen) screens.add(it) }
            }
            val result = Y4mFrameProvider(clip).use { liveness.run(it) }
            collector.cancelAndJoin()
            assertEquals(false, result.localPassed)
            assertEquals("light_no_reflection", result.localFailure)
            // A first run of six colours, the guidance, and a second run the clip cuts short.
            val painted = screens.count { it.index != null }
            assertTrue(painted > 6, "$screens")
            assertEquals(null, liveness.state.value.screenColor)
            val verdict = Backend.result(created)
            assertContains(verdict, "\"live\":false")
            assertContains(verdict, "light_not_seen")
        }
    }

    @Test
    fun recordThenSubmitTwiceIsOneJob() = runBlocking {
        val created = Backend.createSession("""{"action": "Smile", "light_challenge": false}""")
        val clip = Backend.render(created, "record")
        val session = LivenessSession(Backend.url, created, Backend.config(), memoryKeyStore(), object : LivenessObserver {
            override fun onEvent(event: LivenessEvent) {}
        }, null)
        val evidence = Y4mFrameProvider(clip).use { session.record(it) }
        assertTrue(evidence.localPassed(), evidence.localFailure() ?: "")
        assertTrue(evidence.images().all(::isJpeg))
        // Nothing was sent yet: the backend sees a session waiting for its submission.
        assertContains(Backend.sessionStatus(created), "\"status\":\"created\"")
        val first = session.submit(evidence)
        // The same evidence again (as after a lost answer) is the same job, not a new one.
        val again = session.submit(evidence)
        assertEquals(first.jobId, again.jobId)
        assertEquals("done", again.jobStatus)
        // Evidence belongs to its session: another session refuses it before any upload.
        val other = LivenessSession(Backend.url, Backend.createSession("""{"action": "Smile"}"""), Backend.config(), memoryKeyStore(), object : LivenessObserver {
            override fun onEvent(event: LivenessEvent) {}
        }, null)
        assertFailsWith<io.openliveness.liveness.ffi.LivenessException.InvalidInput> { other.submit(evidence) }
        other.close()
        session.close()
    }

    @Test
    fun zeroCopyJniPathFeedsAWholeSession() = runBlocking {
        val created = Backend.createSession("""{"action": "HeadLeft", "light_challenge": false}""")
        val clip = Backend.render(created, "jni")
        Liveness(Backend.url, created, Backend.config(), memoryKeyStore()).use { liveness ->
            val running = async(Dispatchers.Default) { liveness.run() }
            val outcomes = pushAsCameraX(liveness, clip)
            val result = running.await()
            assertEquals("done", result.jobStatus, result.toString())
            assertTrue(result.localPassed, result.localFailure ?: "")
            assertContains(Backend.result(created), "\"live\":true")
            assertTrue(outcomes.getValue(PushResult.ACCEPTED) + outcomes.getValue(PushResult.REPLACED_OLDER) > 10)
            // The session ended: the sink says so and the camera would stop.
            val plane = ByteBuffer.allocateDirect(4 * 4)
            val chroma = ByteBuffer.allocateDirect(2 * 2)
            assertEquals(
                PushResult.CLOSED,
                liveness.pushYuv420(4, 4, plane, 4, 1, chroma, 2, 1, chroma, 2, 1, 0, 0, false),
            )
        }
    }

    /**
     * What `CameraXFrameAnalyzer` does with an `ImageProxy`: Y in one direct buffer, U and V
     * as views of one interleaved VU buffer (pixel stride 2), the camera's timestamps, paced
     * like a 30 fps camera. The clip's planes are copied into direct buffers first, standing
     * in for the camera's memory.
     */
    private fun pushAsCameraX(liveness: Liveness, clip: File): Map<PushResult, Int> {
        val counts = PushResult.entries.associateWith { AtomicInteger() }
        // Frames come at the clip's rate (30 fps) while the SDK keeps up; when it does not
        // (a loaded machine: a frame replaced before it was analysed), this camera slows
        // down instead of dropping most of the performance. The timestamps stay the clip's,
        // so the engine sees the same timeline either way; what is tested is the JNI path,
        // not this machine's speed (that is `scripts/bench.sh`).
        val interval = 1000L / 30
        var pause = interval
        Y4mFrameProvider(clip, paced = false).use { frames ->
            while (true) {
                val frame = frames.nextFrame() ?: break
                val img = frame.image as FrameImage.Yuv420
                val w = img.width.toInt()
                val h = img.height.toInt()
                val cw = (w + 1) / 2
                val y = ByteBuffer.allocateDirect(img.y.bytes.size).put(img.y.bytes).flip() as ByteBuffer
                // NV21: V then U, interleaved; the U view starts one byte in.
                val vu = ByteBuffer.allocateDirect(img.u.bytes.size * 2)
                for (i in img.u.bytes.indices) {
                    vu.put(img.v.bytes[i]).put(img.u.bytes[i])
                }
                vu.flip()
                val v = vu.duplicate()
                val u = (vu.duplicate().position(1) as ByteBuffer).slice()
                val r = liveness.pushYuv420(
                    w, h, y, w, 1, u, cw * 2, 2, v, cw * 2, 2,
                    frame.timestampMs.toLong(), 0, true,
                )
                counts.getValue(r).incrementAndGet()
                if (r == PushResult.CLOSED) break
                pause = if (r == PushResult.REPLACED_OLDER) minOf(pause * 2, 400L) else maxOf(interval, pause * 9 / 10)
                Thread.sleep(pause)
            }
        }
        liveness.endOfFrames()
        return counts.mapValues { it.value.get() }
    }

    /**
     * The point of the JNI path: a 1280×720 frame goes in without the frame being copied into
     * the Java heap (HotSpot counts every byte a thread allocates), while the portable path
     * needs the camera's planes as ByteArrays first (what an app has to do with CameraX's
     * direct buffers), which uniffi then copies again into native memory.
     */
    @Test
    fun zeroCopyPathAllocatesNoFrameOnTheJavaHeap() {
        val created = Backend.createSession("""{"action": "Smile"}""")
        Liveness(Backend.url, created, Backend.config(), memoryKeyStore()).use { liveness ->
            val (w, h) = 1280 to 720
            val y = ByteBuffer.allocateDirect(w * h)
            val vu = ByteBuffer.allocateDirect(w * h / 2)
            val u = (vu.duplicate().position(1) as ByteBuffer).slice()
            val mx = java.lang.management.ManagementFactory.getThreadMXBean() as com.sun.management.ThreadMXBean
            val me = Thread.currentThread().id
            fun jni(i: Int) = liveness.pushYuv420(w, h, y, w, 1, u, w, 2, vu, w, 2, i.toLong(), 0, false)
            repeat(20) { jni(it) } // warm up (class loading, JIT)
            val before = mx.getThreadAllocatedBytes(me)
            val start = System.nanoTime()
            repeat(100) { jni(it) }
            val jniNs = (System.nanoTime() - start) / 100
            val perJniPush = (mx.getThreadAllocatedBytes(me) - before) / 100

            fun heap(b: ByteBuffer) = ByteArray(b.capacity()).also { b.duplicate().rewind().get(it) }
            fun copy(i: Int) = liveness.pushFrame(
                HostFrame(
                    i.toULong(), 0u, false,
                    FrameImage.Yuv420(
                        w.toUInt(), h.toUInt(),
                        io.openliveness.liveness.ffi.FramePlane(heap(y), w.toUInt(), 1u),
                        io.openliveness.liveness.ffi.FramePlane(heap(u), w.toUInt(), 2u),
                        io.openliveness.liveness.ffi.FramePlane(heap(vu), w.toUInt(), 2u),
                    ),
                ),
            )
            repeat(5) { copy(it) }
            val before2 = mx.getThreadAllocatedBytes(me)
            val start2 = System.nanoTime()
            repeat(20) { copy(it) }
            val copyNs = (System.nanoTime() - start2) / 20
            val perCopyPush = (mx.getThreadAllocatedBytes(me) - before2) / 20
            println("1280x720 push: JNI ${jniNs / 1000} µs and $perJniPush heap bytes a frame; copy path ${copyNs / 1000} µs and $perCopyPush heap bytes")
            assertTrue(perJniPush < 4096, "the JNI path allocated $perJniPush bytes a frame")
            assertTrue(perCopyPush > w * h, "the copy path allocated only $perCopyPush bytes a frame")
        }
    }

    @Test
    fun jniPathRefusesBadBuffersWithJavaExceptions() {
        val created = Backend.createSession("""{"action": "Smile"}""")
        val liveness = Liveness(Backend.url, created, Backend.config(), memoryKeyStore())
        val y = ByteBuffer.allocateDirect(64 * 48)
        val c = ByteBuffer.allocateDirect(32 * 24)
        assertEquals(PushResult.ACCEPTED, liveness.pushYuv420(64, 48, y, 64, 1, c, 32, 1, c, 32, 1, 0, 0, false))
        assertEquals(PushResult.REPLACED_OLDER, liveness.pushYuv420(64, 48, y, 64, 1, c, 32, 1, c, 32, 1, 33, 90, false))
        val heap = assertFailsWith<IllegalArgumentException> {
            liveness.pushYuv420(64, 48, ByteBuffer.allocate(64 * 48), 64, 1, c, 32, 1, c, 32, 1, 0, 0, false)
        }
        assertContains(heap.message!!, "direct")
        val short = assertFailsWith<IllegalArgumentException> {
            liveness.pushYuv420(64, 48, ByteBuffer.allocateDirect(100), 64, 1, c, 32, 1, c, 32, 1, 0, 0, false)
        }
        assertContains(short.message!!, "need")
        assertFailsWith<IllegalArgumentException> {
            liveness.pushYuv420(64, 48, y, 10, 1, c, 32, 1, c, 32, 1, 0, 0, false)
        }
        assertFailsWith<IllegalArgumentException> {
            liveness.pushYuv420(64, 48, y, 64, 1, c, 32, 1, c, 32, 1, 0, 45, false)
        }
        assertFailsWith<IllegalArgumentException> {
            liveness.pushYuv420(-1, 48, y, 64, 1, c, 32, 1, c, 32, 1, 0, 0, false)
        }
        val sink = liveness.frameSink
        liveness.close()
        // A late CameraX frame after close(): "closed", not an exception on CameraX's thread.
        assertEquals(PushResult.CLOSED, liveness.pushYuv420(64, 48, y, 64, 1, c, 32, 1, c, 32, 1, 66, 0, false))
        assertEquals(2, NativeFrames.pushYuv420(sink, 64, 48, y, 64, 1, c, 32, 1, c, 32, 1, 0, 0, false))
        // A handle that was never issued is the app's bug: refused.
        assertFailsWith<IllegalStateException> {
            NativeFrames.pushYuv420(987654321L, 64, 48, y, 64, 1, c, 32, 1, c, 32, 1, 0, 0, false)
        }
        assertFailsWith<IllegalStateException> {
            NativeFrames.pushYuv420(-5L, 64, 48, y, 64, 1, c, 32, 1, c, 32, 1, 0, 0, false)
        }
    }

    @Test
    fun callbacksArriveOnSdkThreadsAndAThrowingObserverDoesNotStopTheSession() {
        val created = Backend.createSession("""{"action": "BlinkEyes", "light_challenge": false}""")
        val clip = Backend.render(created, "threads")
        val threads = Collections.synchronizedSet(mutableSetOf<String>())
        val calls = AtomicInteger()
        val inCallback = AtomicInteger()
        val overlapped = AtomicBoolean(false)
        val observer = object : LivenessObserver {
            override fun onEvent(event: LivenessEvent) {
                if (inCallback.incrementAndGet() > 1) overlapped.set(true)
                threads.add(Thread.currentThread().name)
                calls.incrementAndGet()
                inCallback.decrementAndGet()
                // The host's bug must not become the SDK's crash.
                throw IllegalStateException("observer failure ${calls.get()}")
            }
        }
        val session = LivenessSession(Backend.url, created, Backend.config(), memoryKeyStore(), observer, null)
        val caller = Thread.currentThread().name
        val result = runBlocking { Y4mFrameProvider(clip).use { session.run(it) } }
        session.close()
        assertEquals("done", result.jobStatus)
        assertTrue(calls.get() > 10)
        assertTrue(caller !in threads, "callbacks came on the caller's thread: $threads")
        // Capture runs on a blocking thread, upload and polling on the SDK's runtime.
        assertTrue(threads.size >= 2, "$threads")
        assertTrue(!overlapped.get() || threads.size > 1)
    }

    @Test
    fun manyThreadsPushingAndCancellingAtOnceIsSafe() {
        val created = Backend.createSession("""{"action": "Smile"}""")
        val session = LivenessSession(Backend.url, created, Backend.config(), memoryKeyStore(), object : LivenessObserver {
            override fun onEvent(event: LivenessEvent) {}
        }, null)
        val start = CountDownLatch(1)
        val y = ByteBuffer.allocateDirect(64 * 48)
        val c = ByteBuffer.allocateDirect(32 * 24)
        val outcomes = Collections.synchronizedList(mutableListOf<Int>())
        val pushers = (1..4).map {
            thread {
                start.await()
                repeat(200) { i ->
                    outcomes.add(NativeFrames.pushYuv420(session.frameSink().toLong(), 64, 48, y, 64, 1, c, 32, 1, c, 32, 1, i.toLong(), 0, false))
                }
            }
        }
        val canceller = thread {
            start.await()
            Thread.sleep(5)
            session.cancel()
        }
        start.countDown()
        (pushers + canceller).forEach { it.join(10_000) }
        assertEquals(800, outcomes.size)
        assertTrue(outcomes.all { it in 0..2 })
        assertEquals(2, NativeFrames.pushYuv420(session.frameSink().toLong(), 64, 48, y, 64, 1, c, 32, 1, c, 32, 1, 0, 0, false))
        session.close()
    }

    @Test
    fun cancellingTheCoroutineCancelsTheSessionAndStopsTheSource() = runBlocking {
        // A recording on the no-flash path, so the first challenge starts.
        val created = Backend.createSession("""{"action": "HeadRight", "light_challenge": false}""")
        val clip = Backend.render(created, "cancel")
        val stopped = CountDownLatch(1)
        val served = AtomicInteger()
        val provider = object : FrameProvider {
            val inner = Y4mFrameProvider(clip, paced = true)
            override fun nextFrame(): HostFrame? = inner.nextFrame().also { served.incrementAndGet() }
            override fun stop() {
                inner.stop()
                stopped.countDown()
            }
        }
        Liveness(Backend.url, created, Backend.config(), memoryKeyStore()).use { liveness ->
            val job = launch(Dispatchers.Default) { liveness.run(provider) }
            // The state flow keeps the latest value: no race with a late subscriber.
            withTimeout(30_000) { liveness.state.first { it.challengeIndex != null } }
            job.cancelAndJoin()
            assertTrue(stopped.await(10, TimeUnit.SECONDS), "the frame source was not stopped")
            assertNotEquals(0, served.get())
        }
    }
}
