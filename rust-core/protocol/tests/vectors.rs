//! Committed vectors: RFC 8032, and our own reference set reproduced byte for byte.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use liveness_protocol::device::SignedManifest;
use liveness_protocol::encoding::b64url_decode;
use liveness_protocol::vectors::{ReferenceVectors, reference_vectors};
use liveness_protocol::{
    ChallengePlan, DeviceSigningKey, ProtocolError, ResultBody, derive_plan, verify_response,
    verify_webhook,
};

/// The seed and time of the committed reference set.
const SEED: [u8; 32] = *b"liveness reference vectors seed!";
const NOW: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

fn vector_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(name)
}

#[test]
fn rfc8032_vectors_sign_and_verify() {
    let text = std::fs::read_to_string(vector_path("rfc8032_ed25519.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let vectors = doc["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 4);
    for v in vectors {
        let hexfield = |k: &str| hex::decode(v[k].as_str().unwrap()).unwrap();
        let seed: [u8; 32] = hexfield("secret_key").try_into().unwrap();
        let key = DeviceSigningKey::from_seed(&seed);
        assert_eq!(
            key.public_key().to_vec(),
            hexfield("public_key"),
            "{}",
            v["name"]
        );
        // The manifest path signs JSON, so exercise raw Ed25519 through the same primitives
        // the protocol uses: dalek directly for signing, the protocol's strict verification.
        let dalek = ed25519_dalek::SigningKey::from_bytes(&seed);
        use ed25519_dalek::Signer;
        let sig = dalek.sign(&hexfield("message")).to_bytes();
        assert_eq!(sig.to_vec(), hexfield("signature"), "{}", v["name"]);
        let vk = ed25519_dalek::VerifyingKey::from_bytes(&key.public_key()).unwrap();
        vk.verify_strict(
            &hexfield("message"),
            &ed25519_dalek::Signature::from_bytes(&sig),
        )
        .unwrap();
        let mut flipped = sig;
        flipped[10] ^= 1;
        assert!(
            vk.verify_strict(
                &hexfield("message"),
                &ed25519_dalek::Signature::from_bytes(&flipped)
            )
            .is_err()
        );
    }
}

#[test]
fn reference_vectors_are_reproduced_exactly() {
    let generated = reference_vectors(&SEED, NOW).unwrap();
    let text = serde_json::to_string_pretty(&generated).unwrap() + "\n";
    let path = vector_path("reference.json");
    if std::env::var_os("LIVENESS_UPDATE_VECTORS").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let committed = std::fs::read_to_string(&path)
        .expect("tests/vectors/reference.json is missing: run with LIVENESS_UPDATE_VECTORS=1");
    assert_eq!(
        committed, text,
        "the protocol's output changed; if on purpose, regenerate with LIVENESS_UPDATE_VECTORS=1"
    );
}

#[test]
fn committed_reference_vectors_verify() {
    let text = std::fs::read(vector_path("reference.json")).unwrap();
    let v: ReferenceVectors = serde_json::from_slice(&text).unwrap();

    for p in &v.plans {
        assert_eq!(derive_plan(&p.plan.nonce, &p.options).unwrap(), p.plan);
        let json = serde_json::to_vec(&p.plan).unwrap();
        assert_eq!(ChallengePlan::from_json(&json).unwrap(), p.plan);
    }

    let signed = SignedManifest::from_wire(&v.manifest.signed).unwrap();
    let manifest = signed.verify().unwrap();
    let frames: Vec<Vec<u8>> = v
        .manifest
        .frames
        .iter()
        .map(|f| b64url_decode("frame", f).unwrap())
        .collect();
    manifest.verify_frames(&frames).unwrap();

    let verdict = v.verdict.jwks.verify(&v.verdict.signed_verdict).unwrap();
    assert_eq!(
        String::from_utf8(verdict.canonical_bytes().unwrap()).unwrap(),
        v.verdict.canonical
    );
    assert_eq!(v.verdict.jwks.verify_jws(&v.verdict.jws).unwrap(), verdict);

    let secret = b64url_decode("secret", &v.signed_response.secret).unwrap();
    let (body, iat): (ResultBody, i64) =
        verify_response(&v.signed_response.token, &secret, NOW + 5, 300).unwrap();
    assert_eq!((body, iat), (v.signed_response.body.clone(), NOW));

    let wsecret = b64url_decode("secret", &v.webhook.secret).unwrap();
    assert_eq!(
        verify_webhook(&wsecret, &v.webhook.header, v.webhook.body.as_bytes(), NOW).unwrap(),
        NOW
    );
    assert!(matches!(
        verify_webhook(
            &wsecret,
            &v.webhook.header,
            v.webhook.body.as_bytes(),
            NOW + 301
        ),
        Err(ProtocolError::StaleTimestamp { .. })
    ));
}

#[test]
fn fresh_random_keys_give_verifiable_vectors() {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).unwrap();
    let v = reference_vectors(&seed, NOW).unwrap();
    let signed = SignedManifest::from_wire(&v.manifest.signed).unwrap();
    signed.verify().unwrap();
    v.verdict.jwks.verify(&v.verdict.signed_verdict).unwrap();
    v.verdict.jwks.verify_jws(&v.verdict.jws).unwrap();
}
