package io.openliveness.liveness.android

import android.Manifest
import android.app.Activity
import android.content.Context
import android.content.ContextWrapper
import android.content.Intent
import android.content.pm.PackageManager
import android.net.Uri
import android.provider.Settings
import android.os.SystemClock
import androidx.activity.compose.rememberLauncherForActivityResult
import androidx.activity.result.contract.ActivityResultContracts
import androidx.camera.core.CameraSelector
import androidx.camera.core.ImageAnalysis
import androidx.camera.core.Preview
import androidx.camera.lifecycle.ProcessCameraProvider
import androidx.camera.view.PreviewView
import androidx.compose.foundation.Canvas
import androidx.compose.foundation.background
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Box
import androidx.compose.foundation.layout.BoxWithConstraints
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.aspectRatio
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.offset
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.shape.CircleShape
import androidx.compose.material3.Button
import androidx.compose.material3.CircularProgressIndicator
import androidx.compose.material3.LinearProgressIndicator
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.DisposableEffect
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.setValue
import androidx.compose.runtime.withFrameNanos
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.draw.clip
import androidx.compose.ui.geometry.Offset
import androidx.compose.ui.geometry.Size
import androidx.compose.ui.graphics.BlendMode
import androidx.compose.ui.graphics.Color
import androidx.compose.ui.graphics.CompositingStrategy
import androidx.compose.ui.graphics.drawscope.Stroke
import androidx.compose.ui.graphics.graphicsLayer
import androidx.compose.ui.platform.LocalContext
import androidx.compose.ui.platform.LocalView
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.semantics.LiveRegionMode
import androidx.compose.ui.semantics.ProgressBarRangeInfo
import androidx.compose.ui.semantics.contentDescription
import androidx.compose.ui.semantics.liveRegion
import androidx.compose.ui.semantics.progressBarRangeInfo
import androidx.compose.ui.semantics.semantics
import androidx.compose.ui.text.style.TextAlign
import androidx.compose.ui.unit.dp
import androidx.compose.ui.viewinterop.AndroidView
import androidx.core.content.ContextCompat
import androidx.lifecycle.Lifecycle
import androidx.lifecycle.LifecycleEventObserver
import androidx.lifecycle.compose.LocalLifecycleOwner
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import io.openliveness.liveness.Liveness
import io.openliveness.liveness.LivenessUiState
import io.openliveness.liveness.Phase
import io.openliveness.liveness.R
import io.openliveness.liveness.ffi.LivenessException
import io.openliveness.liveness.ffi.LivenessResult
import java.util.concurrent.Executors
import kotlinx.coroutines.CancellationException

/**
 * The whole liveness screen: front-camera preview, face oval, the current prompt and
 * guidance (announced by TalkBack as they change), progress, and the FollowText target.
 * It asks for the camera permission, runs the session, and cancels it when the app goes to
 * the background (the camera is released; start a new session when the user returns).
 *
 * The view owns [liveness] once given it: exactly one of [onResult] or [onError] is called,
 * whichever way the session ends (the view leaving the screen ends it as `cancelled`), and
 * the session is closed when the view leaves the composition.
 */
@Composable
fun LivenessView(
    liveness: Liveness,
    onResult: (LivenessResult) -> Unit,
    onError: (LivenessException) -> Unit,
    modifier: Modifier = Modifier,
) {
    val context = LocalContext.current
    fun granted() =
        ContextCompat.checkSelfPermission(context, Manifest.permission.CAMERA) == PackageManager.PERMISSION_GRANTED
    var permitted by remember { mutableStateOf(granted()) }
    // Android answers "denied" at once, without a dialog, after "Don't ask again" (or a
    // second refusal): only the app's settings page can change it then.
    var askedAndRefused by remember { mutableStateOf(false) }
    var declined by remember { mutableStateOf(false) }
    val askPermission = rememberLauncherForActivityResult(ActivityResultContracts.RequestPermission()) { ok ->
        permitted = ok
        askedAndRefused = !ok
    }
    val lifecycleOwner = LocalLifecycleOwner.current
    DisposableEffect(liveness) {
        onDispose { liveness.close() }
    }
    DisposableEffect(lifecycleOwner, liveness) {
        val observer = LifecycleEventObserver { _, event ->
            when (event) {
                // Back from the settings page: the permission may have been granted there.
                Lifecycle.Event.ON_RESUME -> if (!permitted && granted()) permitted = true
                Lifecycle.Event.ON_STOP -> if (permitted) liveness.cancel()
                else -> {}
            }
        }
        lifecycleOwner.lifecycle.addObserver(observer)
        onDispose { lifecycleOwner.lifecycle.removeObserver(observer) }
    }
    if (!permitted && !declined) {
        val activity = context.findActivity()
        val blocked = askedAndRefused &&
            activity?.shouldShowRequestPermissionRationale(Manifest.permission.CAMERA) == false
        PermissionRequest(
            blocked = blocked,
            onAllow = { askPermission.launch(Manifest.permission.CAMERA) },
            onOpenSettings = {
                context.startActivity(
                    Intent(Settings.ACTION_APPLICATION_DETAILS_SETTINGS, Uri.fromParts("package", context.packageName, null))
                        .addFlags(Intent.FLAG_ACTIVITY_NEW_TASK),
                )
            },
            onCancel = { declined = true },
            modifier = modifier,
        )
        return
    }

    LaunchedEffect(liveness) {
        // The user turned the camera down: the session ends as permission_denied (and the
        // server is told), through the same run() as every other ending.
        if (!permitted) liveness.permissionDenied()
        try {
            onResult(liveness.run())
        } catch (e: LivenessException) {
            onError(e)
        } catch (e: CancellationException) {
            // The view left the composition mid-session: run() has cancelled the session;
            // the app still hears how it ended.
            onError(
                LivenessException.Cancelled(
                    "cancelled",
                    "the liveness view left the screen before the session ended",
                    "Start a new session when the user comes back.",
                ),
            )
            throw e
        }
    }
    if (!permitted) return

    val state by liveness.state.collectAsStateWithLifecycle()

    LightStepEffects(liveness, state)
    // The light step paints its colour full screen around a smaller preview: the screen is
    // the light the face reflects.
    val screen = state.screenColor?.let { Color(it) }
    Box(modifier.fillMaxSize().background(screen ?: Color.Black)) {
        CameraPreview(
            liveness,
            if (screen != null) {
                Modifier.align(Alignment.Center).fillMaxWidth(0.5f).aspectRatio(0.75f).clip(CircleShape)
            } else {
                Modifier.fillMaxSize()
            },
        )
        if (screen == null) FaceOval(state)
        state.target?.let { FollowTarget(it) }
        Prompt(state, Modifier.align(Alignment.TopCenter).padding(top = 48.dp))
        Progress(state, Modifier.align(Alignment.BottomCenter))
        // run() then throws Cancelled, which reaches onError like any other ending.
        TextButton(onClick = { liveness.cancel() }, modifier = Modifier.align(Alignment.TopStart).padding(8.dp)) {
            Text(stringResource(R.string.liveness_cancel), color = Color.White)
        }
    }
}

/**
 * The light step's side effects: full brightness while it runs (restored after), the
 * photosensitivity notice announced to TalkBack, and each colour's presentation time sent
 * back once Compose has drawn the frame that shows it.
 */
@Composable
private fun LightStepEffects(liveness: Liveness, state: LivenessUiState) {
    val context = LocalContext.current
    val view = LocalView.current
    val notice = stringResource(R.string.liveness_light_notice)
    DisposableEffect(state.lightStep) {
        val window = (context as? Activity)?.window
        val before = window?.attributes?.screenBrightness
        if (state.lightStep && window != null) {
            window.attributes = window.attributes.apply { screenBrightness = 1f }
            view.announceForAccessibility(notice)
        }
        onDispose {
            if (state.lightStep && window != null && before != null) {
                window.attributes = window.attributes.apply { screenBrightness = before }
            }
        }
    }
    val index = state.screenIndex
    LaunchedEffect(index) {
        if (index == null) return@LaunchedEffect
        // Runs after the frame with the new colour was drawn. CameraX stamps frames with
        // SENSOR_TIMESTAMP, on the boot-time clock for cameras whose timestamp source is
        // REALTIME (the common case); elapsedRealtimeNanos reads that clock.
        withFrameNanos { }
        liveness.screenPresented(index, SystemClock.elapsedRealtimeNanos() / 1_000_000)
    }
}

@Composable
private fun CameraPreview(liveness: Liveness, previewModifier: Modifier = Modifier.fillMaxSize()) {
    val context = LocalContext.current
    val lifecycleOwner = LocalLifecycleOwner.current
    val description = stringResource(R.string.liveness_cd_camera_preview)
    val previewView = remember {
        PreviewView(context).apply {
            scaleType = PreviewView.ScaleType.FILL_CENTER
            contentDescription = description
        }
    }
    DisposableEffect(liveness, lifecycleOwner) {
        // One executor per binding: when the keys change, the old one is shut down with its
        // binding and a new one serves the next.
        val analysisExecutor = Executors.newSingleThreadExecutor()
        val providerFuture = ProcessCameraProvider.getInstance(context)
        var provider: ProcessCameraProvider? = null
        // The provider can arrive after the effect was disposed: then it must not bind.
        var disposed = false
        providerFuture.addListener({
            if (disposed) return@addListener
            val cameraProvider = try {
                providerFuture.get()
            } catch (e: Exception) {
                liveness.cameraFailed("the camera service is unavailable: ${e.javaClass.simpleName}: ${e.message}")
                return@addListener
            }
            provider = cameraProvider
            val preview = Preview.Builder().build().also { it.setSurfaceProvider(previewView.surfaceProvider) }
            val analysis = ImageAnalysis.Builder()
                .setBackpressureStrategy(ImageAnalysis.STRATEGY_KEEP_ONLY_LATEST)
                .setOutputImageFormat(ImageAnalysis.OUTPUT_IMAGE_FORMAT_YUV_420_888)
                .build()
            analysis.setAnalyzer(
                analysisExecutor,
                CameraXFrameAnalyzer(liveness) {
                    ContextCompat.getMainExecutor(context).execute { if (!disposed) cameraProvider.unbindAll() }
                },
            )
            try {
                cameraProvider.unbindAll()
                cameraProvider.bindToLifecycle(lifecycleOwner, CameraSelector.DEFAULT_FRONT_CAMERA, preview, analysis)
            } catch (e: Exception) {
                // No front camera, or it is in use (IllegalArgumentException,
                // IllegalStateException, CameraInfoUnavailableException).
                liveness.cameraFailed("bindToLifecycle: ${e.javaClass.simpleName}: ${e.message}")
            }
        }, ContextCompat.getMainExecutor(context))
        onDispose {
            disposed = true
            provider?.unbindAll()
            analysisExecutor.shutdown()
        }
    }
    AndroidView(factory = { previewView }, modifier = previewModifier)
}

@Composable
private fun FaceOval(state: LivenessUiState) {
    val description = stringResource(R.string.liveness_cd_face_oval)
    val ok = state.guidanceCode == null
    val ring = if (ok) MaterialTheme.colorScheme.primary else MaterialTheme.colorScheme.error
    Canvas(
        Modifier
            .fillMaxSize()
            .graphicsLayer { compositingStrategy = CompositingStrategy.Offscreen }
            .semantics { contentDescription = description },
    ) {
        val ovalSize = Size(size.width * 0.72f, size.width * 0.72f * 1.3f)
        val topLeft = Offset((size.width - ovalSize.width) / 2, (size.height - ovalSize.height) / 2)
        drawRect(Color.Black.copy(alpha = 0.55f))
        drawOval(Color.Transparent, topLeft, ovalSize, blendMode = BlendMode.Clear)
        drawOval(ring, topLeft, ovalSize, style = Stroke(width = 4.dp.toPx()))
    }
}

@Composable
private fun FollowTarget(target: Pair<Float, Float>) {
    val description = stringResource(R.string.liveness_cd_follow_target)
    BoxWithConstraints(Modifier.fillMaxSize()) {
        Text(
            stringResource(R.string.liveness_follow_target),
            color = Color.White,
            style = MaterialTheme.typography.titleMedium,
            modifier = Modifier
                .offset(maxWidth * target.first - 40.dp, maxHeight * target.second - 12.dp)
                .background(MaterialTheme.colorScheme.primary, MaterialTheme.shapes.small)
                .padding(horizontal = 8.dp, vertical = 4.dp)
                .semantics { contentDescription = description },
        )
    }
}

@Composable
private fun Prompt(state: LivenessUiState, modifier: Modifier) {
    val context = LocalContext.current
    val prompt = when (state.phase) {
        Phase.SUBMITTING -> stringResource(R.string.liveness_submitting)
        else -> LivenessStrings.prompt(context, state.promptCode, state.promptText)
    }
    val guidance = LivenessStrings.guidance(context, state.guidanceCode, state.guidanceText)
    Column(
        modifier.fillMaxWidth().padding(24.dp),
        horizontalAlignment = Alignment.CenterHorizontally,
        verticalArrangement = Arrangement.spacedBy(8.dp),
    ) {
        prompt?.let {
            Text(
                it,
                color = Color.White,
                style = MaterialTheme.typography.headlineSmall,
                textAlign = TextAlign.Center,
                // TalkBack reads each new prompt without the user moving focus.
                modifier = Modifier.semantics { liveRegion = LiveRegionMode.Polite },
            )
        }
        guidance?.let {
            Text(
                it,
                color = MaterialTheme.colorScheme.onErrorContainer,
                style = MaterialTheme.typography.titleMedium,
                textAlign = TextAlign.Center,
                modifier = Modifier
                    .background(MaterialTheme.colorScheme.errorContainer, MaterialTheme.shapes.medium)
                    .padding(horizontal = 12.dp, vertical = 6.dp)
                    .semantics { liveRegion = LiveRegionMode.Assertive },
            )
        }
    }
}

@Composable
private fun Progress(state: LivenessUiState, modifier: Modifier) {
    val percent = (state.sessionProgress * 100).toInt().coerceIn(0, 100)
    val description = stringResource(R.string.liveness_cd_progress, percent)
    Box(modifier.fillMaxWidth().padding(24.dp)) {
        if (state.phase == Phase.SUBMITTING) {
            CircularProgressIndicator(
                Modifier.align(Alignment.Center).semantics { contentDescription = description },
            )
        } else {
            LinearProgressIndicator(
                progress = { state.sessionProgress.coerceIn(0f, 1f) },
                modifier = Modifier.fillMaxWidth().semantics {
                    contentDescription = description
                    progressBarRangeInfo = ProgressBarRangeInfo(state.sessionProgress.coerceIn(0f, 1f), 0f..1f)
                },
            )
        }
    }
}

/**
 * No camera permission yet. Before a refusal: a button that asks. After "Don't ask again"
 * (Android then refuses without a dialog): a button to the app's settings page instead, as
 * iOS does. Cancel is always there, and ends the session as `permission_denied`.
 */
@Composable
private fun PermissionRequest(
    blocked: Boolean,
    onAllow: () -> Unit,
    onOpenSettings: () -> Unit,
    onCancel: () -> Unit,
    modifier: Modifier,
) {
    Column(
        modifier.fillMaxSize().padding(32.dp),
        verticalArrangement = Arrangement.Center,
        horizontalAlignment = Alignment.CenterHorizontally,
    ) {
        Text(
            stringResource(if (blocked) R.string.liveness_permission_blocked else R.string.liveness_permission_needed),
            textAlign = TextAlign.Center,
            style = MaterialTheme.typography.bodyLarge,
            modifier = Modifier.semantics { liveRegion = LiveRegionMode.Polite },
        )
        if (blocked) {
            Button(onClick = onOpenSettings, modifier = Modifier.padding(top = 16.dp)) {
                Text(stringResource(R.string.liveness_open_settings))
            }
        } else {
            Button(onClick = onAllow, modifier = Modifier.padding(top = 16.dp)) {
                Text(stringResource(R.string.liveness_grant_permission))
            }
        }
        TextButton(onClick = onCancel, modifier = Modifier.padding(top = 8.dp)) {
            Text(stringResource(R.string.liveness_cancel))
        }
    }
}

private tailrec fun Context.findActivity(): Activity? = when (this) {
    is Activity -> this
    is ContextWrapper -> baseContext.findActivity()
    else -> null
}
