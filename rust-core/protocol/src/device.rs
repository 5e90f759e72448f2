//! The device's Ed25519 key and the signed manifest.
//!
//! The signature covers the manifest bytes exactly as sent. The verifier checks the signature
//! over those bytes first and only then parses them; it never re-serialises, so no two JSON
//! encoders have to agree on anything.

use std::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::encoding::{b64url_decode, b64url_decode_array, b64url_encode, to_array};
use crate::error::{ProtocolError, Result};
use crate::manifest::EvidenceManifest;

/// The device's signing key. Generated once per install and kept in the platform key store;
/// only the 32-byte seed needs storing.
pub struct DeviceSigningKey(SigningKey);

impl fmt::Debug for DeviceSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the secret, even in debug logs.
        write!(
            f,
            "DeviceSigningKey(public: {})",
            b64url_encode(self.public_key())
        )
    }
}

impl DeviceSigningKey {
    /// A new key from the operating system's CSPRNG.
    pub fn generate() -> Result<Self> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| ProtocolError::Random(e.to_string()))?;
        Ok(Self::from_seed(&seed))
    }

    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self(SigningKey::from_bytes(seed))
    }

    /// Restores a key from stored seed bytes (length-checked).
    pub fn from_seed_bytes(seed: &[u8]) -> Result<Self> {
        to_array::<32>("device key seed", seed).map(|s| Self::from_seed(&s))
    }

    /// The seed to persist in the key store. Handle as a secret.
    pub fn seed(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.0.verifying_key().to_bytes()
    }

    /// Validates and serialises the manifest, then signs the exact bytes.
    pub fn sign_manifest(&self, manifest: &EvidenceManifest) -> Result<SignedManifest> {
        let manifest_bytes = manifest.to_json_bytes()?;
        let signature = self.0.sign(&manifest_bytes).to_bytes();
        Ok(SignedManifest {
            manifest_bytes,
            public_key: self.public_key(),
            signature,
        })
    }
}

/// Manifest bytes with the device's public key and signature, as uploaded.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedManifest {
    pub manifest_bytes: Vec<u8>,
    pub public_key: [u8; 32],
    pub signature: [u8; 64],
}

impl fmt::Debug for SignedManifest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedManifest")
            .field("manifest_len", &self.manifest_bytes.len())
            .field("public_key", &b64url_encode(self.public_key))
            .finish_non_exhaustive()
    }
}

/// [`SignedManifest`] for JSON transport: all three parts as unpadded base64url.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedManifestWire {
    pub manifest: String,
    pub public_key: String,
    pub signature: String,
}

impl SignedManifest {
    /// Assembles the parts received from a device, checking key and signature lengths.
    pub fn from_parts(
        manifest_bytes: Vec<u8>,
        public_key: &[u8],
        signature: &[u8],
    ) -> Result<Self> {
        Ok(Self {
            manifest_bytes,
            public_key: to_array("device public key", public_key)?,
            signature: to_array("device signature", signature)?,
        })
    }

    pub fn from_wire(wire: &SignedManifestWire) -> Result<Self> {
        Ok(Self {
            manifest_bytes: b64url_decode("manifest", &wire.manifest)?,
            public_key: b64url_decode_array("public_key", &wire.public_key)?,
            signature: b64url_decode_array("signature", &wire.signature)?,
        })
    }

    pub fn to_wire(&self) -> SignedManifestWire {
        SignedManifestWire {
            manifest: b64url_encode(&self.manifest_bytes),
            public_key: b64url_encode(self.public_key),
            signature: b64url_encode(self.signature),
        }
    }

    /// Verifies the signature over the exact bytes (strict: small-order keys and
    /// non-canonical signatures are refused), then parses and validates the manifest.
    pub fn verify(&self) -> Result<EvidenceManifest> {
        verify_ed25519(
            &self.public_key,
            &self.manifest_bytes,
            &self.signature,
            "device",
        )?;
        EvidenceManifest::from_json_bytes(&self.manifest_bytes)
    }
}

/// Strict Ed25519 verification shared by every signature of the protocol.
pub(crate) fn verify_ed25519(
    public_key: &[u8; 32],
    message: &[u8],
    signature: &[u8; 64],
    what: &'static str,
) -> Result<()> {
    let key = VerifyingKey::from_bytes(public_key).map_err(|_| ProtocolError::InvalidPublicKey)?;
    key.verify_strict(message, &Signature::from_bytes(signature))
        .map_err(|_| ProtocolError::BadSignature { what })
}
