//! Options parsing and plan derivation: never panics, and every derived plan is valid.
#![no_main]

use libfuzzer_sys::fuzz_target;
use liveness_protocol::{ChallengePlan, Nonce, SessionOptions, derive_plan};

fuzz_target!(|data: &[u8]| {
    if data.len() < 32 {
        return;
    }
    let (nonce, json) = data.split_at(32);
    let nonce = Nonce(nonce.try_into().expect("32 bytes"));
    if let Ok(options) = SessionOptions::from_json(json) {
        let plan = derive_plan(&nonce, &options).expect("validated options always give a plan");
        plan.validate().expect("derived plans are valid");
        let bytes = serde_json::to_vec(&plan).expect("serialises");
        assert_eq!(ChallengePlan::from_json(&bytes).expect("parses"), plan);
    }
    let _ = ChallengePlan::from_json(data);
});
