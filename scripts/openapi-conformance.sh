#!/usr/bin/env bash
# Tests the OpenAPI document against the server it describes: starts a fresh debug
# `fieldcheck-server demo` on a free port and runs schemathesis (all phases, all default checks,
# fixed seed) against its `GET /api/v1/openapi.json`. Any failure fails the script.
# Config and hooks: tests/openapi/ (every expected-status exception there is commented).
# Usage: scripts/openapi-conformance.sh   (SCHEMATHESIS=path/to/schemathesis to choose the tool)
set -euo pipefail
cd "$(dirname "$0")/.."

ST="${SCHEMATHESIS:-${XDG_CACHE_HOME:-$HOME/.cache}/fieldcheck/schemathesis/bin/schemathesis}"
SERVER="${CARGO_TARGET_DIR:-$PWD/target}/debug/fieldcheck-server"
if [ ! -x "$ST" ]; then
  echo "schemathesis not found at $ST (scripts/test.sh installs it)" >&2
  exit 1
fi
if [ ! -x "$SERVER" ]; then
  echo "$SERVER not built (cargo build -p fieldcheck-server)" >&2
  exit 1
fi

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
BASE="http://127.0.0.1:$PORT"
WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# The run sends thousands of requests from one address, most with wrong passwords and codes:
# the per-address login/enrollment limits and the per-device push rate are raised so that the
# run tests the document, not the rate limiter (429 stays documented and tested elsewhere). The
# volunteers' page limits are fixed; the hook's own sign-ins come from an address of their own
# (X-Forwarded-For, trusted from the local run).
FIELDCHECK_LOGIN_FAILURES_PER_IP=1000000 \
FIELDCHECK_LOGIN_FAILURES_PER_USER=1000000 \
FIELDCHECK_ENROLL_FAILURES_PER_IP=1000000 \
FIELDCHECK_PUSH_PER_MINUTE=1000000 \
FIELDCHECK_PUSH_BURST=1000000 \
FIELDCHECK_TRUSTED_PROXIES=127.0.0.1 \
  "$SERVER" demo --problems 100 --bind "127.0.0.1:$PORT" --data-dir "$WORK/data" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 100); do
  python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
    "$BASE/api/v1/openapi.json" 2>/dev/null && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; exit 1; }
  sleep 0.2
done

echo "==> schemathesis against $BASE/api/v1/openapi.json"
status=0
PYTHONDONTWRITEBYTECODE=1 FIELDCHECK_ST_BASE="$BASE" SCHEMATHESIS_HOOKS=hooks PYTHONPATH="$PWD/tests/openapi" \
  "$ST" --config-file tests/openapi/schemathesis.toml run "$BASE/api/v1/openapi.json" \
  --phases examples,coverage,fuzzing,stateful \
  --max-examples "${OPENAPI_MAX_EXAMPLES:-50}" --seed 20261201 \
  --no-color || status=$?
if [ "$status" -ne 0 ]; then
  echo "OpenAPI conformance failed; server log: (last 40 lines)" >&2
  tail -n 40 "$WORK/server.log" >&2
fi
exit "$status"
