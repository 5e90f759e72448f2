package io.openliveness.sample

import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import org.junit.Test

/** The sample's non-Android logic, compiled and run on the host JVM by scripts/test-kotlin.sh. */
class SessionSetupTest {
    private val session = """{"session_id":"s1","submission_token":"st_x","nonce":"n"}"""

    @Test
    fun pastedSessionTakesTheTypedServerUrlOrItsOwn() {
        assertEquals("https://liveness.example", SessionSetup.parse(session, "https://liveness.example/").serverUrl)
        val scanned = session.replace("{", """{"server_url":"http://127.0.0.1:8080",""")
        assertEquals("http://127.0.0.1:8080", SessionSetup.parse(scanned, "").serverUrl)
    }

    @Test
    fun theEmulatorHostAliasIsRefusedWithTheWayAround() {
        // The SDK refuses plain http beyond loopback when the session is created: say so
        // here, before the capture, with what to do instead.
        val e = assertFailsWith<SetupException> { SessionSetup.checkUrl("http://10.0.2.2:8080") }
        kotlin.test.assertContains(e.message!!, "adb reverse tcp:8080 tcp:8080")
        assertFailsWith<SetupException> { SessionSetup.checkUrl("http://127.0.0.1@liveness.example") }
        assertEquals("https://10.0.2.2:8443", SessionSetup.checkUrl("https://10.0.2.2:8443"))
    }

    @Test
    fun badInputIsExplained() {
        assertFailsWith<SetupException> { SessionSetup.parse("hello", "https://a") }
        assertFailsWith<SetupException> { SessionSetup.parse("""{"session_id":"s1"}""", "https://a") }
        assertFailsWith<SetupException> { SessionSetup.parse(session, "") }
        assertFailsWith<SetupException> { SessionSetup.parse(session, "http://liveness.example") }
    }

    @Test
    fun optionsBecomeTheServersJson() {
        assertEquals("""{"action":"Random","challenge_count":2}""", ChallengeOptions().toJson())
        assertEquals(
            """{"action":"Random","challenge_count":3,"available_actions":["BlinkEyes","Smile"]}""",
            ChallengeOptions(available = setOf("Smile", "BlinkEyes"), count = 3).toJson(),
        )
        assertEquals("""{"action":"HeadLeft"}""", ChallengeOptions(action = "HeadLeft", count = 4).toJson())
        assertEquals(
            """{"action":"Smile","light_challenge":false}""",
            ChallengeOptions(action = "Smile", lightChallenge = false).toJson(),
        )
        assertFailsWith<IllegalArgumentException> { ChallengeOptions(action = "Jump") }
        assertFailsWith<IllegalArgumentException> { ChallengeOptions(count = 9) }
    }

    @Test
    fun createsASessionOnTheLoopbackServer() {
        val server = System.getenv("LIVENESS_TEST_SERVER") ?: return
        val key = System.getenv("LIVENESS_TEST_API_KEY") ?: return
        val ticket = SessionSetup.create(server, key, ChallengeOptions(action = "Smile"))
        assertEquals(server, ticket.serverUrl)
        assert(ticket.sessionJson.contains("\"submission_token\":\"st_"))
        assertFailsWith<SetupException> { SessionSetup.create(server, "lk_wrong_key", ChallengeOptions()) }
    }
}
