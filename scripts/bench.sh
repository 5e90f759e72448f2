#!/usr/bin/env bash
# Benchmarks (not part of CI): the vision pipeline per stage, tract with onnxruntime side by
# side (the library inside the PyPI onnxruntime wheel), fp32 and int8, in a release build.
#   bash scripts/bench.sh [--frames N] [--iris] [--ops]
#   bash scripts/bench.sh --criterion          criterion's per-stage benchmarks instead
#   bash scripts/bench.sh --session            one SDK session against a server in another
#                                              process: peak RSS, evidence size, time to verdict
# The server's load benchmark is scripts/bench-server.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
bash scripts/setup.sh
export_ort_dylib_path
if [ "${1:-}" = "--criterion" ]; then
  exec cargo bench --locked -p liveness-vision --bench stages
fi
if [ "${1:-}" = "--session" ]; then
  cargo build -q --release --locked -p liveness-cli -p liveness-server
  bin="${CARGO_TARGET_DIR:-target}/release"
  work=$(mktemp -d)
  trap 'kill $(cat "$work/pid" 2>/dev/null) 2>/dev/null; rm -rf "$work"' EXIT
  db="sqlite://$work/bench.db?mode=rwc"
  key=$("$bin/liveness-server" --database-url "$db" admin tenant create --name bench |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')
  "$bin/liveness-server" admin data-keys new >"$work/data.keys"
  "$bin/liveness-server" --database-url "$db" serve --bind 127.0.0.1:0 --data-key-file "$work/data.keys" >"$work/listen.json" 2>/dev/null &
  echo $! >"$work/pid"
  for _ in $(seq 100); do [ -s "$work/listen.json" ] && break; sleep 0.1; done
  url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["listening"])' "$work/listen.json")
  for _ in $(seq 300); do curl -sf "$url/readyz" >/dev/null && break; sleep 0.2; done
  exec "$bin/liveness" session-bench --server "$url" --api-key "$key"
fi
cargo run --release --locked -q -p liveness-cli -- bench "$@"
