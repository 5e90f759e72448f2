#!/usr/bin/env bash
# Benchmarks (not part of CI): the vision pipeline per stage, tract with onnxruntime side by
# side (the library inside the PyPI onnxruntime wheel), fp32 and int8, in a release build.
#   bash scripts/bench.sh [--frames N] [--iris] [--ops]
#   bash scripts/bench.sh --criterion          criterion's per-stage benchmarks instead
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
bash scripts/setup.sh
export_ort_dylib_path
if [ "${1:-}" = "--criterion" ]; then
  exec cargo bench --locked -p liveness-vision --bench stages
fi
cargo run --release --locked -q -p liveness-cli -- bench "$@"
