//! Tampered and malformed input: every case is a typed error, never a panic or a pass.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ed25519_dalek::Signer;
use liveness_protocol::encoding::b64url_encode;
use liveness_protocol::vectors::{sample_frame, sample_manifest};
use liveness_protocol::{
    DeviceSigningKey, EvidenceManifest, Jwks, Nonce, ProtocolError, SessionOptions, SignedManifest,
    SignedManifestWire, SignedVerdict, Verdict, VerdictKind, VerdictSigningKey, derive_plan,
};

const NOW: i64 = 1_767_225_600;

fn frames() -> Vec<Vec<u8>> {
    (0..3).map(|i| sample_frame(&format!("jpeg {i}"))).collect()
}

fn manifest() -> EvidenceManifest {
    let nonce = Nonce([9; 32]);
    let plan = derive_plan(&nonce, &SessionOptions::default()).unwrap();
    sample_manifest("ses_test", &nonce, &plan, &frames(), NOW).unwrap()
}

fn key() -> DeviceSigningKey {
    DeviceSigningKey::from_seed(&[5; 32])
}

/// Signs arbitrary bytes with the device key, as a compromised or buggy client could.
fn sign_raw(bytes: &[u8]) -> SignedManifest {
    let k = ed25519_dalek::SigningKey::from_bytes(&key().seed());
    SignedManifest {
        manifest_bytes: bytes.to_vec(),
        public_key: k.verifying_key().to_bytes(),
        signature: k.sign(bytes).to_bytes(),
    }
}

#[test]
fn genuine_manifest_verifies_and_binds_frames() {
    let signed = key().sign_manifest(&manifest()).unwrap();
    let back = signed.verify().unwrap();
    assert_eq!(back, manifest());
    back.verify_frames(&frames()).unwrap();
    let wire = signed.to_wire();
    assert_eq!(SignedManifest::from_wire(&wire).unwrap(), signed);
}

#[test]
fn any_flipped_byte_of_manifest_or_signature_is_refused() {
    let signed = key().sign_manifest(&manifest()).unwrap();
    for i in (0..signed.manifest_bytes.len()).step_by(7) {
        let mut t = signed.clone();
        t.manifest_bytes[i] ^= 0x01;
        assert_eq!(
            t.verify().unwrap_err(),
            ProtocolError::BadSignature { what: "device" },
            "byte {i}"
        );
    }
    for i in 0..64 {
        let mut t = signed.clone();
        t.signature[i] ^= 0x80;
        assert!(t.verify().is_err(), "signature byte {i}");
    }
    let mut other_key = signed.clone();
    other_key.public_key = DeviceSigningKey::from_seed(&[6; 32]).public_key();
    assert!(other_key.verify().is_err());
}

#[test]
fn evidence_is_bound_to_its_session_nonce_token_and_plan_order() {
    let nonce = Nonce([9; 32]);
    let options = SessionOptions {
        challenge_count: Some(3),
        ..Default::default()
    };
    let plan = derive_plan(&nonce, &options).unwrap();
    let mut m = sample_manifest("ses_test", &nonce, &plan, &frames(), NOW).unwrap();
    m.submission_token_sha256 = liveness_protocol::Sha256Digest::of(b"token");
    m.check_binding("ses_test", &plan, b"token").unwrap();
    let mismatch = |r| match r {
        Err(ProtocolError::SessionMismatch { what }) => what,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        mismatch(m.check_binding("ses_other", &plan, b"token")),
        "session_id"
    );
    assert_eq!(
        mismatch(m.check_binding("ses_test", &plan, b"tokem")),
        "submission token"
    );
    let other = derive_plan(&Nonce([8; 32]), &options).unwrap();
    assert_eq!(
        mismatch(m.check_binding("ses_test", &other, b"token")),
        "nonce"
    );
    let mut reordered = m.clone();
    reordered.timeline.swap(0, 1);
    assert_eq!(
        mismatch(reordered.check_binding("ses_test", &plan, b"token")),
        "challenge order"
    );
    // A session that ended early (a failed step, a timeout between steps, no face ever seen)
    // is still this session's: the verdict judges what is missing, the binding does not
    // refuse it.
    let mut short = m.clone();
    short.timeline.pop();
    short.check_binding("ses_test", &plan, b"token").unwrap();
    short.timeline.clear();
    short.check_binding("ses_test", &plan, b"token").unwrap();
    let mut swapped = m.clone();
    swapped.timeline.pop();
    swapped.timeline[0].kind = plan.steps[2].kind;
    assert_eq!(
        mismatch(swapped.check_binding("ses_test", &plan, b"token")),
        "challenge order"
    );
    let mut longer = m;
    longer.timeline.push(longer.timeline[0].clone());
    assert_eq!(
        mismatch(longer.check_binding("ses_test", &plan, b"token")),
        "challenge order"
    );
}

#[test]
fn tampered_or_missing_frames_are_refused() {
    let m = manifest();
    let mut f = frames();
    f[1][0] ^= 1;
    assert_eq!(
        m.verify_frames(&f),
        Err(ProtocolError::FrameHashMismatch { index: 1 })
    );
    let mut f = frames();
    f.swap(0, 2);
    assert_eq!(
        m.verify_frames(&f),
        Err(ProtocolError::FrameHashMismatch { index: 0 })
    );
    assert_eq!(
        m.verify_frames(&frames()[..2]),
        Err(ProtocolError::FrameCountMismatch {
            expected: 3,
            actual: 2
        })
    );
}

/// A decompression bomb: a few bytes whose header claims a huge picture. The hash binds the
/// bytes, not their meaning, so the declared size is checked against the header too.
#[test]
fn a_frame_whose_header_claims_another_size_or_none_is_refused() {
    let mut f = frames();
    // SOF0 at the header's end: height then width, big-endian.
    let at = f[1].len() - 16;
    f[1][at..at + 4].copy_from_slice(&[0x59, 0xD8, 0x59, 0xD8]);
    let mut m = manifest();
    m.frames[1].sha256 = liveness_protocol::Sha256Digest::of(&f[1]);
    assert_eq!(
        m.verify_frames(&f),
        Err(ProtocolError::FrameSizeMismatch {
            index: 1,
            declared_width: 640,
            declared_height: 480,
            width: 23000,
            height: 23000
        })
    );
    let html = b"<html><script>alert(1)</script></html>".to_vec();
    let mut f = frames();
    f[0] = html;
    m.frames[0].sha256 = liveness_protocol::Sha256Digest::of(&f[0]);
    assert_eq!(
        m.verify_frames(&f),
        Err(ProtocolError::FrameNotJpeg { index: 0 })
    );
}

#[test]
fn wrong_lengths_and_bad_base64_are_typed() {
    let signed = key().sign_manifest(&manifest()).unwrap();
    assert_eq!(
        SignedManifest::from_parts(signed.manifest_bytes.clone(), &[0; 31], &signed.signature),
        Err(ProtocolError::InvalidLength {
            what: "device public key",
            expected: 32,
            actual: 31
        })
    );
    assert_eq!(
        SignedManifest::from_parts(signed.manifest_bytes.clone(), &signed.public_key, &[0; 65]),
        Err(ProtocolError::InvalidLength {
            what: "device signature",
            expected: 64,
            actual: 65
        })
    );
    let wire = signed.to_wire();
    let bad = SignedManifestWire {
        signature: wire.signature.clone() + "=",
        ..wire.clone()
    };
    assert_eq!(
        SignedManifest::from_wire(&bad),
        Err(ProtocolError::InvalidBase64 { field: "signature" })
    );
    let bad = SignedManifestWire {
        public_key: b64url_encode([1u8; 16]),
        ..wire
    };
    assert!(matches!(
        SignedManifest::from_wire(&bad),
        Err(ProtocolError::InvalidLength { .. })
    ));
    // A small-order point (the identity) is not accepted as a device key.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let t = SignedManifest {
        public_key: identity,
        ..signed
    };
    assert!(matches!(
        t.verify(),
        Err(ProtocolError::BadSignature { .. } | ProtocolError::InvalidPublicKey)
    ));
}

fn json_of(m: &EvidenceManifest) -> serde_json::Value {
    serde_json::to_value(m).unwrap()
}

#[test]
fn signed_but_invalid_manifests_are_refused_after_the_signature() {
    let base = json_of(&manifest());
    let edit = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v = base.clone();
        f(&mut v);
        sign_raw(&serde_json::to_vec(&v).unwrap())
            .verify()
            .unwrap_err()
    };
    assert_eq!(
        edit(&|v| v["format_version"] = 2.into()),
        ProtocolError::UnsupportedFormatVersion {
            found: "2".into(),
            supported: 1
        }
    );
    assert!(matches!(
        edit(&|v| v["format_version"] = "1".into()),
        ProtocolError::UnsupportedFormatVersion { .. }
    ));
    assert!(matches!(
        edit(&|v| v
            .as_object_mut()
            .unwrap()
            .remove("format_version")
            .map(drop)
            .unwrap()),
        ProtocolError::InvalidField {
            field: "format_version",
            ..
        }
    ));
    assert!(matches!(
        edit(&|v| v["capture_started_at_ms"] = 0.into()),
        ProtocolError::TimestampOutOfRange {
            field: "capture_started_at_ms",
            ..
        }
    ));
    assert!(matches!(
        edit(&|v| v["capture_started_at_ms"] = i64::MAX.into()),
        ProtocolError::TimestampOutOfRange { .. }
    ));
    assert!(matches!(
        edit(&|v| v["frames"][0]["timestamp_ms"] = 3_600_000.into()),
        ProtocolError::TimestampOutOfRange {
            field: "frames.timestamp_ms",
            ..
        }
    ));
    assert!(matches!(
        edit(&|v| v["sdk"]["name"] = "x".repeat(129).into()),
        ProtocolError::FieldTooLong {
            field: "sdk.name",
            ..
        }
    ));
    assert!(matches!(
        edit(&|v| v["session_id"] = "bad id\n".into()),
        ProtocolError::InvalidField {
            field: "session_id",
            ..
        }
    ));
    assert!(matches!(
        edit(&|v| v["nonce"] = "AAAA".into()),
        ProtocolError::Json { .. }
    ));
    assert!(matches!(
        edit(&|v| v["submission_token_sha256"] = "AB".repeat(32).into()),
        ProtocolError::Json { .. }
    ));
    assert!(matches!(
        edit(&|v| v["unexpected"] = true.into()),
        ProtocolError::Json { .. }
    ));
    assert!(matches!(
        edit(&|v| {
            let f = v["frames"][0].clone();
            v["frames"] = serde_json::Value::Array(vec![f; 65]);
        }),
        ProtocolError::TooManyItems {
            field: "frames",
            ..
        }
    ));
    assert!(matches!(
        edit(&|v| v["frames"][1]["challenge_index"] = 9.into()),
        ProtocolError::InvalidField {
            field: "frames.challenge_index",
            ..
        }
    ));
    assert!(matches!(
        edit(&|v| v["frames"][1]["landmarks"]["yaw_deg"] = 400.0.into()),
        ProtocolError::InvalidField {
            field: "frames.landmarks",
            ..
        }
    ));
}

#[test]
fn duplicate_keys_and_oversize_manifests_are_refused() {
    let text = String::from_utf8(serde_json::to_vec(&manifest()).unwrap()).unwrap();
    let dup = text.replacen(
        r#""session_id":"ses_test""#,
        r#""session_id":"ses_test","session_id":"ses_evil""#,
        1,
    );
    assert_ne!(dup, text);
    assert_eq!(
        sign_raw(dup.as_bytes()).verify().unwrap_err(),
        ProtocolError::DuplicateKey {
            context: "evidence manifest",
            key: "session_id".into()
        }
    );
    let big = format!("{}{}", " ".repeat(300 * 1024), text);
    assert!(matches!(
        sign_raw(big.as_bytes()).verify().unwrap_err(),
        ProtocolError::TooLarge { max: 262_144, .. }
    ));
    assert!(matches!(
        sign_raw(b"\xff\xfe not json").verify().unwrap_err(),
        ProtocolError::Json { .. }
    ));
}

fn verdict() -> Verdict {
    Verdict::new("ses_test", VerdictKind::Live, 0.91234, NOW, None).unwrap()
}

#[test]
fn verdict_fields_are_all_covered_by_the_signature() {
    let key = VerdictSigningKey::from_seed("k1", &[1; 32]).unwrap();
    let jwks = Jwks {
        keys: vec![key.jwk()],
    };
    let signed = key.sign(&verdict()).unwrap();
    assert_eq!(signed.confidence, 0.9123);
    assert_eq!(jwks.verify(&signed).unwrap(), verdict());

    let tampers: [fn(&mut SignedVerdict); 5] = [
        |s| s.session_id = "ses_other".into(),
        |s| s.verdict = VerdictKind::Spoof,
        |s| s.confidence = 0.9124,
        |s| s.timestamp += 1,
        |s| s.photo_sha256 = Some(liveness_protocol::Sha256Digest::of(b"x")),
    ];
    for t in tampers {
        let mut s = signed.clone();
        t(&mut s);
        assert_eq!(
            jwks.verify(&s),
            Err(ProtocolError::BadSignature { what: "verdict" })
        );
    }
    let mut s = signed.clone();
    s.confidence = 0.91231;
    assert!(matches!(
        jwks.verify(&s),
        Err(ProtocolError::InvalidField {
            field: "confidence",
            ..
        })
    ));
    let mut s = signed.clone();
    s.kid = "k9".into();
    assert_eq!(
        jwks.verify(&s),
        Err(ProtocolError::UnknownKeyId { kid: "k9".into() })
    );
    let mut s = signed.clone();
    s.signature = "!!".into();
    assert!(matches!(
        jwks.verify(&s),
        Err(ProtocolError::InvalidBase64 { .. })
    ));
    let mut s = signed;
    s.signature = b64url_encode([0u8; 63]);
    assert!(matches!(
        jwks.verify(&s),
        Err(ProtocolError::InvalidLength { .. })
    ));
}

#[test]
fn verdicts_survive_key_rotation() {
    let old = VerdictSigningKey::from_seed("2026-01", &[1; 32]).unwrap();
    let new = VerdictSigningKey::from_seed("2026-07", &[2; 32]).unwrap();
    let before = old.sign(&verdict()).unwrap();
    let after = new.sign(&verdict()).unwrap();
    let jws_before = old.sign_jws(&verdict()).unwrap();
    let rotated = Jwks {
        keys: vec![new.jwk(), old.jwk()],
    };
    rotated.verify(&before).unwrap();
    rotated.verify(&after).unwrap();
    rotated.verify_jws(&jws_before).unwrap();
    let retired = Jwks {
        keys: vec![new.jwk()],
    };
    assert!(matches!(
        retired.verify(&before),
        Err(ProtocolError::UnknownKeyId { .. })
    ));
    // A signature moved under another kid does not verify.
    let mut swapped = before.clone();
    swapped.kid = "2026-07".into();
    assert!(matches!(
        rotated.verify(&swapped),
        Err(ProtocolError::BadSignature { .. })
    ));
}

#[test]
fn jws_tampering_and_bad_key_sets() {
    let key = VerdictSigningKey::from_seed("k1", &[1; 32]).unwrap();
    let jwks = Jwks {
        keys: vec![key.jwk()],
    };
    let jws = key.sign_jws(&verdict()).unwrap();
    assert_eq!(jwks.verify_jws(&jws).unwrap(), verdict());

    let parts: Vec<&str> = jws.split('.').collect();
    let spoof = serde_json::to_vec(&Verdict {
        verdict: VerdictKind::Spoof,
        ..verdict()
    })
    .unwrap();
    let forged = format!("{}.{}.{}", parts[0], b64url_encode(spoof), parts[2]);
    assert!(matches!(
        jwks.verify_jws(&forged),
        Err(ProtocolError::BadSignature { .. })
    ));
    let hs = b64url_encode(r#"{"alg":"HS256","kid":"k1"}"#);
    let swapped = format!("{hs}.{}.{}", parts[1], parts[2]);
    assert!(matches!(
        jwks.verify_jws(&swapped),
        Err(ProtocolError::UnsupportedAlgorithm { .. })
    ));
    let no_kid = b64url_encode(r#"{"alg":"EdDSA"}"#);
    let t = format!("{no_kid}.{}.{}", parts[1], parts[2]);
    assert!(matches!(
        jwks.verify_jws(&t),
        Err(ProtocolError::MalformedToken { .. })
    ));
    assert!(matches!(
        jwks.verify_jws("x.y"),
        Err(ProtocolError::MalformedToken { .. })
    ));

    let mut jwk = key.jwk();
    jwk.crv = "P-256".into();
    jwk.kty = "EC".into();
    let bad = Jwks { keys: vec![jwk] };
    assert!(matches!(
        bad.verify_jws(&jws),
        Err(ProtocolError::UnsupportedAlgorithm { .. })
    ));

    let dup = format!(
        r#"{{"keys":[{0},{0}]}}"#,
        serde_json::to_string(&key.jwk()).unwrap()
    );
    assert!(matches!(
        Jwks::from_json(dup.as_bytes()),
        Err(ProtocolError::InvalidField { .. })
    ));
    let set = serde_json::to_vec(&jwks).unwrap();
    assert_eq!(Jwks::from_json(&set).unwrap(), jwks);
}

#[test]
fn verdict_inputs_are_validated() {
    assert!(Verdict::new("ses", VerdictKind::Live, f64::NAN, NOW, None).is_err());
    assert!(matches!(
        Verdict::new("ses", VerdictKind::Live, 0.5, 0, None),
        Err(ProtocolError::TimestampOutOfRange { .. })
    ));
    assert!(Verdict::new("ses/../x", VerdictKind::Live, 0.5, NOW, None).is_err());
    assert_eq!(
        Verdict::new("s", VerdictKind::Live, 7.0, NOW, None)
            .unwrap()
            .confidence,
        1.0
    );
    assert!(VerdictSigningKey::from_seed("bad kid!", &[0; 32]).is_err());
    assert!(SignedVerdict::from_json(br#"{"session_id":"s","session_id":"t"}"#).is_err());
}
