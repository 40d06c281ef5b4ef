#!/usr/bin/env bash
# The one test command (README "Run all tests"). Installs what it needs on a fresh Debian machine,
# then runs every check and test. Safe to run repeatedly: installs are skipped when present.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests need. Keep this list the single source of truth.
APT_PACKAGES=(
  pkg-config
  cmake  # fieldcheck-photo: turbojpeg-sys builds the vendored libjpeg-turbo 3.x
  nasm   # fieldcheck-photo: libjpeg-turbo SIMD (required, else 3-5x slower JPEG)
  chromium        # ui/e2e: browser smoke test (playwright-core drives /usr/bin/chromium)
  fonts-noto-cjk  # ui/e2e: Chinese text in screenshots
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

echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "==> cargo nextest (all workspace tests)"
cargo nextest run --workspace --locked --no-fail-fast
echo "==> doc tests"
cargo test --workspace --doc --locked

# The web UI (ui/): Node 20 + npm come with the machine. `npm ci` installs exactly the
# lockfile (re-creates node_modules, so repeated runs are identical).
echo "==> UI: npm ci, build (type check + bundle), bundle budget, vitest, browser smoke test"
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
  # The built UI in Debian's Chromium against a real bridge (screenshots: ui/test-results/).
  cargo build -p fieldcheck-bridge --locked
  npm run e2e
)
