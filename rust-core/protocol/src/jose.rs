//! Compact JWS/JWT (RFC 7515/7519) plumbing and the HS256 "signed response".
//!
//! Only what the protocol needs: `EdDSA` verdicts and `HS256` responses. The expected
//! algorithm is always fixed by the caller, never taken from the token, so `alg: none` or an
//! algorithm swap cannot be used to forge a token.

use hmac::{Hmac, Mac};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::encoding::{b64url_decode, b64url_encode, parse_strict_json};
use crate::error::{ProtocolError, Result};

pub const MAX_TOKEN_BYTES: usize = 64 * 1024;
/// Tenant secrets shorter than this are refused for HS256 (RFC 7518 §3.2 asks for at least
/// the hash size).
pub const MIN_HS256_SECRET_BYTES: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Header {
    pub alg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
    /// Extensions we would have to understand (RFC 7515 §4.1.11); any is refused.
    #[serde(default, skip_serializing)]
    pub crit: Option<serde_json::Value>,
}

/// A compact token split and decoded, signature not yet checked.
pub(crate) struct Compact<'a> {
    pub header: Header,
    pub payload: Vec<u8>,
    /// `base64url(header) "." base64url(payload)`, the bytes the signature covers.
    pub signing_input: &'a str,
    pub signature: Vec<u8>,
}

pub(crate) fn encode(
    header: &Header,
    payload: &[u8],
    sign: impl FnOnce(&[u8]) -> Vec<u8>,
) -> Result<String> {
    let header = serde_json::to_vec(header).map_err(|e| ProtocolError::Json {
        context: "JOSE header",
        message: e.to_string(),
    })?;
    let mut token = b64url_encode(header);
    token.push('.');
    token.push_str(&b64url_encode(payload));
    let signature = sign(token.as_bytes());
    token.push('.');
    token.push_str(&b64url_encode(signature));
    Ok(token)
}

pub(crate) fn decode<'a>(token: &'a str, expected_alg: &'static str) -> Result<Compact<'a>> {
    let malformed = |reason: &str| ProtocolError::MalformedToken {
        reason: reason.to_owned(),
    };
    if token.len() > MAX_TOKEN_BYTES {
        return Err(ProtocolError::TooLarge {
            what: "token",
            max: MAX_TOKEN_BYTES,
            actual: token.len(),
        });
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed(
            "a compact token has exactly three dot-separated parts",
        ));
    };
    let header: Header =
        parse_strict_json("JOSE header", &b64url_decode("token header", h)?, 4096)?;
    if header.alg != expected_alg {
        return Err(ProtocolError::UnsupportedAlgorithm {
            alg: header.alg,
            expected: expected_alg,
        });
    }
    if header.crit.is_some() {
        return Err(malformed("critical header extensions are not supported"));
    }
    Ok(Compact {
        header,
        payload: b64url_decode("token payload", p)?,
        signing_input: &token[..h.len() + 1 + p.len()],
        signature: b64url_decode("token signature", s)?,
    })
}

fn hs256_key(secret: &[u8]) -> Result<Hmac<Sha256>> {
    if secret.len() < MIN_HS256_SECRET_BYTES {
        return Err(ProtocolError::WeakSecret {
            min: MIN_HS256_SECRET_BYTES,
            actual: secret.len(),
        });
    }
    Hmac::<Sha256>::new_from_slice(secret).map_err(|_| ProtocolError::WeakSecret {
        min: MIN_HS256_SECRET_BYTES,
        actual: secret.len(),
    })
}

/// Signs a response body (which must serialise to a JSON object without an `iat` member) as
/// an HS256 JWT whose payload is the body plus `iat`.
pub fn sign_response<T: Serialize>(body: &T, secret: &[u8], iat: i64) -> Result<String> {
    let mac = hs256_key(secret)?;
    let value = serde_json::to_value(body).map_err(|e| ProtocolError::Json {
        context: "signed response body",
        message: e.to_string(),
    })?;
    let serde_json::Value::Object(mut claims) = value else {
        return Err(ProtocolError::invalid(
            "body",
            "must serialise to a JSON object",
        ));
    };
    if claims.contains_key("iat") {
        return Err(ProtocolError::invalid(
            "body",
            "already has an `iat` member",
        ));
    }
    claims.insert("iat".into(), iat.into());
    let payload = serde_json::to_vec(&claims).map_err(|e| ProtocolError::Json {
        context: "signed response body",
        message: e.to_string(),
    })?;
    let header = Header {
        alg: "HS256".into(),
        kid: None,
        typ: Some("JWT".into()),
        crit: None,
    };
    encode(&header, &payload, |input| {
        let mut mac = mac;
        mac.update(input);
        mac.finalize().into_bytes().to_vec()
    })
}

/// Verifies an HS256 signed response (constant-time MAC comparison), checks that `iat` is
/// no more than `max_age_seconds` old and not in the future (60 s of clock skew allowed), and
/// returns the body with `iat` removed, deserialised as `T`.
pub fn verify_response<T: DeserializeOwned>(
    token: &str,
    secret: &[u8],
    now: i64,
    max_age_seconds: i64,
) -> Result<(T, i64)> {
    let mac = hs256_key(secret)?;
    let parts = decode(token, "HS256")?;
    let mut mac = mac;
    mac.update(parts.signing_input.as_bytes());
    mac.verify_slice(&parts.signature)
        .map_err(|_| ProtocolError::BadSignature {
            what: "signed response",
        })?;
    let mut claims: serde_json::Map<String, serde_json::Value> =
        parse_strict_json("signed response", &parts.payload, MAX_TOKEN_BYTES)?;
    let iat = claims
        .remove("iat")
        .and_then(|v| v.as_i64())
        .ok_or_else(|| ProtocolError::invalid("iat", "missing or not an integer"))?;
    let age = now.saturating_sub(iat);
    if age > max_age_seconds || age < -60 {
        return Err(ProtocolError::StaleTimestamp {
            skew_seconds: age,
            tolerance_seconds: max_age_seconds,
        });
    }
    let body = serde_json::from_value(serde_json::Value::Object(claims)).map_err(|e| {
        ProtocolError::Json {
            context: "signed response body",
            message: e.to_string(),
        }
    })?;
    Ok((body, iat))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn response_round_trip_and_rejections() {
        let body = serde_json::json!({"status": "success", "live": true});
        let token = sign_response(&body, SECRET, 1_700_000_000).unwrap();
        let (back, iat): (serde_json::Value, i64) =
            verify_response(&token, SECRET, 1_700_000_010, 300).unwrap();
        assert_eq!((back, iat), (body.clone(), 1_700_000_000));

        let other = b"1123456789abcdef0123456789abcdef";
        assert!(matches!(
            verify_response::<serde_json::Value>(&token, other, 1_700_000_010, 300),
            Err(ProtocolError::BadSignature { .. })
        ));
        assert!(matches!(
            verify_response::<serde_json::Value>(&token, SECRET, 1_700_000_301, 300),
            Err(ProtocolError::StaleTimestamp { .. })
        ));
        assert!(matches!(
            verify_response::<serde_json::Value>(&token, SECRET, 1_699_999_000, 300),
            Err(ProtocolError::StaleTimestamp { .. })
        ));
        assert!(matches!(
            sign_response(&body, b"short", 0),
            Err(ProtocolError::WeakSecret { .. })
        ));
        assert!(sign_response(&serde_json::json!([1]), SECRET, 0).is_err());
        assert!(sign_response(&serde_json::json!({"iat": 1}), SECRET, 0).is_err());
    }

    #[test]
    fn alg_none_and_alg_swap_are_refused() {
        let body = serde_json::json!({"live": true});
        let token = sign_response(&body, SECRET, 1_700_000_000).unwrap();
        let (_, rest) = token.split_once('.').unwrap();
        for alg in ["none", "EdDSA", "hs256"] {
            let header = b64url_encode(format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#));
            let forged = format!("{header}.{rest}");
            assert!(matches!(
                verify_response::<serde_json::Value>(&forged, SECRET, 1_700_000_000, 300),
                Err(ProtocolError::UnsupportedAlgorithm { .. })
            ));
        }
        for bad in ["", "a.b", "a.b.c.d", "!!.e30.AA"] {
            assert!(verify_response::<serde_json::Value>(bad, SECRET, 0, 300).is_err());
        }
    }

    #[test]
    fn crit_and_duplicate_header_members_are_refused() {
        let payload = b64url_encode(br#"{"iat":1}"#);
        for header in [
            r#"{"alg":"HS256","crit":["exp"],"exp":1}"#,
            r#"{"alg":"HS256","alg":"none"}"#,
        ] {
            let token = format!("{}.{payload}.AAAA", b64url_encode(header));
            assert!(decode(&token, "HS256").is_err(), "{header}");
        }
    }
}
