package io.openliveness.sample

import android.graphics.BitmapFactory
import android.os.Build
import android.os.Bundle
import androidx.activity.ComponentActivity
import androidx.activity.compose.setContent
import androidx.compose.foundation.Image
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.height
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyRow
import androidx.compose.foundation.lazy.items
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.Button
import androidx.compose.material3.Checkbox
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Surface
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.graphics.asImageBitmap
import androidx.compose.ui.platform.LocalContext
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.unit.dp
import com.google.mlkit.vision.codescanner.GmsBarcodeScanning
import io.openliveness.liveness.Liveness
import io.openliveness.liveness.android.KeystoreDeviceKeyStore
import io.openliveness.liveness.android.LivenessStrings
import io.openliveness.liveness.android.LivenessView
import io.openliveness.liveness.code
import io.openliveness.liveness.ffi.DeviceDescription
import io.openliveness.liveness.ffi.LivenessException
import io.openliveness.liveness.ffi.LivenessResult
import io.openliveness.liveness.ffi.defaultConfig
import io.openliveness.liveness.recovery
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext

/** QA app: set up a session, run it with the SDK's Compose view, inspect the outcome. */
class MainActivity : ComponentActivity() {
    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContent { MaterialTheme { Surface(Modifier.fillMaxSize()) { SampleApp() } } }
    }
}

private sealed interface Screen {
    data object Setup : Screen
    data object Settings : Screen
    data class Running(val liveness: Liveness) : Screen
    data class Done(val result: LivenessResult) : Screen
    data class Failed(val error: LivenessException) : Screen
}

@Composable
private fun SampleApp() {
    val context = LocalContext.current
    var screen by remember { mutableStateOf<Screen>(Screen.Setup) }
    var options by remember { mutableStateOf(ChallengeOptions()) }
    var problem by remember { mutableStateOf<String?>(null) }

    fun start(ticket: SessionTicket) {
        problem = null
        try {
            val device = DeviceDescription("android", Build.VERSION.RELEASE, "${Build.MANUFACTURER} ${Build.MODEL}", context.packageName)
            screen = Screen.Running(
                Liveness(ticket.serverUrl, ticket.sessionJson, defaultConfig(device), KeystoreDeviceKeyStore(context)),
            )
        } catch (e: LivenessException) {
            screen = Screen.Failed(e)
        }
    }

    when (val s = screen) {
        Screen.Setup -> SetupScreen(
            options = options,
            problem = problem,
            onStart = ::start,
            onProblem = { problem = it },
            onSettings = { screen = Screen.Settings },
        )
        Screen.Settings -> SettingsScreen(options, onDone = { options = it; screen = Screen.Setup })
        is Screen.Running -> LivenessView(
            liveness = s.liveness,
            // The view closes the session when it leaves the screen.
            onResult = { screen = Screen.Done(it) },
            onError = { screen = Screen.Failed(it) },
        )
        is Screen.Done -> ResultScreen(s.result, onAgain = { screen = Screen.Setup })
        is Screen.Failed -> ErrorScreen(s.error, onAgain = { screen = Screen.Setup })
    }
}

@Composable
private fun SetupScreen(
    options: ChallengeOptions,
    problem: String?,
    onStart: (SessionTicket) -> Unit,
    onProblem: (String) -> Unit,
    onSettings: () -> Unit,
) {
    val context = LocalContext.current
    val scope = rememberCoroutineScope()
    var serverUrl by remember { mutableStateOf("https://") }
    var sessionJson by remember { mutableStateOf("") }
    var apiKey by remember { mutableStateOf("") }
    Column(
        Modifier.fillMaxSize().padding(16.dp).verticalScroll(rememberScrollState()),
        verticalArrangement = Arrangement.spacedBy(12.dp),
    ) {
        Text(stringResource(R.string.sample_title), style = MaterialTheme.typography.headlineSmall)
        OutlinedTextField(serverUrl, { serverUrl = it }, label = { Text(stringResource(R.string.sample_server_url)) }, modifier = Modifier.fillMaxWidth())
        OutlinedTextField(sessionJson, { sessionJson = it }, label = { Text(stringResource(R.string.sample_session_json)) }, modifier = Modifier.fillMaxWidth().height(140.dp))
        Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
            Button(onClick = {
                try {
                    onStart(SessionSetup.parse(sessionJson, serverUrl))
                } catch (e: SetupException) {
                    onProblem(e.message.orEmpty())
                }
            }) { Text(stringResource(R.string.sample_start)) }
            OutlinedButton(onClick = {
                GmsBarcodeScanning.getClient(context).startScan()
                    .addOnSuccessListener { code ->
                        try {
                            onStart(SessionSetup.parse(code.rawValue.orEmpty(), serverUrl))
                        } catch (e: SetupException) {
                            onProblem(e.message.orEmpty())
                        }
                    }
                    .addOnFailureListener { onProblem(it.message.orEmpty()) }
            }) { Text(stringResource(R.string.sample_scan)) }
        }
        Text(stringResource(R.string.sample_qa_create), style = MaterialTheme.typography.titleMedium)
        OutlinedTextField(apiKey, { apiKey = it }, label = { Text(stringResource(R.string.sample_api_key)) }, modifier = Modifier.fillMaxWidth())
        Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
            Button(onClick = {
                scope.launch {
                    try {
                        val ticket = withContext(Dispatchers.IO) { SessionSetup.create(serverUrl, apiKey, options) }
                        onStart(ticket)
                    } catch (e: Exception) {
                        onProblem(e.message.orEmpty())
                    }
                }
            }) { Text(stringResource(R.string.sample_create_and_start)) }
            OutlinedButton(onClick = onSettings) { Text(stringResource(R.string.sample_settings)) }
        }
        Text(options.toJson(), style = MaterialTheme.typography.bodySmall)
        // Before any flash: what the light step will show (the SDK's own string).
        if (options.lightChallenge) {
            Text(stringResource(io.openliveness.liveness.R.string.liveness_light_notice), style = MaterialTheme.typography.bodySmall)
        }
        problem?.let { Text(it, color = MaterialTheme.colorScheme.error) }
    }
}

@Composable
private fun SettingsScreen(initial: ChallengeOptions, onDone: (ChallengeOptions) -> Unit) {
    var random by remember { mutableStateOf(initial.action == "Random") }
    var fixed by remember { mutableStateOf(if (initial.action == "Random") "BlinkEyes" else initial.action) }
    var available by remember { mutableStateOf(initial.available) }
    var count by remember { mutableStateOf(initial.count) }
    var light by remember { mutableStateOf(initial.lightChallenge) }
    Column(Modifier.fillMaxSize().padding(16.dp).verticalScroll(rememberScrollState())) {
        Text(stringResource(R.string.sample_settings), style = MaterialTheme.typography.headlineSmall)
        Row(verticalAlignment = Alignment.CenterVertically) {
            Checkbox(random, { random = it })
            Text(stringResource(R.string.sample_random))
        }
        if (random) {
            Row(verticalAlignment = Alignment.CenterVertically) {
                Text(stringResource(R.string.sample_count, count))
                OutlinedButton(onClick = { count = (count - 1).coerceAtLeast(1) }) { Text("−") }
                OutlinedButton(onClick = { count = (count + 1).coerceAtMost(5) }) { Text("+") }
            }
        }
        Row(verticalAlignment = Alignment.CenterVertically) {
            Checkbox(light, { light = it })
            Text(stringResource(R.string.sample_light_challenge))
        }
        for (kind in ChallengeOptions.ALL) {
            Row(verticalAlignment = Alignment.CenterVertically) {
                if (random) {
                    Checkbox(kind in available, { on -> available = if (on) available + kind else available - kind })
                } else {
                    Checkbox(kind == fixed, { fixed = kind })
                }
                Text(kind)
            }
        }
        Button(onClick = {
            onDone(ChallengeOptions(action = if (random) "Random" else fixed, available = if (random) available else emptySet(), count = count, lightChallenge = light))
        }) { Text(stringResource(R.string.sample_done)) }
    }
}

@Composable
private fun ResultScreen(result: LivenessResult, onAgain: () -> Unit) {
    Column(Modifier.fillMaxSize().padding(16.dp).verticalScroll(rememberScrollState()), verticalArrangement = Arrangement.spacedBy(8.dp)) {
        Text(stringResource(R.string.sample_job_status, result.jobStatus), style = MaterialTheme.typography.headlineSmall)
        Text(stringResource(R.string.sample_local_outcome, if (result.localPassed) "passed" else (result.localFailure ?: "failed")))
        Text(stringResource(R.string.sample_verdict_note), style = MaterialTheme.typography.bodySmall)
        LazyRow(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
            items(result.images) { jpeg ->
                BitmapFactory.decodeByteArray(jpeg, 0, jpeg.size)?.let {
                    Image(it.asImageBitmap(), contentDescription = stringResource(R.string.sample_evidence_image), modifier = Modifier.height(160.dp))
                }
            }
        }
        Text(result.toString().replace(Regex("images=\\[.*?]\\], "), ""), style = MaterialTheme.typography.bodySmall)
        Button(onClick = onAgain) { Text(stringResource(R.string.sample_again)) }
    }
}

@Composable
private fun ErrorScreen(error: LivenessException, onAgain: () -> Unit) {
    val context = LocalContext.current
    Column(Modifier.fillMaxSize().padding(16.dp), verticalArrangement = Arrangement.spacedBy(8.dp)) {
        Text(LivenessStrings.error(context, error.code, error.recovery), style = MaterialTheme.typography.headlineSmall)
        Text("code: ${error.code}")
        Text(error.message.orEmpty(), style = MaterialTheme.typography.bodySmall)
        Button(onClick = onAgain) { Text(stringResource(R.string.sample_again)) }
    }
}
