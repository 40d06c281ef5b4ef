#!/usr/bin/env bash
# One command for the whole demo: the central server (`fieldcheck-server demo`, SQLite + blobs
# under $DEMO_DIR/server) and the inspector app in a browser (`fieldcheck-bridge` serving ui/dist
# over a device database in $DEMO_DIR/device.sqlite3), the device enrolled against the server as
# the demo inspector and synced once. On its first start the server fills its ledger with eight
# weeks of the demo city's problems (every stage, with photos), so the console at /console/ and
# the app show real data. Prints the URLs and the logins; Ctrl-C stops both.
#
#   ./scripts/demo.sh            # keeps data between runs (the device stays enrolled)
#   ./scripts/demo.sh --fresh    # starts over (a new city is seeded)
#
# Environment: DEMO_DIR (data-dev/demo), DEMO_SERVER_PORT (8080), DEMO_BRIDGE_PORT (8787),
# DEMO_PROFILE (debug|release, default debug), CARGO_TARGET_DIR (target),
# FIELDCHECK_DEMO_PROBLEMS (problems in the seeded city, default 800; 0 for an empty ledger).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

DEMO_DIR=${DEMO_DIR:-data-dev/demo}
SERVER_PORT=${DEMO_SERVER_PORT:-8080}
BRIDGE_PORT=${DEMO_BRIDGE_PORT:-8787}
PROFILE=${DEMO_PROFILE:-debug}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}

if [[ "${1:-}" == "--fresh" ]]; then
  rm -rf "$DEMO_DIR"
fi
mkdir -p "$DEMO_DIR"

echo "==> building fieldcheck-server and fieldcheck-bridge ($PROFILE)"
if [[ "$PROFILE" == release ]]; then
  cargo build --release -p fieldcheck-server -p fieldcheck-bridge
else
  cargo build -p fieldcheck-server -p fieldcheck-bridge
fi
BIN="$TARGET/$PROFILE"

# The UIs (the inspector app's ui/dist, the console's ui/dist-console): built once, and again
# when a source file is newer than either build.
if [[ ! -f ui/dist/index.html ]] || [[ ! -f ui/dist-console/index.html ]] \
  || [[ -n "$(find ui/src ui/index.html ui/console ui/package.json -newer ui/dist/index.html -print -quit)" ]] \
  || [[ -n "$(find ui/src ui/console ui/package.json -newer ui/dist-console/index.html -print -quit)" ]]; then
  echo "==> building the UIs (ui/dist, ui/dist-console)"
  (cd ui && { [[ -d node_modules ]] || npm ci --no-audit --no-fund; } && npm run build)
fi

SERVER_PID=
BRIDGE_PID=
stop() {
  trap - INT TERM EXIT
  echo
  echo "==> stopping"
  [[ -n "$BRIDGE_PID" ]] && kill "$BRIDGE_PID" 2>/dev/null || true
  [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

# Waits until file $1 contains the regex $2 (or process $3 died).
wait_for() {
  # Up to two minutes: a first start renders the city's photos (a debug build takes seconds).
  for _ in $(seq 1 600); do
    grep -qE "$2" "$1" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || { cat "$1" >&2; echo "failed to start (log above)" >&2; exit 1; }
    sleep 0.2
  done
  echo "timed out waiting for: $2 in $1" >&2
  exit 1
}

echo "==> starting the server on 127.0.0.1:$SERVER_PORT (a first start seeds the demo city)"
SERVER_LOG="$DEMO_DIR/server.log"
"$BIN/fieldcheck-server" demo --bind "127.0.0.1:$SERVER_PORT" --data-dir "$DEMO_DIR/server" >"$SERVER_LOG" 2>&1 &
SERVER_PID=$!
wait_for "$SERVER_LOG" 'device: fieldcheck enroll' "$SERVER_PID"
SERVER_URL="http://127.0.0.1:$SERVER_PORT"

echo "==> starting the bridge on 127.0.0.1:$BRIDGE_PORT"
BRIDGE_LOG="$DEMO_DIR/bridge.log"
"$BIN/fieldcheck-bridge" --db "$DEMO_DIR/device.sqlite3" --ui ui/dist --bind "127.0.0.1:$BRIDGE_PORT" >"$BRIDGE_LOG" 2>&1 &
BRIDGE_PID=$!
wait_for "$BRIDGE_LOG" 'FieldCheck bridge: http' "$BRIDGE_PID"
BRIDGE_URL="http://127.0.0.1:$BRIDGE_PORT/"
# Commands need the bridge's per-start session secret (as its own UI gets it).
SESSION=$(curl -sS "${BRIDGE_URL}bridge/session" | sed -n 's/.*"session":"\([0-9a-f]*\)".*/\1/p')
[[ -n "$SESSION" ]] || { echo "no session secret from the bridge" >&2; exit 1; }

call() {
  local data=${2:-'{}'}
  curl -sS -X POST -H 'content-type: application/json' -H "x-fieldcheck-session: $SESSION" \
    --data "$data" "${BRIDGE_URL}bridge/$1"
}

if call sync_status | grep -q "\"server\":\"$SERVER_URL/api/v1\""; then
  echo "==> the device is already enrolled with $SERVER_URL"
else
  # The demo inspector's code from the server's table ("  usr-insp-1  黄志强  inspector  CODE  QR: …").
  CODE=$(awk '$1 == "usr-insp-1" { print $4; exit }' "$SERVER_LOG")
  [[ -n "$CODE" ]] || CODE=$(awk '$3 == "inspector" { print $4; exit }' "$SERVER_LOG")
  echo "==> enrolling the device with code $CODE"
  OUT=$(call enroll "{\"server\":\"$SERVER_URL\",\"code\":\"$CODE\"}")
  if ! grep -q '"device_tag"' <<<"$OUT"; then
    echo "enrollment failed: $OUT" >&2
    exit 1
  fi
fi
echo "==> first sync"
call sync_start >/dev/null
for _ in $(seq 1 150); do
  call sync_status | grep -q '"running":false' && break
  sleep 0.2
done

cat <<EOF

  FieldCheck 创文巡查 demo is running.

  Inspector app (open in a browser; phone layout, e.g. Chrome's device toolbar at 390 × 844):
      $BRIDGE_URL
  City office console: $SERVER_URL/console/   (sign in with a login below)
  Central server API:  $SERVER_URL/api/v1   (OpenAPI: $SERVER_URL/api/v1/openapi.json)
  Data:                $DEMO_DIR  (logs: server.log, bridge.log)
$(grep -E '^  city: ' "$SERVER_LOG" | sed 's/^  city: /  Demo city:  /')

  The app is enrolled as the demo inspector, and an enrolled device keeps its enrolled user. To
  try another role, start a second device and enroll it with that user's code below:
      $BIN/fieldcheck-bridge --db $DEMO_DIR/device2.sqlite3 --ui ui/dist --bind 127.0.0.1:$((BRIDGE_PORT + 1))
  Server logins and one-time enrollment codes (for the app's Enroll screen or the CLI):
EOF
sed -n '/password of every demo user/,/device: fieldcheck enroll/p' "$SERVER_LOG" | sed 's/^/  /'
echo
echo "  Ctrl-C stops both."
wait
