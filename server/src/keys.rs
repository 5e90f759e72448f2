//! Verdict signing keys: Ed25519 keys kept in the database so every instance signs with the
//! same current key; rotation keeps the previous key published in the JWKS so verdicts it
//! signed still verify offline.

use liveness_protocol::encoding::{b64url_decode_array, b64url_encode};
use liveness_protocol::{Jwks, VerdictSigningKey};

use crate::db::Db;
use crate::error::ApiError;
use crate::tokens::random_hex;

fn key_from_row(kid: &str, seed: &str) -> Result<VerdictSigningKey, ApiError> {
    let seed: [u8; 32] =
        b64url_decode_array("seed", seed).map_err(|e| ApiError::internal("signing key", e))?;
    VerdictSigningKey::from_seed(kid, &seed).map_err(|e| ApiError::internal("signing key", e))
}

/// Creates a new current key; the old current key stays published as the previous one.
pub async fn rotate(db: &Db, now_ms: i64) -> Result<String, ApiError> {
    let kid = format!("lv-{}", random_hex(8)?);
    let key = VerdictSigningKey::generate(kid.clone())
        .map_err(|e| ApiError::internal("signing key", e))?;
    db.rotate_signing_key(&kid, &b64url_encode(key.seed()), now_ms)
        .await?;
    Ok(kid)
}

/// The key verdicts are signed with now, created on first use.
pub async fn current(db: &Db, now_ms: i64) -> Result<VerdictSigningKey, ApiError> {
    for _ in 0..2 {
        if let Some(row) = db
            .signing_keys()
            .await?
            .into_iter()
            .find(|k| k.status == "current")
        {
            return key_from_row(&row.kid, &row.seed);
        }
        rotate(db, now_ms).await?;
    }
    Err(ApiError::internal(
        "signing key",
        "no current key after creating one",
    ))
}

/// The published key set: current and previous keys.
pub async fn jwks(db: &Db) -> Result<Jwks, ApiError> {
    let keys = db
        .signing_keys()
        .await?
        .into_iter()
        .filter(|k| k.status == "current" || k.status == "previous")
        .map(|k| key_from_row(&k.kid, &k.seed).map(|key| key.jwk()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Jwks { keys })
}
