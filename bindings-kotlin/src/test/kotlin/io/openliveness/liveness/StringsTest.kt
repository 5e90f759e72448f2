package io.openliveness.liveness

import io.openliveness.liveness.ffi.messageCodes
import java.io.File
import javax.xml.parsers.DocumentBuilderFactory
import kotlin.test.assertEquals
import kotlin.test.assertTrue
import org.junit.Test

/** Every code the Rust core can send has a string in each of the six languages. */
class StringsTest {
    private val res = File(System.getenv("LIVENESS_BINDINGS_DIR") ?: "bindings-kotlin", "src/main/res")
    private val locales = listOf("values", "values-es", "values-fr", "values-de", "values-in", "values-pt")

    private fun strings(dir: String): Map<String, String> {
        val doc = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(File(res, "$dir/strings.xml"))
        val nodes = doc.getElementsByTagName("string")
        return (0 until nodes.length).associate { i ->
            val n = nodes.item(i)
            n.attributes.getNamedItem("name").nodeValue to n.textContent
        }
    }

    @Test
    fun everyCodeIsTranslatedInEveryLanguage() {
        val codes = messageCodes()
        val needed = codes.prompts.map { "liveness_prompt_$it" } +
            codes.guidance.map { "liveness_guidance_$it" } +
            codes.errors.map { "liveness_error_$it" }
        val english = strings("values")
        for (dir in locales) {
            val s = strings(dir)
            val missing = needed.filter { it !in s }
            assertTrue(missing.isEmpty(), "$dir lacks $missing")
            assertEquals(english.keys, s.keys, "$dir has other keys than values/")
            for ((k, v) in s) {
                assertTrue(v.isNotBlank(), "$dir/$k is empty")
                assertEquals(Regex("%\\d\\$[sd]").findAll(english.getValue(k)).count(), Regex("%\\d\\$[sd]").findAll(v).count(), "$dir/$k placeholders")
            }
        }
        // Translated, not copied: most strings differ from English.
        for (dir in locales.drop(1)) {
            val s = strings(dir)
            assertTrue(s.count { (k, v) -> v != english[k] } > s.size * 3 / 4, "$dir looks untranslated")
        }
    }
}
