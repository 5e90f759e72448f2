package io.openliveness.liveness

import io.openliveness.liveness.ffi.Challenge
import io.openliveness.liveness.ffi.LivenessEvent
import io.openliveness.liveness.ffi.LivenessException

/** Where the session is, for a UI. */
enum class Phase { CAPTURING, SUBMITTING, FINISHED, FAILED }

/**
 * What a liveness screen shows, folded from the session's events. Codes key the localised
 * strings (`liveness_prompt_<code>`, `liveness_guidance_<code>`, `liveness_error_<code>`);
 * the English texts are fallbacks.
 */
data class LivenessUiState(
    val phase: Phase,
    val challenges: List<Challenge>,
    val promptCode: String?,
    val promptText: String?,
    /** Where the FollowText target is, 0..1 of the preview, or null. */
    val target: Pair<Float, Float>?,
    val guidanceCode: String?,
    val guidanceText: String?,
    val stepProgress: Float,
    val sessionProgress: Float,
    val challengeIndex: Int?,
    val localPassed: Boolean?,
    val jobStatus: String?,
    val errorCode: String?,
    /**
     * The light step's colour to paint full screen around the preview (opaque ARGB), and its
     * index for [Liveness.screenPresented]; null outside the step's flashes.
     */
    val screenColor: Int? = null,
    val screenIndex: Int? = null,
) {
    /** The light step is under way: raise the screen's brightness, show the notice. */
    val lightStep: Boolean get() = promptCode == LIGHT_PROMPT


    fun reduce(event: LivenessEvent): LivenessUiState = when (event) {
        is LivenessEvent.Guidance -> copy(guidanceCode = event.code, guidanceText = event.text)
        is LivenessEvent.Prompt -> copy(
            promptCode = event.code,
            promptText = event.text,
            target = event.targetX?.let { x -> event.targetY?.let { y -> x to y } },
        )
        is LivenessEvent.Progress -> copy(stepProgress = event.step, sessionProgress = event.session)
        is LivenessEvent.ChallengeStarted -> copy(challengeIndex = event.index.toInt())
        is LivenessEvent.ChallengeFinished -> this
        is LivenessEvent.Captured -> this
        is LivenessEvent.LocalOutcome -> copy(
            localPassed = event.passed,
            phase = Phase.SUBMITTING,
            guidanceCode = null,
            guidanceText = null,
            target = null,
            screenColor = null,
            screenIndex = null,
        )
        is LivenessEvent.Submitting -> copy(phase = Phase.SUBMITTING)
        is LivenessEvent.Submitted -> this
        is LivenessEvent.Finished -> copy(phase = Phase.FINISHED, jobStatus = event.status, sessionProgress = 1f)
        is LivenessEvent.Failed -> copy(phase = Phase.FAILED, errorCode = event.code, screenColor = null, screenIndex = null)
        is LivenessEvent.Screen -> {
            val r = event.red
            val g = event.green
            val b = event.blue
            if (r != null && g != null && b != null) {
                copy(
                    screenColor = (0xFF shl 24) or (r.toInt() shl 16) or (g.toInt() shl 8) or b.toInt(),
                    screenIndex = event.index?.toInt(),
                )
            } else {
                copy(screenColor = null, screenIndex = null)
            }
        }
    }

    companion object {
        /** The prompt code of the light step. */
        const val LIGHT_PROMPT = "light_check"

        val INITIAL = LivenessUiState(
            phase = Phase.CAPTURING,
            challenges = emptyList(),
            promptCode = null,
            promptText = null,
            target = null,
            guidanceCode = null,
            guidanceText = null,
            stepProgress = 0f,
            sessionProgress = 0f,
            challengeIndex = null,
            localPassed = null,
            jobStatus = null,
            errorCode = null,
        )
    }
}

/** The stable code of any SDK error (`token_expired`, `network`, …). */
val LivenessException.code: String
    get() = when (this) {
        is LivenessException.CameraUnavailable -> code
        is LivenessException.PermissionDenied -> code
        is LivenessException.TokenExpired -> code
        is LivenessException.Network -> code
        is LivenessException.ServerRejected -> code
        is LivenessException.Cancelled -> code
        is LivenessException.Timeout -> code
        is LivenessException.ModelLoad -> code
        is LivenessException.InvalidFrame -> code
        is LivenessException.InvalidInput -> code
        is LivenessException.NoEvidence -> code
        is LivenessException.KeyStore -> code
        is LivenessException.Internal -> code
    }

/** What the app or its user can do about it (English; the bindings' strings translate by code). */
val LivenessException.recovery: String
    get() = when (this) {
        is LivenessException.CameraUnavailable -> recovery
        is LivenessException.PermissionDenied -> recovery
        is LivenessException.TokenExpired -> recovery
        is LivenessException.Network -> recovery
        is LivenessException.ServerRejected -> recovery
        is LivenessException.Cancelled -> recovery
        is LivenessException.Timeout -> recovery
        is LivenessException.ModelLoad -> recovery
        is LivenessException.InvalidFrame -> recovery
        is LivenessException.InvalidInput -> recovery
        is LivenessException.NoEvidence -> recovery
        is LivenessException.KeyStore -> recovery
        is LivenessException.Internal -> recovery
    }
