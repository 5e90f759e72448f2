#!/usr/bin/env bash
# Scale-out benchmark: release server instances sharing one throwaway PostgreSQL on loopback,
# genuine 7-frame uploads (3 challenges, `loadgen prepare`) sent by wrk, split between the
# instances as a load balancer would, each instance with one verification worker.
#   1. one instance: verifications/s;
#   2. two instances: verifications/s (the queue is the database, so this should be ~2x);
#   3. two instances, one killed with SIGKILL once a third of the verdicts are stored: its
#      claimed jobs and webhook deliveries come back to the survivor when their leases run out;
#      `loadgen audit` then checks that no job was lost or decided twice (DB rows, both
#      instances' logs, and a webhook receiver's log of Idempotency-Keys) and exits 1 if one was.
# N submissions per phase (default 40, LIVENESS_BENCH_N). LIVENESS_BENCH_PROFILE=dev uses the
# debug build (to try the script quickly; its figures are not the release ones).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
bash scripts/setup.sh
command -v wrk >/dev/null || { echo "installing wrk"; apt-get install -y -qq wrk >/dev/null; }

n=${LIVENESS_BENCH_N:-40}
challenges=3
lease_ms=3000
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  stop_test_postgres
  rm -rf "$work"
}
trap cleanup EXIT

profile=${LIVENESS_BENCH_PROFILE:-release}
if [ "$profile" = dev ]; then
  cargo build -q --locked -p liveness-server --bin liveness-server --example loadgen
  out=debug
else
  cargo build -q --release --locked -p liveness-server --bin liveness-server --example loadgen
  out=release
fi
bin="${CARGO_TARGET_DIR:-target}/$out/liveness-server"
loadgen="$(dirname "$bin")/examples/loadgen"

start_test_postgres >/dev/null
db=$LIVENESS_TEST_POSTGRES_URL
count_sql() { psql "$db" -tAq -c "$1"; }

api_key=$("$bin" --database-url "$db" --log-format text admin tenant create --name bench | python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')
"$bin" admin data-keys new >"$work/data.keys"

# The integrator's webhook receiver: one line per delivery received (retries included).
python3 - "$work/webhooks.txt" "$work/receiver.port" <<'PY' &
import http.server, json, sys, threading
out = open(sys.argv[1], "a", buffering=1)
lock = threading.Lock()
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with lock:
            out.write(f'{self.headers["Idempotency-Key"]} {self.headers["Liveness-Event"]} {body["data"]["session_id"]}\n')
        self.send_response(200)
        self.end_headers()
    def log_message(self, *args):
        pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
open(sys.argv[2], "w").write(str(s.server_address[1]))
s.serve_forever()
PY
pids+=($!)
for _ in $(seq 100); do [ -s "$work/receiver.port" ] && break; sleep 0.1; done
webhook_url="http://127.0.0.1:$(cat "$work/receiver.port")/hook"

# start_instance NAME: prints the instance's URL once it is ready; its pid goes in pid_NAME.
start_instance() {
  local name=$1 url
  "$bin" --database-url "$db" serve --bind 127.0.0.1:0 --workers 1 --tenant-requests-per-minute 1000000 \
    --data-key-file "$work/data.keys" --allow-loopback-webhooks \
    --job-lease-ms "$lease_ms" --webhook-lease-ms "$lease_ms" --webhook-backoff-base-ms 500 \
    >"$work/$name.listen" 2>"$work/$name.log" &
  pids+=($!)
  printf -v "pid_$name" '%s' "$!"
  for _ in $(seq 100); do [ -s "$work/$name.listen" ] && break; sleep 0.1; done
  url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["listening"])' "$work/$name.listen")
  for _ in $(seq 300); do curl -sf "$url/readyz" >/dev/null && break; sleep 0.2; done
  printf -v "url_$name" '%s' "$url"
}

# send PHASE URL...: prepares N uploads, sends them split round-robin between the URLs (one wrk
# each, 4 connections) and sets `since` to the time before the first was sent.
send() {
  local phase=$1 i=0 u
  shift
  local dir="$work/$phase"
  "$loadgen" prepare --server "$1" --api-key "$api_key" --count "$n" --challenges "$challenges" \
    --webhook-url "$webhook_url" --out "$dir" >/dev/null
  since=$(($(date +%s%3N) - 1))
  local wrks=()
  for u in "$@"; do
    awk -v k=$# -v i=$i 'NR % k == i' "$dir/requests.txt" >"$dir/requests-$i.txt"
    LIVENESS_REQUESTS="$dir/requests-$i.txt" wrk -t1 -c4 -d20s -s scripts/bench-server.lua "$u" >"$dir/wrk-$i.txt" 2>&1 &
    wrks+=($!)
    i=$((i + 1))
  done
  # wrk keeps its connections busy until -d runs out (re-sending the last upload, answered as
  # the same one); stop it once every upload is stored.
  for _ in $(seq 200); do
    [ "$(count_sql "SELECT COUNT(*) FROM sessions WHERE submitted_at >= $since")" -ge "$n" ] && break
    sleep 0.1
  done
  kill "${wrks[@]}" 2>/dev/null || true
  wait "${wrks[@]}" 2>/dev/null || true
}

decided() { count_sql "SELECT COUNT(*) FROM sessions WHERE submitted_at >= $since AND completed_at IS NOT NULL"; }
submitted() { count_sql "SELECT COUNT(*) FROM sessions WHERE submitted_at >= $since"; }

wait_all_decided() {
  local stored
  stored=$(submitted)
  [ "$stored" -eq "$n" ] || echo "note: $stored of $n uploads were stored (see wrk's output)"
  for _ in $(seq 3000); do
    [ "$(decided)" -ge "$stored" ] && return 0
    sleep 0.2
  done
  echo "not every submission was decided within 10 minutes" >&2
  return 1
}

echo "PostgreSQL on loopback, $(nproc) cores, one verification worker per instance, $n uploads of $((1 + 2 * challenges)) frames per phase"
start_instance a
send one "$url_a"
wait_all_decided
"$loadgen" report --db "$db" --since-ms "$since" --label "1 instance"

start_instance b
send two "$url_a" "$url_b"
wait_all_decided
"$loadgen" report --db "$db" --since-ms "$since" --label "2 instances"

send kill "$url_a" "$url_b"
echo "uploads sent: $(submitted) stored, $(decided) decided"
for _ in $(seq 3000); do
  [ "$(decided)" -ge $((n / 3)) ] && break
  sleep 0.05
done
kill -KILL "$pid_b"
running=$(count_sql "SELECT COUNT(*) FROM jobs j JOIN sessions s ON s.id = j.session_id WHERE s.submitted_at >= $since AND j.status IN ('queued', 'running')")
echo "killed instance b with $(decided) of $n decided and $running jobs queued or running"
wait_all_decided
"$loadgen" report --db "$db" --since-ms "$since" --label "2 instances, one killed"
# Deliveries the dead instance had claimed come back after their lease, then are sent.
for _ in $(seq 300); do
  pending=$(count_sql "SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending'")
  [ "$pending" = 0 ] && break
  sleep 0.2
done
"$loadgen" audit --db "$db" --since-ms "$since" --logs "$work/a.log,$work/b.log" --webhooks "$work/webhooks.txt"
