# PostgreSQL for the test run: sourced by scripts/test.sh (bash), not run on its own.
#
# `ensure_test_postgres` leaves FIELDCHECK_TEST_PG naming a PostgreSQL that answers (trust
# auth, database `test`) and sets FIELDCHECK_REQUIRE_PG=1, so that a PostgreSQL test that
# cannot connect fails instead of skipping:
# - the one FIELDCHECK_TEST_PG names (default postgres://postgres@127.0.0.1:5432/test) when it
#   answers;
# - otherwise (or with FIELDCHECK_PG_THROWAWAY=1) a throwaway cluster of Debian's `postgresql`
#   (installed when missing) in a temporary directory, on FIELDCHECK_PG_PORT or else 5432
#   when free or else a free port, listening on 127.0.0.1 only, stopped and deleted by
#   `stop_test_postgres` (test.sh's EXIT trap). initdb refuses to run as root, so as root the
#   cluster belongs to the `postgres` user the package creates.
#
# Try the start path on a machine that already has a PostgreSQL:
#   bash -c 'source scripts/test-postgres.sh; FIELDCHECK_PG_THROWAWAY=1 FIELDCHECK_PG_PORT=55432 \
#     ensure_test_postgres; trap stop_test_postgres EXIT; psql "$FIELDCHECK_TEST_PG" -c "select 1"'

FC_PG_DIR=""
FC_PG_BIN=""
FC_PG_AS=()

fc_pg_answers() {
  command -v psql >/dev/null 2>&1 &&
    PGCONNECT_TIMEOUT=5 psql "$1" -Atqc 'SELECT 1' >/dev/null 2>&1
}

fc_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

fc_port_free() {
  python3 -c 'import socket, sys; s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null
}

ensure_test_postgres() {
  local url="${FIELDCHECK_TEST_PG:-postgres://postgres@127.0.0.1:5432/test}"
  export FIELDCHECK_REQUIRE_PG=1
  if [ "${FIELDCHECK_PG_THROWAWAY:-0}" != 1 ] && fc_pg_answers "$url"; then
    echo "==> PostgreSQL for the tests: $url"
    export FIELDCHECK_TEST_PG="$url"
    return 0
  fi
  FC_PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  if [ -z "$FC_PG_BIN" ] || [ ! -x "$FC_PG_BIN/initdb" ]; then
    echo "==> installing Debian's postgresql for a throwaway test cluster"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    # The package's own cluster is not used (policy: it may or may not start it).
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql postgresql-client
    FC_PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
  fi
  local port="${FIELDCHECK_PG_PORT:-}"
  if [ -z "$port" ]; then
    if fc_port_free 5432; then port=5432; else port="$(fc_free_port)"; fi
  fi
  FC_PG_DIR="$(mktemp -d "${TMPDIR:-/tmp}/fieldcheck-pg.XXXXXX")"
  FC_PG_AS=()
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$FC_PG_DIR"
    FC_PG_AS=(runuser -u postgres --)
  fi
  echo "==> starting a throwaway PostgreSQL ($FC_PG_BIN) on 127.0.0.1:$port in $FC_PG_DIR"
  "${FC_PG_AS[@]}" "$FC_PG_BIN/initdb" -D "$FC_PG_DIR/data" -U postgres -A trust -E UTF8 \
    --no-locale --no-sync >"$FC_PG_DIR/initdb.log" 2>&1 ||
    { cat "$FC_PG_DIR/initdb.log" >&2; return 1; }
  # Throwaway data: no fsync. Unix socket in the cluster's own directory.
  "${FC_PG_AS[@]}" "$FC_PG_BIN/pg_ctl" -D "$FC_PG_DIR/data" -l "$FC_PG_DIR/server.log" -w \
    -o "-p $port -k $FC_PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off \
        -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start \
    >/dev/null || { cat "$FC_PG_DIR/server.log" >&2; return 1; }
  "${FC_PG_AS[@]}" "$FC_PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U postgres test
  export FIELDCHECK_TEST_PG="postgres://postgres@127.0.0.1:$port/test"
  fc_pg_answers "$FIELDCHECK_TEST_PG" ||
    { echo "the throwaway PostgreSQL does not answer at $FIELDCHECK_TEST_PG" >&2; return 1; }
  echo "==> PostgreSQL for the tests: $FIELDCHECK_TEST_PG (throwaway)"
}

stop_test_postgres() {
  [ -n "$FC_PG_DIR" ] || return 0
  "${FC_PG_AS[@]}" "$FC_PG_BIN/pg_ctl" -D "$FC_PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$FC_PG_DIR"
  FC_PG_DIR=""
}
