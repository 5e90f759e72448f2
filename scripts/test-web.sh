#!/usr/bin/env bash
# The hosted browser flow in a real Chromium: builds the web package (scripts/build-web.sh),
# starts the server with it on loopback, and runs bindings-web/tests/hosted.mjs
# (playwright-core driving Debian's chromium headless, the fake camera playing clips the CLI
# renders for each session's plan). Screenshots of every screen stay in the scratch folder's
# screens/ when KEEP_SCREENS=1 (printed at the end).
#   bash scripts/test-web.sh   (after scripts/setup.sh and a debug build of the workspace)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
target="${CARGO_TARGET_DIR:-$PWD/target}"
web="$target/liveness-web"
bash scripts/build-web.sh "$web"
work=$(mktemp -d)
TEST_SERVER_PID=""
cleanup() {
  [ -n "$TEST_SERVER_PID" ] && kill "$TEST_SERVER_PID" 2>/dev/null
  if [ "${KEEP_SCREENS:-0}" = 1 ]; then echo "test-web: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
start_test_server "$work" web-tests --web-dir "$web"
status=0
WORK="$work" WEB_DIR="$web" LIVENESS_CLI="$target/debug/liveness" LIVENESS_SERVER="$target/debug/liveness-server" CHROMIUM="$CHROMIUM" \
  NODE_PATH="$NODE_TOOLS/node_modules" node bindings-web/tests/hosted.mjs || status=$?
if [ "$status" -ne 0 ]; then
  echo "test-web: the server's log:" >&2
  tail -40 "$work/server.log" >&2
fi
exit "$status"
