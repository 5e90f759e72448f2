#!/usr/bin/env bash
# Load benchmark of the verification server on loopback: a release server on a temporary
# SQLite file, genuine uploads of 3, 7 and 11 frames (1, 3 and 5 challenges) sent by wrk, then
# verifications/s and submission-to-verdict latency read from the database. Bounded: N
# submissions per size (default 40, LIVENESS_BENCH_N), wrk at most 20 s, 10 min of verification per size.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
bash scripts/setup.sh
command -v wrk >/dev/null || { echo "installing wrk"; apt-get install -y -qq wrk >/dev/null; }

n=${LIVENESS_BENCH_N:-40}
work=$(mktemp -d)
server_pid=""
trap '[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"' EXIT
cargo build -q --release --locked -p liveness-server --bin liveness-server --example loadgen
bin=target/release/liveness-server
[ -n "${CARGO_TARGET_DIR:-}" ] && bin="$CARGO_TARGET_DIR/release/liveness-server"
loadgen="$(dirname "$bin")/examples/loadgen"
db="sqlite://$work/bench.db?mode=rwc"

api_key=$("$bin" --database-url "$db" --log-format text admin tenant create --name bench | python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')
"$bin" admin data-keys new >"$work/data.keys"
"$bin" --database-url "$db" serve --bind 127.0.0.1:0 --tenant-requests-per-minute 1000000 --data-key-file "$work/data.keys" \
  >"$work/listen.json" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 100); do [ -s "$work/listen.json" ] && break; sleep 0.1; done
url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["listening"])' "$work/listen.json")
for _ in $(seq 300); do curl -sf "$url/readyz" >/dev/null && break; sleep 0.2; done
echo "server $url on $(nproc) cores, one verification worker per core"

for challenges in 1 3 5; do
  frames=$((1 + 2 * challenges))
  dir="$work/c$challenges"
  "$loadgen" prepare --server "$url" --api-key "$api_key" --count "$n" --challenges "$challenges" --out "$dir"
  since=$(($(date +%s%3N) - 1))
  echo "== $frames frames per submission: wrk, 8 connections (upload latency; wrk's own rate counts its whole -d window, so rates come from the database below)"
  LIVENESS_REQUESTS="$dir/requests.txt" wrk -t1 -c8 -d20s --latency -s scripts/bench-server.lua "$url" |
    grep -E "^ +(50|90|99)%"
  for _ in $(seq 3000); do
    left=$(python3 - "$work/bench.db" "$since" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
print(c.execute("SELECT COUNT(*) FROM sessions WHERE submitted_at >= ? AND completed_at IS NULL", (int(sys.argv[2]),)).fetchone()[0])
PY
)
    [ "$left" = 0 ] && break
    sleep 0.2
  done
  "$loadgen" report --db "$db" --since-ms "$since" --label "$frames frames"
done
