//! # liveness-web
//!
//! The SDK core in the browser. The same capture the phones run (`liveness-capture`: vision
//! pipeline, challenge engine, evidence) compiled to `wasm32-unknown-unknown` with
//! wasm-bindgen. What the browser does better stays in JavaScript (`bindings-web/`): the
//! camera (`getUserMedia`, frames drawn from a video element), the network (`fetch`, same
//! origin) and the device key (a non-extractable WebCrypto Ed25519 key in IndexedDB; where the
//! browser lacks Ed25519, [`LivenessCheck::sign_with_ephemeral_key`] signs with a key made in
//! the core for this check, and the manifest says which in `device.key_storage`).
//!
//! The flow a page drives: `new LivenessCheck(session, browser)` → `model_files()` and
//! `load_model(file, bytes)` for each (SHA-256 checked against this build) → `start()` →
//! `push_rgba(...)` per video frame until `done` → `manifest()` → sign → upload the manifest,
//! key, signature and `frame(i)` JPEGs to `POST /v1/submissions`.
//!
//! Errors reach JavaScript as `Error`s whose message starts with a stable code
//! (`invalid_input: ...`); nothing panics (the workspace denies `unwrap`/`panic`).

mod check;

pub use check::{
    BrowserInfo, Check, Descriptor, PRECISION, WebError, event_json, model_files, prepare_model,
};

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn console_error(message: &str);
}

/// A panic aborts the module (the `web` profile has `panic = "abort"`) and the page gets a
/// bare `RuntimeError: unreachable`; this puts the panic's message in the console first, so
/// a report from the field says where.
fn report_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if cfg!(target_arch = "wasm32") {
            std::panic::set_hook(Box::new(|info| {
                console_error(&format!("liveness-web: {info}"))
            }));
        }
    });
}

fn js(e: WebError) -> JsError {
    JsError::new(&e.to_string())
}

/// One liveness check (see the crate documentation for the order of calls).
#[wasm_bindgen]
#[derive(Debug)]
pub struct LivenessCheck(Check);

#[wasm_bindgen]
impl LivenessCheck {
    /// `session`: the session JSON the page was given (session id, nonce, plan, submission
    /// token and its expiry). `browser`: `{browser, os, key_storage, origin}`.
    #[wasm_bindgen(constructor)]
    pub fn new(session: &str, browser: &str) -> Result<LivenessCheck, JsError> {
        report_panics();
        Check::new(session, browser).map(Self).map_err(js)
    }

    /// The models to fetch, as JSON `[{file, sha256, bytes}]`.
    #[wasm_bindgen(js_name = modelFiles)]
    pub fn model_files() -> Result<String, JsError> {
        model_files().map(|v| v.to_string()).map_err(js)
    }

    #[wasm_bindgen(js_name = loadModel)]
    pub fn load_model(&mut self, file: &str, bytes: &[u8]) -> Result<(), JsError> {
        self.0.load_model(file, bytes).map_err(js)
    }

    /// Parses, checks and optimises a model ahead of the page's checks (see `preload()` in
    /// liveness.js); a check then takes it with `loadPrepared`.
    #[wasm_bindgen(js_name = prepareModel)]
    pub fn prepare_model(file: &str, bytes: &[u8]) -> Result<(), JsError> {
        report_panics();
        prepare_model(file, bytes).map_err(js)
    }

    /// Takes `file`'s prepared model; `false` when none was prepared.
    #[wasm_bindgen(js_name = loadPrepared)]
    pub fn load_prepared(&mut self, file: &str) -> Result<bool, JsError> {
        self.0.load_prepared(file).map_err(js)
    }

    pub fn start(&mut self) -> Result<(), JsError> {
        self.0.start().map_err(js)
    }

    /// One frame's RGBA pixels; returns JSON `{events, done}`.
    #[wasm_bindgen(js_name = pushRgba)]
    pub fn push_rgba(
        &mut self,
        rgba: &[u8],
        width: u32,
        height: u32,
        t_ms: f64,
        now_unix_ms: f64,
    ) -> Result<String, JsError> {
        self.0
            .push_rgba(rgba, width, height, t_ms, now_unix_ms)
            .map(|v| v.to_string())
            .map_err(js)
    }

    #[wasm_bindgen(js_name = screenPresented)]
    pub fn screen_presented(&mut self, index: u8, t_ms: f64) {
        self.0.screen_presented(index, t_ms);
    }

    /// Ends the capture early (`timed_out`, or `stopped` when the frames stopped); JSON events.
    pub fn end(&mut self, reason: &str) -> String {
        self.0.end(reason).to_string()
    }

    /// The manifest's exact bytes, to sign.
    pub fn manifest(&mut self) -> Result<Vec<u8>, JsError> {
        self.0.manifest().map_err(js)
    }

    /// Public key (32 bytes) ‖ signature (64), for a browser without WebCrypto Ed25519.
    #[wasm_bindgen(js_name = signWithEphemeralKey)]
    pub fn sign_with_ephemeral_key(&self) -> Result<Vec<u8>, JsError> {
        self.0.sign_with_ephemeral_key().map_err(js)
    }

    #[wasm_bindgen(js_name = frameCount)]
    pub fn frame_count(&self) -> usize {
        self.0.frames().len()
    }

    /// Evidence JPEG `index` (photo first); empty past the end.
    pub fn frame(&self, index: usize) -> Vec<u8> {
        self.0.frames().get(index).cloned().unwrap_or_default()
    }

    /// JSON `{passed, failure}` once the capture ended, else `null`.
    #[wasm_bindgen(js_name = localOutcome)]
    pub fn local_outcome(&self) -> String {
        self.0.local_outcome().to_string()
    }
}
