#!/usr/bin/env bash
# The project's main job, end to end on one machine: an in-process verification server on a
# loopback port with a temporary SQLite file, a tenant and a session created as an integrator
# would, the SDK running a rendered subject through the challenges with live guidance, the
# signed upload, and the verdict verified offline against the server's JWKS.
#   bash scripts/demo.sh                    a genuine user, verified live
#   bash scripts/demo.sh --attack print     (or replay, static): the attack rejected
#   bash scripts/demo.sh --fast             frames as fast as they are analysed
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build -q --release --locked -p liveness-cli
exec "${CARGO_TARGET_DIR:-target}/release/liveness" demo "$@"
