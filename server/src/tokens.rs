//! Random identifiers and secrets, their hashes, and constant-time comparison.

use hmac::{Hmac, Mac};
use liveness_protocol::encoding::b64url_encode;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ApiError;

/// `prefix` + unpadded base64url of `n` random bytes.
pub fn random_token(prefix: &str, n: usize) -> Result<String, ApiError> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::internal("random", e))?;
    Ok(format!("{prefix}{}", b64url_encode(&bytes)))
}

pub fn random_hex(n: usize) -> Result<String, ApiError> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::internal("random", e))?;
    Ok(hex::encode(bytes))
}

pub fn sha256_hex(bytes: impl AsRef<[u8]>) -> String {
    hex::encode(Sha256::digest(bytes.as_ref()))
}

pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(message);
            mac.finalize().into_bytes().into()
        }
        // HMAC takes keys of any length; new_from_slice only fails for fixed-key MACs.
        Err(_) => [0; 32],
    }
}

/// Compares two strings in time independent of where they differ.
pub fn ct_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}
