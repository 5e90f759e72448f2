//! Manifest parsing: never panics, and whatever parses survives a round trip unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use liveness_protocol::EvidenceManifest;

fuzz_target!(|data: &[u8]| {
    if let Ok(manifest) = EvidenceManifest::from_json_bytes(data) {
        let bytes = manifest.to_json_bytes().expect("a parsed manifest re-serialises");
        let again = EvidenceManifest::from_json_bytes(&bytes).expect("and parses again");
        assert_eq!(manifest, again);
    }
});
