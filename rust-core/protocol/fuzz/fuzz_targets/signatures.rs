//! Signature verification on arbitrary input: signed manifests, verdict JWS and detached
//! verdicts, HS256 responses and webhook headers. None may panic; none may verify.
#![no_main]

use libfuzzer_sys::fuzz_target;
use liveness_protocol::{
    Jwks, SignedManifest, SignedVerdict, VerdictSigningKey, verify_response, verify_webhook,
};

fuzz_target!(|data: &[u8]| {
    let (head, rest) = data.split_at(data.len().min(96));
    let (key, sig) = head.split_at(head.len().min(32));
    if let Ok(signed) = SignedManifest::from_parts(rest.to_vec(), key, sig) {
        assert!(signed.verify().is_err(), "random bytes verified as a signed manifest");
    }
    let text = String::from_utf8_lossy(data);
    let jwks = Jwks {
        keys: vec![VerdictSigningKey::from_seed("k", &[7; 32]).expect("valid kid").jwk()],
    };
    assert!(jwks.verify_jws(&text).is_err());
    if let Ok(sv) = SignedVerdict::from_json(data) {
        assert!(jwks.verify(&sv).is_err());
    }
    let _ = Jwks::from_json(data);
    let secret = [3u8; 32];
    assert!(verify_response::<serde_json::Value>(&text, &secret, 1_700_000_000, 300).is_err());
    let (header, body) = text.split_once('\n').unwrap_or((&text, ""));
    assert!(verify_webhook(&secret, header, body.as_bytes(), 1_700_000_000).is_err());
});
