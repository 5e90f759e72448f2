//! `cargo run -p uniffi-bindgen -- generate --library <libliveness_ffi.so> --language kotlin ...`:
//! the bindings generator at exactly the uniffi version `liveness-ffi` is built with, so the
//! generated code and the scaffolding in the library always agree.

fn main() {
    uniffi::uniffi_bindgen_main()
}
