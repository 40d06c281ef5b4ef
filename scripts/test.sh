#!/usr/bin/env bash
# The one test command (README "Run all tests"). Installs what it needs on a fresh Debian machine,
# then runs every check and test. Safe to run repeatedly: installs are skipped when present.
set -euo pipefail
cd "$(dirname "$0")/.."
# No incremental caches: this is a from-scratch build each time, and on the workspace's dozens of
# test binaries the caches doubled the target directory (to ~24 GB), which filled a CI disk.
export CARGO_INCREMENTAL=0

# Each stage's wall time, printed as the next one starts and at the end, so a slow CI run says
# where its minutes went.
STAGE=""; STAGE_START=$SECONDS; RUN_START=$SECONDS
stage() {
  [ -n "$STAGE" ] && echo "<== $STAGE: $((SECONDS - STAGE_START)) s"
  STAGE="$1"; STAGE_START=$SECONDS
  [ -n "$1" ] && echo "==> $1"
  return 0
}
stage "install what the tests need (Debian packages, cargo tools, moto, PostgreSQL)"

# Debian packages the tests need. Keep this list the single source of truth.
APT_PACKAGES=(
  pkg-config
  cmake  # fieldcheck-photo: turbojpeg-sys builds the vendored libjpeg-turbo 3.x
  nasm   # fieldcheck-photo: libjpeg-turbo SIMD (required, else 3-5x slower JPEG)
  chromium        # ui/e2e: browser smoke test (playwright-core drives /usr/bin/chromium)
  fonts-noto-cjk  # ui/e2e: Chinese text in screenshots; fieldcheck-report: the PDF reports' font
  # src-tauri (the inspector app, Tauri v2 on WebKitGTK 4.1) and its WebDriver test under Xvfb
  libwebkit2gtk-4.1-dev libsoup-3.0-dev libjavascriptcoregtk-4.1-dev librsvg2-dev
  webkit2gtk-driver  # WebKitWebDriver, started by tauri-driver
  xvfb xauth
  python3-venv  # the S3 blob tests' server (moto) and schemathesis live in their own virtualenvs
  libreoffice-calc-nogui  # tests/console_exports.rs: the XLSX export opened by LibreOffice
  gdal-bin  # tests/console_exports.rs: the GeoJSON export read by ogr2ogr
  poppler-utils  # ui/e2e/console.mjs: QR cards; fieldcheck-report: its PDFs read back
  postgresql-client  # tests/backup_restore.rs: `fieldcheck-server backup`/`restore` run pg_dump and pg_restore
)

need_apt=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$p")
done
if ((${#need_apt[@]})); then
  echo "==> installing Debian packages: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}"
fi

command -v cargo-nextest >/dev/null || cargo install --locked cargo-nextest
command -v tauri-driver >/dev/null || cargo install --locked tauri-driver

# An S3-compatible server (moto, from PyPI) for the server's blob tests on real object storage
# (fieldcheck-server tests/api_more.rs): in a virtualenv of its own, so neither a system Python
# (PEP 668) nor the user's packages are touched. Without it those tests fail in CI and are
# skipped, loudly, elsewhere.
if ! command -v moto_server >/dev/null; then
  MOTO_VENV="${XDG_CACHE_HOME:-$HOME/.cache}/fieldcheck/moto"
  if [ ! -x "$MOTO_VENV/bin/moto_server" ]; then
    echo "==> installing moto (S3-compatible server) into $MOTO_VENV"
    python3 -m venv "$MOTO_VENV"
    "$MOTO_VENV/bin/pip" install --quiet 'moto[server]>=5,<6'
  fi
  export PATH="$MOTO_VENV/bin:$PATH"
fi

# PostgreSQL for the server's tests: the one at $FIELDCHECK_TEST_PG (default 127.0.0.1:5432,
# database test) when it answers, else a throwaway cluster of Debian's postgresql for this run
# (scripts/test-postgres.sh), stopped on exit. FIELDCHECK_REQUIRE_PG=1 makes a PostgreSQL test
# that cannot connect fail instead of skipping.
source scripts/test-postgres.sh
trap stop_test_postgres EXIT
ensure_test_postgres

stage "cargo fmt --check"
cargo fmt --all -- --check
stage "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
# The Tauri app's own tests run in the app stage below, on its one release build (a second,
# debug build of WebKitGTK bindings and Tauri would cost minutes for nothing).
# fieldcheck-server's default features include `s3`, so this run covers the S3 blob tests.
stage "cargo nextest (all workspace tests)"
cargo nextest run --workspace --exclude fieldcheck-app --locked --no-fail-fast
stage "doc tests"
cargo test --workspace --exclude fieldcheck-app --doc --locked

# The OpenAPI document against the server it describes (schemathesis, from PyPI, in its own
# virtualenv like moto): a fresh debug `fieldcheck-server demo`, every phase and default check.
# The nextest stage built the binary; the build below is a no-op then, and makes sure otherwise.
ST_VENV="${XDG_CACHE_HOME:-$HOME/.cache}/fieldcheck/schemathesis"
if [ ! -x "$ST_VENV/bin/schemathesis" ]; then
  echo "==> installing schemathesis into $ST_VENV"
  python3 -m venv "$ST_VENV"
  "$ST_VENV/bin/pip" install --quiet 'schemathesis>=4.32,<5'
fi
stage "OpenAPI conformance (schemathesis against fieldcheck-server demo)"
cargo build -p fieldcheck-server --locked
SCHEMATHESIS="$ST_VENV/bin/schemathesis" scripts/openapi-conformance.sh

# The web UI (ui/): Node 20 + npm come with the machine. `npm ci` installs exactly the
# lockfile (re-creates node_modules, so repeated runs are identical).
stage "UI: npm ci, build (type check + bundle), bundle budget, vitest, browser smoke test"
if ! command -v npm >/dev/null; then
  echo "npm is required for the UI stage (Node 20)" >&2
  exit 1
fi
(
  cd ui
  npm ci --no-audit --no-fund
  npm run build
  npm run size
  npx vitest run
  # The built UI in Debian's Chromium against a real bridge (smoke.mjs) and a real bridge plus
  # a real `fieldcheck-server demo` (field.mjs: enroll, inspect, report, server down, sync);
  # screenshots: ui/test-results/. The scripts find the binaries under $CARGO_TARGET_DIR.
  cargo build -p fieldcheck-bridge -p fieldcheck-server -p fieldcheck-cli --locked
  npm run e2e
  # The office's console (console.mjs) and a new city's setup (setup.mjs) once more on
  # PostgreSQL (the same database the PostgreSQL tests use, each in a schema of its own).
  FIELDCHECK_CONSOLE_PG="${FIELDCHECK_TEST_PG:-postgres://postgres@127.0.0.1:5432/test}" npm run e2e:console
  FIELDCHECK_CONSOLE_PG="${FIELDCHECK_TEST_PG:-postgres://postgres@127.0.0.1:5432/test}" npm run e2e:setup
  FIELDCHECK_CONSOLE_PG="${FIELDCHECK_TEST_PG:-postgres://postgres@127.0.0.1:5432/test}" npm run e2e:volunteer
)

# The inspector app (src-tauri): one build in the `app` profile (release, stripped) with the
# UI embedded, as `tauri build` would make it (no bundling); its tests reuse that build, then
# the real app runs under Xvfb driven by tauri-driver + WebKitWebDriver (ui/e2e/tauri.mjs:
# quick report with a photo, found in the ledger; screenshots in ui/test-results/app/) and
# prints the app budgets (binary size, start to interactive home screen).
stage "app: release build, tests, WebDriver test under Xvfb, budgets"
cargo build --profile app -p fieldcheck-app --features custom-protocol --locked
cargo test --profile app -p fieldcheck-app --features custom-protocol --locked
(
  cd ui
  FIELDCHECK_APP="${CARGO_TARGET_DIR:-$PWD/../target}/app/fieldcheck-app" npm run e2e:app
)
stage ""
echo "all stages passed in $((SECONDS - RUN_START)) s"
