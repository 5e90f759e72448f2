//! `liveness protocol-demo`: one session's messages, produced and checked in-process with
//! fresh keys. Every "refused" line is a real check run on a tampered copy; if one were
//! accepted the command fails.

use liveness_protocol::vectors::{sample_frame, sample_manifest};
use liveness_protocol::{
    DeviceSigningKey, Jwks, Nonce, ProtocolError, Result, SessionOptions, Sha256Digest, Verdict,
    VerdictKind, VerdictSigningKey, derive_plan, sign_webhook, verify_webhook,
};

use crate::unix_now;

fn refused(what: &str, outcome: Result<impl Sized>) -> Result<()> {
    match outcome {
        Err(e) => {
            println!("   refused: {what:<46} [{}]", e.code());
            Ok(())
        }
        Ok(_) => Err(ProtocolError::InvalidField {
            field: "protocol-demo",
            reason: format!("{what} was accepted"),
        }),
    }
}

pub fn run() -> Result<()> {
    let now = unix_now();
    println!("1. The integrator's backend creates a session");
    let options = SessionOptions::from_json(
        br#"{"action":"Random","challenge_count":3,"webhook_url":"https://example.com/hooks/liveness"}"#,
    )?;
    let nonce = Nonce::random()?;
    let session_id = format!("ses_{}", &Nonce::random()?.to_b64url()[..16]).replace('-', "_");
    let submission_token = Nonce::random()?.to_b64url();
    println!("   session {session_id}, nonce {}", nonce.to_b64url());

    println!("2. Challenge plan, derived from nonce + options (the server can recompute it)");
    let plan = derive_plan(&nonce, &options)?;
    for step in &plan.steps {
        println!(
            "   step {}: {:<20} within {:.1} s",
            step.index,
            step.kind.name(),
            f64::from(step.time_limit_ms) / 1000.0
        );
    }

    println!("3. The device signs its evidence with its Ed25519 key");
    let device = DeviceSigningKey::generate()?;
    let frames: Vec<Vec<u8>> = (0..=plan.steps.len())
        .map(|i| sample_frame(&format!("JPEG bytes of frame {i}")))
        .collect();
    let mut manifest = sample_manifest(&session_id, &nonce, &plan, &frames, now)?;
    manifest.submission_token_sha256 = Sha256Digest::of(&submission_token);
    let signed = device.sign_manifest(&manifest)?;
    println!(
        "   manifest {} bytes, {} frames bound by SHA-256",
        signed.manifest_bytes.len(),
        frames.len()
    );

    println!("4. The verifier checks the exact bytes it received");
    let received = signed.verify()?;
    received.verify_frames(&frames)?;
    received.check_binding(&session_id, &plan, submission_token.as_bytes())?;
    println!("   signature, frame hashes, nonce, token binding and challenge order: OK");

    println!("5. The server signs the verdict; its keys are published as a JWKS");
    let previous = VerdictSigningKey::generate("verdict-previous")?;
    let current = VerdictSigningKey::generate("verdict-current")?;
    let jwks = Jwks {
        keys: vec![current.jwk(), previous.jwk()],
    };
    let verdict = Verdict::new(
        &session_id,
        VerdictKind::Live,
        0.97,
        now,
        Some(Sha256Digest::of(&frames[0])),
    )?;
    let signed_verdict = current.sign(&verdict)?;
    let jws = current.sign_jws(&verdict)?;
    println!(
        "   {} with confidence {:.4}, kid {}",
        verdict.verdict.as_str(),
        verdict.confidence,
        signed_verdict.kid
    );

    println!("6. Anyone with the JWKS checks it offline");
    jwks.verify(&signed_verdict)?;
    jwks.verify_jws(&jws)?;
    println!("   detached signature OK, compact JWS OK");

    println!("7. Tampered copies");
    let mut t = signed.clone();
    let middle = t.manifest_bytes.len() / 2;
    t.manifest_bytes[middle] ^= 0x01;
    refused("manifest with one bit flipped", t.verify())?;
    let mut swapped = frames.clone();
    swapped.swap(0, 1);
    refused(
        "frames uploaded in another order",
        received.verify_frames(&swapped),
    )?;
    let mut other_nonce = nonce;
    other_nonce.0[0] ^= 1;
    let other_plan = derive_plan(&other_nonce, &options)?;
    refused(
        "recording replayed to another session",
        received.check_binding(&session_id, &other_plan, submission_token.as_bytes()),
    )?;
    refused(
        "evidence uploaded with another submission token",
        received.check_binding(&session_id, &plan, b"another token"),
    )?;
    let mut spoofed = signed_verdict.clone();
    spoofed.verdict = VerdictKind::Spoof;
    refused("verdict edited from live to spoof", jwks.verify(&spoofed))?;
    refused(
        "verdict checked against an unrelated JWKS",
        Jwks {
            keys: vec![VerdictSigningKey::generate("verdict-current")?.jwk()],
        }
        .verify(&signed_verdict),
    )?;
    let secret = Nonce::random()?.0;
    let body = br#"{"session_id":"demo","status":"success"}"#;
    let header = sign_webhook(&[&secret], now - 360, body)?;
    refused(
        "webhook delivered six minutes late",
        verify_webhook(&secret, &header, body, now),
    )?;
    println!("Protocol demo complete.");
    Ok(())
}
