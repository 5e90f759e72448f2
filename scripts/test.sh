#!/usr/bin/env bash
# Runs every test of the project, after setting up what is missing (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
bash scripts/setup.sh

export_ort_dylib_path

scratch=$(mktemp -d)
trap 'stop_test_postgres; rm -rf "$scratch"' EXIT
# The server's suite runs on SQLite and on this PostgreSQL.
start_test_postgres

echo "== Rust tests"
cargo test --workspace --locked
# The CLI as the tests built it: `cargo run -p liveness-cli` would resolve features for that
# package alone and rebuild much of the graph.
cli="${CARGO_TARGET_DIR:-target}/debug/liveness"

echo "== Kotlin bindings on the host JVM (generated + hand-written layer, against a loopback server)"
bash scripts/test-kotlin.sh

echo "== The SDK's crate graph for Android arm64 (cargo check)"
bash scripts/check-android.sh

echo "== Swift: generated bindings, C header, hand-written layer and sample (no Swift compiler here)"
bash scripts/check-swift.sh

echo "== Protocol interop: independent Python verifiers (PyNaCl, cryptography, PyJWT, jwcrypto)"
"$cli" vectors --out "$scratch/fresh.json"
"$VENV/bin/python" scripts/interop/verify_protocol_vectors.py \
  rust-core/protocol/tests/vectors/reference.json "$scratch/fresh.json"

echo "== tract vs onnxruntime on identical inputs (fp32 FaceMesh must agree within 1 px)"
"$cli" compare-engines --max-px 1.0
