package io.openliveness.liveness

import io.openliveness.liveness.ffi.LivenessException
import java.io.File
import java.io.IOException
import java.security.GeneralSecurityException

/**
 * Seals and opens the device key's seed with a key kept elsewhere (the Android Keystore).
 * [open] throws [GeneralSecurityException] when the sealed bytes cannot be opened with the
 * key that is there now: a wrong key, a lost or invalidated key, or damaged bytes.
 */
interface SeedCipher {
    fun seal(seed: ByteArray): ByteArray

    fun open(sealed: ByteArray): ByteArray
}

/**
 * The device key's seed, sealed by [cipher], in one file. Kept apart from the Android
 * specifics so the rules are tested on the JVM:
 *
 * - a sealed seed that cannot be opened is "no key" (the file is deleted and the SDK makes a
 *   new device key), not an error that fails every session: that is what a backup restored
 *   onto another phone, or a device transfer, looks like (the file came along, the Keystore
 *   key did not), and what a Keystore key invalidated by the OS looks like;
 * - a file that cannot be read or written at all is a `key_store` error;
 * - writes go to a temporary file renamed over the old one, so a crash mid-write leaves the
 *   previous seed, never half of one.
 */
class SealedSeedFile(private val file: File, private val cipher: SeedCipher) {
    fun load(): ByteArray? {
        if (!file.exists()) return null
        val sealed = try {
            file.readBytes()
        } catch (e: IOException) {
            throw failure("the stored device key cannot be read", e)
        }
        return try {
            cipher.open(sealed)
        } catch (e: GeneralSecurityException) {
            discard()
            null
        } catch (e: IllegalArgumentException) {
            // Too short to hold an IV and a tag: damaged, not merely sealed with another key.
            discard()
            null
        }
    }

    fun store(seed: ByteArray) {
        val sealed = try {
            cipher.seal(seed)
        } catch (e: GeneralSecurityException) {
            throw failure("the device key cannot be sealed", e)
        }
        val parent = file.absoluteFile.parentFile
        try {
            parent.mkdirs()
            val tmp = File.createTempFile(file.name, ".tmp", parent)
            try {
                tmp.outputStream().use { out ->
                    out.write(sealed)
                    out.fd.sync()
                }
                if (!tmp.renameTo(file)) throw IOException("cannot rename $tmp to $file")
            } finally {
                tmp.delete()
            }
        } catch (e: IOException) {
            throw failure("the device key cannot be stored", e)
        }
    }

    private fun discard() {
        file.delete()
    }

    private fun failure(what: String, e: Exception) = LivenessException.KeyStore(
        "key_store",
        "$what: ${e.javaClass.simpleName}: ${e.message}",
        "Check the app's storage; clearing the app's data creates a new device key.",
    )
}
