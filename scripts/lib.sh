# Shared paths for the project's scripts (sourced, not run).
# LIVENESS_CACHE holds what set-up installs outside the checkout (the Python tools).
LIVENESS_CACHE="${LIVENESS_CACHE:-$HOME/.cache/liveness}"
VENV="$LIVENESS_CACHE/venv"
S3_VENV="$LIVENESS_CACHE/s3-venv"

# The onnxruntime library inside the PyPI wheel installed in $VENV (for the tract/ORT
# comparison and benchmarks), exported as ORT_DYLIB_PATH.
export_ort_dylib_path() {
  ORT_DYLIB_PATH=$(ls "$VENV"/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.* | head -n 1)
  export ORT_DYLIB_PATH
}

# Starts a throwaway PostgreSQL cluster (Debian's postgresql package) on a free loopback
# port, for the server's test suite, and exports LIVENESS_TEST_POSTGRES_URL. Stop it with
# stop_test_postgres (callers put that in their EXIT trap). As root, the cluster runs as the
# package's `postgres` user: initdb refuses to run as root.
start_test_postgres() {
  local initdb pg_bin port as_user=()
  initdb=$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$initdb" ]; then
    echo "PostgreSQL is not installed: run scripts/setup.sh" >&2
    return 1
  fi
  pg_bin=$(dirname "$initdb")
  PG_TEST_DIR=$(mktemp -d /tmp/liveness-pg.XXXXXX)
  chmod 755 "$PG_TEST_DIR"
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres "$PG_TEST_DIR"
    as_user=(runuser -u postgres --)
  fi
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "${as_user[@]}" "$pg_bin/initdb" -D "$PG_TEST_DIR/data" -U liveness -A trust --no-sync >"$PG_TEST_DIR/initdb.log" 2>&1 ||
    { cat "$PG_TEST_DIR/initdb.log" >&2; return 1; }
  "${as_user[@]}" "$pg_bin/pg_ctl" -D "$PG_TEST_DIR/data" -l "$PG_TEST_DIR/server.log" -w \
    -o "-p $port -k $PG_TEST_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null ||
    { cat "$PG_TEST_DIR/server.log" >&2; return 1; }
  PG_TEST_CTL=("${as_user[@]}" "$pg_bin/pg_ctl" -D "$PG_TEST_DIR/data")
  export LIVENESS_TEST_POSTGRES_URL="postgres://liveness@127.0.0.1:$port/postgres"
  export LIVENESS_REQUIRE_POSTGRES=1
  echo "PostgreSQL for the tests: $LIVENESS_TEST_POSTGRES_URL"
}

stop_test_postgres() {
  if [ -n "${PG_TEST_DIR:-}" ]; then
    "${PG_TEST_CTL[@]}" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$PG_TEST_DIR"
    PG_TEST_DIR=""
  fi
}

# An S3-compatible server (moto) on a free loopback port for the object-storage tests; each
# test makes its own bucket. Exports LIVENESS_TEST_S3_URL (and makes its absence a failure).
start_test_s3() {
  S3_TEST_DIR=$(mktemp -d /tmp/liveness-s3.XXXXXX)
  "$S3_VENV/bin/moto_server" -H 127.0.0.1 -p 0 >"$S3_TEST_DIR/server.log" 2>&1 &
  S3_TEST_PID=$!
  local url=""
  for _ in $(seq 150); do
    url=$(grep -o 'http://127.0.0.1:[0-9]*' "$S3_TEST_DIR/server.log" | head -n 1 || true)
    [ -n "$url" ] && curl -s -o /dev/null "$url/" && break
    url=""
    sleep 0.2
  done
  if [ -z "$url" ]; then
    cat "$S3_TEST_DIR/server.log" >&2
    return 1
  fi
  # One request before the tests' parallel ones: moto builds its S3 request router on first
  # use, and requests racing that first build fail with a 500 (seen with moto 5.2.6).
  curl -s -o /dev/null -X PUT -H 'content-length: 0' "$url/liveness-warm-up" &&
    curl -s -o /dev/null -X DELETE "$url/liveness-warm-up"
  export LIVENESS_TEST_S3_URL="$url"
  export LIVENESS_REQUIRE_S3=1
  echo "S3 (moto) for the tests: $LIVENESS_TEST_S3_URL"
}

stop_test_s3() {
  if [ -n "${S3_TEST_PID:-}" ]; then
    kill "$S3_TEST_PID" 2>/dev/null || true
    wait "$S3_TEST_PID" 2>/dev/null || true
    rm -rf "$S3_TEST_DIR"
    S3_TEST_PID=""
  fi
}

# The Kotlin compiler for the host-JVM binding tests: JetBrains' kotlinc distribution as
# published on npm (`kotlin-compiler`); its lib/ also holds kotlinx-coroutines and kotlin-test.
KOTLIN_VERSION=2.4.20
KOTLIN_HOME="$LIVENESS_CACHE/kotlinc-$KOTLIN_VERSION"
# From Debian: JNA (the generated bindings load the library with it) and JUnit 4.
JNA_JAR=/usr/share/java/jna.jar
JUNIT_JARS=/usr/share/java/junit4.jar:/usr/share/java/hamcrest-core.jar

install_kotlinc() {
  [ -x "$KOTLIN_HOME/bin/kotlinc" ] && return 0
  local tmp
  tmp=$(mktemp -d)
  echo "setup: installing kotlinc $KOTLIN_VERSION from npm into $KOTLIN_HOME"
  (cd "$tmp" && npm pack -q "kotlin-compiler@$KOTLIN_VERSION" >/dev/null && tar xzf kotlin-compiler-*.tgz)
  rm -rf "$KOTLIN_HOME"
  mkdir -p "$(dirname "$KOTLIN_HOME")"
  mv "$tmp/package" "$KOTLIN_HOME"
  rm -rf "$tmp"
}

# The web package: wasm-bindgen's CLI must match the library's version in Cargo.lock; the
# browser tests drive Debian's chromium with playwright-core from npm (no bundled browser).
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/[^0-9.]/,""); print; exit}' Cargo.lock 2>/dev/null)
WASM_BINDGEN="$LIVENESS_CACHE/wasm-bindgen-$WASM_BINDGEN_VERSION/bin/wasm-bindgen"
PLAYWRIGHT_CORE_VERSION=1.57.0
NODE_TOOLS="$LIVENESS_CACHE/node-tools-$PLAYWRIGHT_CORE_VERSION"
CHROMIUM=/usr/bin/chromium

install_wasm_bindgen() {
  [ -x "$WASM_BINDGEN" ] && return 0
  echo "setup: installing wasm-bindgen-cli $WASM_BINDGEN_VERSION into $(dirname "$(dirname "$WASM_BINDGEN")")"
  # Not --locked: its lockfile can name a patch release the registry index here does not list yet.
  CARGO_TARGET_DIR="$LIVENESS_CACHE/wasm-bindgen-build" cargo install -q \
    wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --root "$(dirname "$(dirname "$WASM_BINDGEN")")"
  rm -rf "$LIVENESS_CACHE/wasm-bindgen-build"
}

install_playwright_core() {
  [ -f "$NODE_TOOLS/node_modules/playwright-core/package.json" ] && return 0
  echo "setup: installing playwright-core $PLAYWRIGHT_CORE_VERSION from npm into $NODE_TOOLS"
  mkdir -p "$NODE_TOOLS"
  (cd "$NODE_TOOLS" && npm install -q --no-audit --no-fund --no-save "playwright-core@$PLAYWRIGHT_CORE_VERSION" >/dev/null)
}

# Starts the built liveness-server binary (a process of its own) on a free loopback port over
# a SQLite file in DIR, with one tenant; waits for /readyz. Sets TEST_SERVER_URL,
# TEST_API_KEY and TEST_SERVER_PID (callers kill it in their EXIT trap). Further arguments
# go to `serve`.
start_test_server() {
  local dir=$1 name=$2 server="${CARGO_TARGET_DIR:-$PWD/target}/debug/liveness-server"
  local db="sqlite://$dir/server.db?mode=rwc"
  "$server" --database-url "$db" --log-format text admin tenant create --name "$name" >"$dir/tenant.json"
  TEST_API_KEY=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["api_key"])' "$dir/tenant.json")
  TEST_TENANT_ID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tenant_id"])' "$dir/tenant.json")
  TEST_DATABASE_URL=$db
  "$server" admin data-keys new >"$dir/data.keys"
  "$server" --database-url "$db" serve --bind 127.0.0.1:0 --workers 2 --data-key-file "$dir/data.keys" "${@:3}" >"$dir/listen.json" 2>"$dir/server.log" &
  TEST_SERVER_PID=$!
  for _ in $(seq 100); do [ -s "$dir/listen.json" ] && break; sleep 0.1; done
  TEST_SERVER_URL=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["listening"])' "$dir/listen.json")
  for _ in $(seq 600); do curl -sf "$TEST_SERVER_URL/readyz" >/dev/null && break; sleep 0.2; done
  export TEST_SERVER_URL TEST_API_KEY TEST_SERVER_PID TEST_TENANT_ID TEST_DATABASE_URL
}

