package io.openliveness.sample

import java.net.HttpURLConnection
import java.net.URI
import java.net.URL

/**
 * How QA starts a session, without Android classes (compiled and tested on the host JVM).
 *
 * - Paste or scan what the backend created: the server's `POST /v1/sessions` JSON, with a
 *   `server_url` field added (or typed in separately).
 * - Or, on a QA server only, create the session from the app with a tenant API key and the
 *   challenge options of the settings screen. Real apps never hold an API key.
 */
data class SessionTicket(val serverUrl: String, val sessionJson: String)

/** The settings screen: which challenges the session asks for. */
data class ChallengeOptions(
    /** `Random`, or one fixed action (`BlinkEyes`, `HeadLeft`, …). */
    val action: String = "Random",
    /** For `Random`: the kinds to draw from (empty = all). */
    val available: Set<String> = emptySet(),
    val count: Int = 2,
    val stepTimeLimitMs: Int? = null,
    /** The screen-light step (on unless the user asked for the no-flash path). */
    val lightChallenge: Boolean = true,
) {
    init {
        require(action == "Random" || action in ALL) { "unknown action $action" }
        require(available.all { it in ALL }) { "unknown challenge in $available" }
        require(count in 1..5) { "1 to 5 challenges" }
    }

    fun toJson(): String = buildString {
        append("{\"action\":\"").append(action).append('"')
        if (action == "Random") {
            append(",\"challenge_count\":").append(count)
            if (available.isNotEmpty()) {
                append(",\"available_actions\":[")
                append(available.sorted().joinToString(",") { "\"$it\"" })
                append(']')
            }
        }
        stepTimeLimitMs?.let { append(",\"step_time_limit_ms\":").append(it) }
        if (!lightChallenge) append(",\"light_challenge\":false")
        append('}')
    }

    companion object {
        val ALL = listOf(
            "HeadLeft", "HeadRight", "HeadUp", "HeadDown", "MoveTowardsCamera",
            "MoveAwayFromCamera", "FollowText", "BlinkEyes", "Smile",
        )
    }
}

class SetupException(message: String) : Exception(message)

object SessionSetup {
    private val serverUrlField = Regex("\"server_url\"\\s*:\\s*\"([^\"]+)\"")

    /**
     * A pasted or scanned session. `typedServerUrl` is used when the JSON has no `server_url`.
     */
    fun parse(text: String, typedServerUrl: String?): SessionTicket {
        val json = text.trim()
        if (!json.startsWith("{") || !json.endsWith("}")) {
            throw SetupException("Expected the session JSON from POST /v1/sessions")
        }
        if (!json.contains("\"submission_token\"")) {
            throw SetupException("The JSON has no submission_token: is it a session?")
        }
        val url = serverUrlField.find(json)?.groupValues?.get(1) ?: typedServerUrl?.trim()
        if (url.isNullOrEmpty()) throw SetupException("Enter the server URL (or scan a code that includes it)")
        return SessionTicket(checkUrl(url), json)
    }

    /**
     * The SDK's own rule, checked before anything is sent: https, or http to this phone's
     * loopback only. A server on the development computer is reached through loopback with
     * `adb reverse tcp:8080 tcp:8080` (emulator or USB phone); the emulator's `10.0.2.2` alias
     * would be plain http across a network, which the SDK refuses.
     */
    fun checkUrl(url: String): String {
        val uri = runCatching { URI(url.trimEnd('/')) }.getOrNull()
            ?: throw SetupException("Not a URL: $url")
        val loopback = uri.host in setOf("127.0.0.1", "localhost", "[::1]")
        if (uri.scheme == "http" && uri.host == "10.0.2.2") {
            throw SetupException("Run `adb reverse tcp:${uri.port.takeIf { it > 0 } ?: 80} tcp:${uri.port.takeIf { it > 0 } ?: 80}` and use http://127.0.0.1 instead of 10.0.2.2")
        }
        if (uri.scheme != "https" && !(uri.scheme == "http" && loopback) || uri.userInfo != null) {
            throw SetupException("Use https (http only for a server on this phone's loopback)")
        }
        return uri.toString()
    }

    /** QA only: create the session from the app with a tenant API key. */
    fun create(serverUrl: String, apiKey: String, options: ChallengeOptions): SessionTicket {
        val url = checkUrl(serverUrl)
        // HttpURLConnection: java.net.http does not exist on Android.
        val conn = URL("$url/v1/sessions").openConnection() as HttpURLConnection
        try {
            conn.requestMethod = "POST"
            conn.connectTimeout = 20_000
            conn.readTimeout = 20_000
            conn.doOutput = true
            conn.setRequestProperty("Authorization", "Bearer ${apiKey.trim()}")
            conn.setRequestProperty("Content-Type", "application/json")
            conn.outputStream.use { it.write(options.toJson().toByteArray()) }
            val status = conn.responseCode
            val body = (if (status in 200..299) conn.inputStream else conn.errorStream)
                ?.bufferedReader()?.use { it.readText() }.orEmpty()
            if (status != 201) {
                throw SetupException("The server refused to create a session ($status): $body")
            }
            return SessionTicket(url, body)
        } finally {
            conn.disconnect()
        }
    }
}
