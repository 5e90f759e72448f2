package io.openliveness.liveness.android

import android.content.Context
import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyProperties
import android.util.Base64
import io.openliveness.liveness.SealedSeedFile
import io.openliveness.liveness.SeedCipher
import io.openliveness.liveness.ffi.DeviceKeyStore
import java.io.File
import java.security.GeneralSecurityException
import java.security.KeyStore
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec

/**
 * The device key's seed, encrypted with an AES-256-GCM key that never leaves the Android
 * Keystore (hardware-backed where the phone has it). Ed25519 itself is not a Keystore
 * algorithm on most devices, hence the wrapping.
 *
 * The sealed seed lives in `noBackupFilesDir`, which Auto Backup leaves out: a backup or a
 * device transfer must not carry a seed whose Keystore key stays behind. Should one arrive
 * anyway (an app whose own backup rules take that folder, or a seed stored by SDK 0.1 in
 * SharedPreferences), it cannot be opened on the new phone and counts as no key: the SDK
 * makes a new device key instead of failing every session with `key_store`.
 */
class KeystoreDeviceKeyStore(context: Context) : DeviceKeyStore {
    private val app = context.applicationContext ?: context
    private val sealed = SealedSeedFile(File(app.noBackupFilesDir, FILE), KeystoreCipher)

    override fun load(): ByteArray? {
        migrateFromPreferences()
        return sealed.load()
    }

    override fun store(seed: ByteArray) = sealed.store(seed)

    /** SDK 0.1 kept the sealed seed in SharedPreferences, which Auto Backup copies. */
    private fun migrateFromPreferences() {
        val prefs = app.getSharedPreferences(LEGACY_PREFS, Context.MODE_PRIVATE)
        val legacy = prefs.getString(LEGACY_PREF, null) ?: return
        val file = File(app.noBackupFilesDir, FILE)
        if (!file.exists()) {
            runCatching { Base64.decode(legacy, Base64.NO_WRAP) }.getOrNull()?.let { bytes ->
                file.parentFile?.mkdirs()
                file.writeBytes(bytes)
            }
        }
        prefs.edit().clear().commit()
        app.deleteSharedPreferences(LEGACY_PREFS)
    }

    private object KeystoreCipher : SeedCipher {
        private fun wrappingKey(): SecretKey {
            val ks = KeyStore.getInstance("AndroidKeyStore").apply { load(null) }
            (ks.getKey(ALIAS, null) as? SecretKey)?.let { return it }
            val gen = KeyGenerator.getInstance(KeyProperties.KEY_ALGORITHM_AES, "AndroidKeyStore")
            gen.init(
                KeyGenParameterSpec.Builder(ALIAS, KeyProperties.PURPOSE_ENCRYPT or KeyProperties.PURPOSE_DECRYPT)
                    .setBlockModes(KeyProperties.BLOCK_MODE_GCM)
                    .setEncryptionPaddings(KeyProperties.ENCRYPTION_PADDING_NONE)
                    .setKeySize(256)
                    .build(),
            )
            return gen.generateKey()
        }

        override fun seal(seed: ByteArray): ByteArray {
            val cipher = Cipher.getInstance(TRANSFORMATION)
            cipher.init(Cipher.ENCRYPT_MODE, wrappingKey())
            if (cipher.iv.size != IV_BYTES) throw GeneralSecurityException("unexpected IV length ${cipher.iv.size}")
            return cipher.iv + cipher.doFinal(seed)
        }

        override fun open(sealed: ByteArray): ByteArray {
            require(sealed.size > IV_BYTES + TAG_BYTES) { "sealed seed of ${sealed.size} bytes" }
            val cipher = Cipher.getInstance(TRANSFORMATION)
            // A missing alias (a restored backup) makes a new key here, and GCM then fails
            // its tag check: AEADBadTagException, a GeneralSecurityException, so "no key".
            cipher.init(Cipher.DECRYPT_MODE, wrappingKey(), GCMParameterSpec(TAG_BYTES * 8, sealed, 0, IV_BYTES))
            return cipher.doFinal(sealed, IV_BYTES, sealed.size - IV_BYTES)
        }
    }

    private companion object {
        const val ALIAS = "io.openliveness.liveness.device_key_wrap"
        const val FILE = "io.openliveness.liveness.device_key"
        const val LEGACY_PREFS = "io.openliveness.liveness.device_key"
        const val LEGACY_PREF = "sealed_seed"
        const val TRANSFORMATION = "AES/GCM/NoPadding"
        const val IV_BYTES = 12
        const val TAG_BYTES = 16
    }
}
