package io.openliveness.liveness

import io.openliveness.liveness.ffi.DeviceDescription
import io.openliveness.liveness.ffi.LivenessConfig
import io.openliveness.liveness.ffi.defaultConfig
import java.io.File
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.util.concurrent.TimeUnit

/**
 * The integrator's side for the tests: a real `liveness-server` on loopback (started by
 * `scripts/test-kotlin.sh`), sessions created with the tenant's API key, and clips of the
 * rendered subject performing a session's plan (`liveness render --for-session`).
 */
object Backend {
    private fun env(name: String) =
        System.getenv(name) ?: error("$name is not set: run the tests through scripts/test-kotlin.sh")

    val url: String get() = env("LIVENESS_TEST_SERVER")
    private val apiKey: String get() = env("LIVENESS_TEST_API_KEY")
    private val cli: String get() = env("LIVENESS_CLI")
    val work: File get() = File(env("LIVENESS_TEST_WORK"))

    private val http: HttpClient = HttpClient.newHttpClient()

    /** `POST /v1/sessions` as the integrator's backend does it; the JSON answer. */
    fun createSession(optionsJson: String): String {
        val request = HttpRequest.newBuilder(URI.create("$url/v1/sessions"))
            .header("Authorization", "Bearer $apiKey")
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(optionsJson))
            .build()
        val response = http.send(request, HttpResponse.BodyHandlers.ofString())
        check(response.statusCode() == 201) { "create session: ${response.statusCode()} ${response.body()}" }
        return response.body()
    }

    /** The verdict as the backend reads it with the result token. */
    fun result(sessionJson: String): String {
        val id = field(sessionJson, "session_id")
        val token = field(sessionJson, "result_token")
        val request = HttpRequest.newBuilder(URI.create("$url/v1/sessions/$id/result?token=$token")).build()
        val response = http.send(request, HttpResponse.BodyHandlers.ofString())
        check(response.statusCode() == 200) { "result: ${response.statusCode()} ${response.body()}" }
        return response.body()
    }

    /** The integrator's view of the session (`GET /v1/sessions/{id}`). */
    fun sessionStatus(sessionJson: String): String {
        val id = field(sessionJson, "session_id")
        val request = HttpRequest.newBuilder(URI.create("$url/v1/sessions/$id"))
            .header("Authorization", "Bearer $apiKey")
            .build()
        val response = http.send(request, HttpResponse.BodyHandlers.ofString())
        check(response.statusCode() == 200) { "session: ${response.statusCode()} ${response.body()}" }
        return response.body()
    }

    /** A `.y4m` clip of the genuine subject performing this session's challenges. */
    fun render(sessionJson: String, name: String): File {
        val json = File(work, "$name.json").apply { writeText(sessionJson) }
        val out = File(work, "$name.y4m")
        val p = ProcessBuilder(cli, "render", "--for-session", json.path, "--out", out.path)
            .redirectErrorStream(true)
            .start()
        val log = p.inputStream.bufferedReader().readText()
        check(p.waitFor(120, TimeUnit.SECONDS) && p.exitValue() == 0) { "render failed: $log" }
        return out
    }

    /** A string field of a flat JSON object (enough for the server's session answer). */
    fun field(json: String, name: String): String =
        Regex("\"$name\"\\s*:\\s*\"([^\"]*)\"").find(json)?.groupValues?.get(1)
            ?: error("no $name in $json")

    fun config(): LivenessConfig = defaultConfig(
        DeviceDescription(platform = "jvm-test", osVersion = System.getProperty("os.version"), model = "host", appId = null),
    )
}
