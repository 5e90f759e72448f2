#!/usr/bin/env bash
# Property tests of the server from its own OpenAPI document: schemathesis (PyPI, pinned in
# scripts/interop/requirements.txt) generates requests for every operation from the document
# the server serves and checks every answer: no 5xx, only documented status codes, content
# types and headers, bodies matching their schemas, invalid input refused, authentication
# enforced, nothing served after DELETE. Configuration: server/schemathesis.toml.
# Runs the debug server binary the Rust tests built; part of scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
work=$(mktemp -d)
TEST_SERVER_PID=""
trap '[ -n "$TEST_SERVER_PID" ] && kill "$TEST_SERVER_PID" 2>/dev/null; rm -rf "$work"' EXIT
# Throttling would answer most generated requests 429 (documented, but it leaves the logic
# behind it untested), so this server allows far more than production does.
start_test_server "$work" schemathesis --tenant-requests-per-minute 1000000 \
  --failed-guesses-per-client 1000000 --failed-guesses-per-target 1000000
"$VENV/bin/schemathesis" --no-color --config-file server/schemathesis.toml run \
  "$TEST_SERVER_URL/v1/openapi.json" \
  -H "Authorization: Bearer $TEST_API_KEY" \
  --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-30}" --workers 2 --seed 1 \
  --warnings off
