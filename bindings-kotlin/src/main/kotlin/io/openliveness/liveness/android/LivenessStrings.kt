package io.openliveness.liveness.android

import android.annotation.SuppressLint
import android.content.Context

/**
 * Localised text for the SDK's stable codes: `liveness_prompt_<code>`,
 * `liveness_guidance_<code>`, `liveness_error_<code>` in `res/values-xx/strings.xml` (en, es,
 * fr, de, id, pt; a test checks every code the core can send has all six). The lookup is by
 * name so that a code added to the core needs only strings, not code; `res/raw/liveness_keep.xml`
 * keeps these resources from being shrunk away. Unknown codes fall back to the core's English.
 */
object LivenessStrings {
    @SuppressLint("DiscouragedApi")
    private fun lookup(context: Context, kind: String, code: String?, fallback: String?): String? {
        if (code == null) return fallback
        val id = context.resources.getIdentifier("liveness_${kind}_$code", "string", context.packageName)
        return if (id != 0) context.getString(id) else fallback
    }

    fun prompt(context: Context, code: String?, fallback: String?) = lookup(context, "prompt", code, fallback)

    fun guidance(context: Context, code: String?, fallback: String?) = lookup(context, "guidance", code, fallback)

    fun error(context: Context, code: String, fallback: String) = lookup(context, "error", code, fallback) ?: fallback
}
