package io.openliveness.liveness

import io.openliveness.liveness.ffi.LivenessException
import java.io.File
import java.nio.file.Files
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertNull
import org.junit.Test

/**
 * KeystoreDeviceKeyStore's rules, with a JVM AES-GCM key standing in for the Android
 * Keystore's (which cannot run here): a seed restored onto a phone without its wrapping key
 * is "no key", never an error that fails every session.
 */
class SealedSeedFileTest {
    private class AesGcm(val key: SecretKey = newKey()) : SeedCipher {
        override fun seal(seed: ByteArray): ByteArray {
            val c = Cipher.getInstance("AES/GCM/NoPadding")
            c.init(Cipher.ENCRYPT_MODE, key)
            return c.iv + c.doFinal(seed)
        }

        override fun open(sealed: ByteArray): ByteArray {
            require(sealed.size > 28) { "sealed seed of ${sealed.size} bytes" }
            val c = Cipher.getInstance("AES/GCM/NoPadding")
            c.init(Cipher.DECRYPT_MODE, key, GCMParameterSpec(128, sealed, 0, 12))
            return c.doFinal(sealed, 12, sealed.size - 12)
        }

        companion object {
            fun newKey(): SecretKey = KeyGenerator.getInstance("AES").apply { init(256) }.generateKey()
        }
    }

    private val dir = Files.createTempDirectory("sealed-seed").toFile().also { it.deleteOnExit() }
    private val seed = ByteArray(32) { it.toByte() }

    @Test
    fun aSeedRoundTripsAndNothingStoredIsNoKey() {
        val file = File(dir, "no_backup/device_key")
        val store = SealedSeedFile(file, AesGcm())
        assertNull(store.load())
        store.store(seed)
        assertContentEquals(seed, store.load())
        // Sealed, not stored in the clear; no temporary file left beside it.
        assertFalse(file.readBytes().toList().windowed(32).any { it == seed.toList() })
        assertEquals(listOf("device_key"), file.parentFile.list()!!.toList())
    }

    @Test
    fun aSeedRestoredWithoutItsWrappingKeyIsNoKeyAndMakesWayForANewOne() {
        val file = File(dir, "device_key")
        SealedSeedFile(file, AesGcm()).store(seed)
        // The backup carried the file to a phone whose Keystore has another key.
        val restored = SealedSeedFile(file, AesGcm())
        assertNull(restored.load())
        assertFalse(file.exists())
        val fresh = ByteArray(32) { 7 }
        restored.store(fresh)
        assertContentEquals(fresh, restored.load())
    }

    @Test
    fun damagedBytesAreNoKeyButAnUnreadableFileIsAKeyStoreError() {
        val file = File(dir, "device_key")
        val cipher = AesGcm()
        SealedSeedFile(file, cipher).store(seed)
        val bytes = file.readBytes()
        bytes[bytes.size - 1] = (bytes.last().toInt() xor 1).toByte()
        file.writeBytes(bytes)
        assertNull(SealedSeedFile(file, cipher).load())
        file.writeBytes(ByteArray(5))
        assertNull(SealedSeedFile(file, cipher).load())
        // A directory where the file should be: not a key problem, a storage problem.
        val blocked = File(dir, "blocked").also { File(it, "inside").mkdirs() }
        val e = assertFailsWith<LivenessException.KeyStore> { SealedSeedFile(blocked, cipher).load() }
        assertEquals("key_store", e.code)
    }
}
