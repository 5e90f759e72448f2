#!/usr/bin/env bash
# The project's main job. Until the end-to-end demo (camera -> server -> verdict) lands, it
# runs the most complete flow that exists: one session's protocol with fresh keys, checked
# and tampered with, in-process.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo run -q --locked -p liveness-cli -- protocol-demo "$@"
