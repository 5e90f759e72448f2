package io.openliveness.liveness.android

import android.content.Context
import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyProperties
import android.util.Base64
import io.openliveness.liveness.ffi.DeviceKeyStore
import io.openliveness.liveness.ffi.LivenessException
import java.security.KeyStore
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec

/**
 * The device key's seed, encrypted with an AES-256-GCM key that never leaves the Android
 * Keystore (hardware-backed where the phone has it), stored in the app's private preferences.
 * Ed25519 itself is not a Keystore algorithm on most devices, hence the wrapping.
 */
class KeystoreDeviceKeyStore(context: Context) : DeviceKeyStore {
    private val prefs = context.getSharedPreferences("io.openliveness.liveness.device_key", Context.MODE_PRIVATE)

    private fun failure(what: String, e: Exception) = LivenessException.KeyStore(
        "key_store",
        "$what: ${e.javaClass.simpleName}: ${e.message}",
        "Check the app's storage; clearing the app's data creates a new device key.",
    )

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

    override fun load(): ByteArray? {
        val stored = prefs.getString(PREF, null) ?: return null
        return try {
            val bytes = Base64.decode(stored, Base64.NO_WRAP)
            val cipher = Cipher.getInstance(TRANSFORMATION)
            cipher.init(Cipher.DECRYPT_MODE, wrappingKey(), GCMParameterSpec(128, bytes, 0, IV_BYTES))
            cipher.doFinal(bytes, IV_BYTES, bytes.size - IV_BYTES)
        } catch (e: Exception) {
            throw failure("the stored device key cannot be decrypted", e)
        }
    }

    override fun store(seed: ByteArray) {
        try {
            val cipher = Cipher.getInstance(TRANSFORMATION)
            cipher.init(Cipher.ENCRYPT_MODE, wrappingKey())
            val sealed = cipher.iv + cipher.doFinal(seed)
            check(cipher.iv.size == IV_BYTES)
            if (!prefs.edit().putString(PREF, Base64.encodeToString(sealed, Base64.NO_WRAP)).commit()) {
                throw IllegalStateException("SharedPreferences.commit failed")
            }
        } catch (e: LivenessException) {
            throw e
        } catch (e: Exception) {
            throw failure("the device key cannot be stored", e)
        }
    }

    private companion object {
        const val ALIAS = "io.openliveness.liveness.device_key_wrap"
        const val PREF = "sealed_seed"
        const val TRANSFORMATION = "AES/GCM/NoPadding"
        const val IV_BYTES = 12
    }
}
