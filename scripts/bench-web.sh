#!/usr/bin/env bash
# The browser's per-frame cost against native tract, on this machine: the same
# `Check::push_rgba` on the same kind of rendered 640x480 subject, natively (cargo bench,
# release) and in headless Chromium (the hosted page's genuine run, which reports the core's
# time per frame and how soon the first frame was analysed). Prints both; nothing asserted.
#   bash scripts/bench-web.sh   (after scripts/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== native (cargo bench -p liveness-web --bench per_frame)"
cargo bench -q --locked -p liveness-web --bench per_frame
echo "== Chromium (the hosted page, fake camera; see scripts/test-web.sh)"
target="${CARGO_TARGET_DIR:-$PWD/target}"
[ -x "$target/debug/liveness" ] && [ -x "$target/debug/liveness-server" ] || cargo build -q --locked -p liveness-cli -p liveness-server
ONLY=genuine bash scripts/test-web.sh | grep -E '^(ok|FAIL)'
