//! Webhook signatures.
//!
//! # Header
//! Every webhook POST carries
//!
//! ```text
//! Liveness-Signature: t=1700000000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd
//! ```
//!
//! `t` is the Unix time of sending in seconds (decimal, no sign, no leading zeros); each `v1` is
//! the lowercase hex HMAC-SHA256, keyed with the tenant's webhook secret, of the ASCII bytes
//! `t + "." + body`, the body being the exact request body. During a secret rotation the
//! server sends one `v1` per active secret; a receiver accepts if any matches. Unknown
//! `key=value` members are ignored so schemes can be added later.
//!
//! A receiver must refuse a `t` more than five minutes away from its clock (replay window) and
//! compare signatures in constant time, as [`verify_webhook`] does.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::{ProtocolError, Result};

pub const WEBHOOK_SIGNATURE_HEADER: &str = "Liveness-Signature";
/// Seconds a webhook timestamp may differ from the receiver's clock.
pub const WEBHOOK_TOLERANCE_SECONDS: i64 = 300;
const MAX_HEADER_BYTES: usize = 1024;
const MAX_SIGNATURES: usize = 8;
const HEADER: &str = WEBHOOK_SIGNATURE_HEADER;

fn mac(secret: &[u8], timestamp: &str, body: &[u8]) -> Result<Hmac<Sha256>> {
    if secret.len() < 16 {
        return Err(ProtocolError::WeakSecret {
            min: 16,
            actual: secret.len(),
        });
    }
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret).map_err(|_| ProtocolError::WeakSecret {
            min: 16,
            actual: secret.len(),
        })?;
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(mac)
}

/// The header value for `body` sent at `timestamp`, one `v1` per secret (current first).
pub fn sign_webhook(secrets: &[&[u8]], timestamp: i64, body: &[u8]) -> Result<String> {
    if secrets.is_empty() || secrets.len() > MAX_SIGNATURES {
        return Err(ProtocolError::invalid(
            "secrets",
            "1..=8 secrets are needed",
        ));
    }
    if timestamp < 0 {
        return Err(ProtocolError::TimestampOutOfRange {
            field: "t",
            value: timestamp,
        });
    }
    let t = timestamp.to_string();
    let mut header = format!("t={t}");
    for secret in secrets {
        let tag = mac(secret, &t, body)?.finalize().into_bytes();
        header.push_str(",v1=");
        header.push_str(&hex::encode(tag));
    }
    Ok(header)
}

/// Checks a `Liveness-Signature` header against `body` with the receiver's `secret` and
/// clock (`now`, Unix seconds). Returns the signed timestamp.
pub fn verify_webhook(secret: &[u8], header: &str, body: &[u8], now: i64) -> Result<i64> {
    let malformed = |reason: &str| ProtocolError::MalformedHeader {
        header: HEADER,
        reason: reason.to_owned(),
    };
    if header.len() > MAX_HEADER_BYTES {
        return Err(malformed("too long"));
    }
    let mut timestamp: Option<&str> = None;
    let mut tags = Vec::new();
    for member in header.split(',') {
        let (key, value) = member
            .trim()
            .split_once('=')
            .ok_or_else(|| malformed("members are key=value"))?;
        match key {
            "t" if timestamp.is_some() => return Err(malformed("t appears twice")),
            "t" => timestamp = Some(value),
            "v1" => {
                let mut tag = [0u8; 32];
                let lower = value
                    .bytes()
                    .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
                if value.len() != 64 || !lower || hex::decode_to_slice(value, &mut tag).is_err() {
                    return Err(malformed("v1 is 64 lowercase hex characters"));
                }
                tags.push(tag);
            }
            _ => {}
        }
    }
    let t_text = timestamp.ok_or_else(|| malformed("no t"))?;
    let t: i64 = t_text
        .parse()
        .ok()
        .filter(|t: &i64| *t >= 0 && t.to_string() == t_text)
        .ok_or_else(|| malformed("t is a decimal Unix time"))?;
    if tags.is_empty() || tags.len() > MAX_SIGNATURES {
        return Err(malformed("1..=8 v1 signatures are expected"));
    }
    let skew = now.saturating_sub(t);
    if skew.abs() > WEBHOOK_TOLERANCE_SECONDS {
        return Err(ProtocolError::StaleTimestamp {
            skew_seconds: skew,
            tolerance_seconds: WEBHOOK_TOLERANCE_SECONDS,
        });
    }
    let expected = mac(secret, t_text, body)?;
    // Every candidate is checked (constant time each), so timing reveals neither which one
    // matched nor how much of it.
    let mut matched = false;
    for tag in &tags {
        matched |= expected.clone().verify_slice(tag).is_ok();
    }
    if matched {
        Ok(t)
    } else {
        Err(ProtocolError::BadSignature { what: "webhook" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec_0123456789abcdef";
    const NOW: i64 = 1_700_000_000;

    #[test]
    fn round_trip_and_rotation() {
        let body = br#"{"session_id":"s1"}"#;
        let header = sign_webhook(&[SECRET], NOW, body).unwrap();
        assert!(header.starts_with("t=1700000000,v1="));
        assert_eq!(
            verify_webhook(SECRET, &header, body, NOW + 299).unwrap(),
            NOW
        );

        let old: &[u8] = b"whsec_old_old_old_old";
        let both = sign_webhook(&[SECRET, old], NOW, body).unwrap();
        assert_eq!(verify_webhook(old, &both, body, NOW).unwrap(), NOW);
        assert_eq!(verify_webhook(SECRET, &both, body, NOW).unwrap(), NOW);
    }

    #[test]
    fn rejections() {
        let body = b"{}";
        let header = sign_webhook(&[SECRET], NOW, body).unwrap();
        let bad_sig = |r| matches!(r, Err(ProtocolError::BadSignature { .. }));
        let stale = |r| matches!(r, Err(ProtocolError::StaleTimestamp { .. }));
        assert!(bad_sig(verify_webhook(SECRET, &header, b"{ }", NOW)));
        assert!(bad_sig(verify_webhook(
            b"whsec_another_secret",
            &header,
            body,
            NOW
        )));
        assert!(stale(verify_webhook(SECRET, &header, body, NOW + 301)));
        assert!(stale(verify_webhook(SECRET, &header, body, NOW - 301)));
        // Moving the timestamp forward invalidates the signature.
        let moved = header.replace("t=1700000000", "t=1700000100");
        assert!(bad_sig(verify_webhook(SECRET, &moved, body, NOW + 100)));
        for malformed in [
            "",
            "v1=00",
            "t=1700000000",
            "t=01700000000,v1=".to_string().as_str(),
            "t=1700000000,t=1700000000,v1=aa",
            "t=-5,v1=aa",
            "garbage",
        ] {
            assert!(
                matches!(
                    verify_webhook(SECRET, malformed, body, NOW),
                    Err(ProtocolError::MalformedHeader { .. })
                ),
                "{malformed}"
            );
        }
        let upper = header
            .to_uppercase()
            .replace("T=", "t=")
            .replace("V1=", "v1=");
        assert!(verify_webhook(SECRET, &upper, body, NOW).is_err());
    }
}
