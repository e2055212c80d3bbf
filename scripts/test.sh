#!/usr/bin/env bash
# Runs every test: the interface's unit tests (Vitest), then one
# `cargo test --workspace` — engine, CLI, desktop commands and the real window
# under Xvfb — inside a D-Bus session with an unlocked gnome-keyring, so the
# OS-keychain path is tested for real.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh

(cd ui && npm run --silent build && npm test --silent)

run_tests() {
  export MEDHARMONY_REQUIRE_KEYCHAIN=1
  # A throw-away keyring home, so tests never touch the user's own keyring.
  export XDG_DATA_HOME="${TMPDIR:-/tmp}/medharmony-test-keyring-$$"
  mkdir -p "$XDG_DATA_HOME"
  echo -n "medharmony-test" | gnome-keyring-daemon --unlock --components=secrets >/dev/null
  cargo test --workspace "$@"
}
export -f run_tests
exec xvfb-run -a -s "-screen 0 1280x800x24" dbus-run-session -- bash -c 'run_tests "$@"' run_tests "$@"
