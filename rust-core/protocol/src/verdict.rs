//! Server verdicts and their Ed25519 signatures, checkable offline against a JWKS.
//!
//! # Canonical bytes (version 1)
//! The detached signature covers the UTF-8 bytes of these six lines joined by `\n` (no
//! trailing newline):
//!
//! ```text
//! liveness-verdict/v1
//! <session_id>            1–64 of [A-Za-z0-9_-]
//! <verdict>               live | spoof | inconclusive
//! <confidence>            0..=1 with exactly four decimals, e.g. 0.9731
//! <timestamp>             Unix seconds, decimal, no sign or leading zeros
//! <photo_sha256>          64 lowercase hex characters, or empty when there is no photo
//! ```
//!
//! Confidence is carried as a JSON number that must already be a multiple of 0.0001, so the
//! JSON value and the signed text cannot disagree.

use std::fmt;

use ed25519_dalek::{Signer, SigningKey};
use serde::{Deserialize, Serialize};

use crate::device::verify_ed25519;
use crate::encoding::{Sha256Digest, b64url_decode_array, b64url_encode, parse_strict_json};
use crate::error::{ProtocolError, Result};
use crate::jose;
use crate::manifest::check_session_id;

const CANONICAL_TAG: &str = "liveness-verdict/v1";
const MAX_JWKS_BYTES: usize = 64 * 1024;
const MAX_JWKS_KEYS: usize = 32;
/// Verdict timestamps must lie between 2020-01-01 and 2100-01-01 (Unix seconds).
const TIMESTAMP_RANGE: std::ops::RangeInclusive<i64> = 1_577_836_800..=4_102_444_800;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictKind {
    Live,
    Spoof,
    Inconclusive,
}

impl VerdictKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::Spoof => "spoof",
            Self::Inconclusive => "inconclusive",
        }
    }
}

/// The verdict tuple that gets signed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Verdict {
    pub session_id: String,
    pub verdict: VerdictKind,
    pub confidence: f64,
    pub timestamp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo_sha256: Option<Sha256Digest>,
}

/// Rounds a confidence to the four decimals the signature carries.
pub fn quantize_confidence(c: f64) -> f64 {
    (c.clamp(0.0, 1.0) * 10_000.0).round() / 10_000.0
}

impl Verdict {
    /// A verdict with its confidence quantized to four decimals.
    pub fn new(
        session_id: impl Into<String>,
        verdict: VerdictKind,
        confidence: f64,
        timestamp: i64,
        photo_sha256: Option<Sha256Digest>,
    ) -> Result<Self> {
        if !confidence.is_finite() {
            return Err(ProtocolError::invalid(
                "confidence",
                "must be a finite number",
            ));
        }
        let v = Self {
            session_id: session_id.into(),
            verdict,
            confidence: quantize_confidence(confidence),
            timestamp,
            photo_sha256,
        };
        v.validate()?;
        Ok(v)
    }

    pub fn validate(&self) -> Result<()> {
        check_session_id(&self.session_id)?;
        let c = self.confidence;
        if !(0.0..=1.0).contains(&c) || quantize_confidence(c) != c {
            return Err(ProtocolError::invalid(
                "confidence",
                "must be in 0..=1 with at most four decimals",
            ));
        }
        if !TIMESTAMP_RANGE.contains(&self.timestamp) {
            return Err(ProtocolError::TimestampOutOfRange {
                field: "timestamp",
                value: self.timestamp,
            });
        }
        Ok(())
    }

    /// The bytes the detached signature covers (see the module documentation).
    pub fn canonical_bytes(&self) -> Result<Vec<u8>> {
        self.validate()?;
        let photo = self.photo_sha256.map(|d| d.to_hex()).unwrap_or_default();
        Ok(format!(
            "{CANONICAL_TAG}\n{}\n{}\n{:.4}\n{}\n{}",
            self.session_id,
            self.verdict.as_str(),
            self.confidence,
            self.timestamp,
            photo
        )
        .into_bytes())
    }
}

/// A verdict with its detached signature, as served in results and webhooks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedVerdict {
    pub session_id: String,
    pub verdict: VerdictKind,
    pub confidence: f64,
    pub timestamp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo_sha256: Option<Sha256Digest>,
    pub kid: String,
    /// Ed25519 signature over the canonical bytes, unpadded base64url.
    pub signature: String,
}

impl SignedVerdict {
    pub fn verdict(&self) -> Verdict {
        Verdict {
            session_id: self.session_id.clone(),
            verdict: self.verdict,
            confidence: self.confidence,
            timestamp: self.timestamp,
            photo_sha256: self.photo_sha256,
        }
    }

    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        parse_strict_json("signed verdict", bytes, 4096)
    }
}

/// A server key that signs verdicts. `kid` names it in the JWKS.
pub struct VerdictSigningKey {
    kid: String,
    key: SigningKey,
}

impl fmt::Debug for VerdictSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerdictSigningKey(kid: {})", self.kid)
    }
}

fn check_kid(kid: &str) -> Result<()> {
    let ok = !kid.is_empty()
        && kid.len() <= 64
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(ProtocolError::invalid(
            "kid",
            "must be 1..=64 characters of A-Z a-z 0-9 . - _",
        ))
    }
}

impl VerdictSigningKey {
    pub fn from_seed(kid: impl Into<String>, seed: &[u8; 32]) -> Result<Self> {
        let kid = kid.into();
        check_kid(&kid)?;
        Ok(Self {
            kid,
            key: SigningKey::from_bytes(seed),
        })
    }

    pub fn generate(kid: impl Into<String>) -> Result<Self> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| ProtocolError::Random(e.to_string()))?;
        Self::from_seed(kid, &seed)
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The seed to persist. Handle as a secret.
    pub fn seed(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// The public half as a JWK (RFC 8037).
    pub fn jwk(&self) -> Jwk {
        Jwk {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            x: b64url_encode(self.key.verifying_key().to_bytes()),
            kid: self.kid.clone(),
            alg: Some("EdDSA".into()),
            key_use: Some("sig".into()),
        }
    }

    /// Detached signature over the canonical bytes.
    pub fn sign(&self, verdict: &Verdict) -> Result<SignedVerdict> {
        let signature = self.key.sign(&verdict.canonical_bytes()?).to_bytes();
        Ok(SignedVerdict {
            session_id: verdict.session_id.clone(),
            verdict: verdict.verdict,
            confidence: verdict.confidence,
            timestamp: verdict.timestamp,
            photo_sha256: verdict.photo_sha256,
            kid: self.kid.clone(),
            signature: b64url_encode(signature),
        })
    }

    /// The same verdict as a compact JWS (`alg: EdDSA`, `kid` in the header, the verdict as
    /// the JSON payload).
    pub fn sign_jws(&self, verdict: &Verdict) -> Result<String> {
        verdict.validate()?;
        let payload = serde_json::to_vec(verdict).map_err(|e| ProtocolError::Json {
            context: "verdict",
            message: e.to_string(),
        })?;
        let header = jose::Header {
            alg: "EdDSA".into(),
            kid: Some(self.kid.clone()),
            typ: Some("JWT".into()),
            crit: None,
        };
        jose::encode(&header, &payload, |input| {
            self.key.sign(input).to_bytes().to_vec()
        })
    }
}

/// One public key of a JWKS. Members we do not use are ignored, as RFC 7517 asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    #[serde(default)]
    pub crv: String,
    #[serde(default)]
    pub x: String,
    #[serde(default)]
    pub kid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub key_use: Option<String>,
}

/// A JSON Web Key Set holding the current and previous verdict keys, so verdicts signed
/// before a rotation still verify.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

impl Jwks {
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let set: Self = parse_strict_json("JWKS", bytes, MAX_JWKS_BYTES)?;
        if set.keys.len() > MAX_JWKS_KEYS {
            return Err(ProtocolError::TooManyItems {
                field: "keys",
                max: MAX_JWKS_KEYS,
                actual: set.keys.len(),
            });
        }
        for (i, key) in set.keys.iter().enumerate() {
            if set.keys[..i].iter().any(|k| k.kid == key.kid) {
                return Err(ProtocolError::invalid(
                    "keys",
                    format!("kid `{}` appears twice", key.kid),
                ));
            }
        }
        Ok(set)
    }

    /// The Ed25519 public key named `kid`.
    pub fn ed25519_key(&self, kid: &str) -> Result<[u8; 32]> {
        let jwk = self
            .keys
            .iter()
            .find(|k| k.kid == kid)
            .ok_or_else(|| ProtocolError::UnknownKeyId { kid: kid.into() })?;
        if jwk.kty != "OKP" || jwk.crv != "Ed25519" {
            return Err(ProtocolError::UnsupportedAlgorithm {
                alg: format!("{}/{}", jwk.kty, jwk.crv),
                expected: "OKP/Ed25519",
            });
        }
        if jwk.alg.as_deref().is_some_and(|a| a != "EdDSA") {
            return Err(ProtocolError::UnsupportedAlgorithm {
                alg: jwk.alg.clone().unwrap_or_default(),
                expected: "EdDSA",
            });
        }
        b64url_decode_array("x", &jwk.x)
    }

    /// Verifies a detached verdict signature and returns the verdict.
    pub fn verify(&self, signed: &SignedVerdict) -> Result<Verdict> {
        let verdict = signed.verdict();
        let canonical = verdict.canonical_bytes()?;
        let key = self.ed25519_key(&signed.kid)?;
        let signature = b64url_decode_array::<64>("signature", &signed.signature)?;
        verify_ed25519(&key, &canonical, &signature, "verdict")?;
        Ok(verdict)
    }

    /// Verifies a compact JWS verdict and returns its payload.
    pub fn verify_jws(&self, token: &str) -> Result<Verdict> {
        let parts = jose::decode(token, "EdDSA")?;
        let kid = parts
            .header
            .kid
            .ok_or_else(|| ProtocolError::MalformedToken {
                reason: "the header has no kid".into(),
            })?;
        let key = self.ed25519_key(&kid)?;
        let signature = crate::encoding::to_array::<64>("JWS signature", &parts.signature)?;
        verify_ed25519(
            &key,
            parts.signing_input.as_bytes(),
            &signature,
            "verdict JWS",
        )?;
        let verdict: Verdict = parse_strict_json("verdict JWS payload", &parts.payload, 4096)?;
        verdict.validate()?;
        Ok(verdict)
    }
}
