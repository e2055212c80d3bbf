#!/usr/bin/env bash
# Runs every test: the interface's unit tests (Vitest), then one
# `cargo test --workspace` — engine, CLI, desktop commands and the real window
# under Xvfb — inside a D-Bus session with an unlocked gnome-keyring, so the
# OS-keychain path is tested for real.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh

(cd ui && npm run --silent build && npm test --silent)

# Inside a private X display and D-Bus session: unlock a throw-away keyring
# (its own data folder, so the user's keyring is never touched), then test.
INNER='
  export MEDHARMONY_REQUIRE_KEYCHAIN=1
  export XDG_DATA_HOME="${TMPDIR:-/tmp}/medharmony-test-keyring-$$"
  mkdir -p "$XDG_DATA_HOME"
  echo -n medharmony-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null
  exec cargo test --workspace "$@"
'
exec xvfb-run -a -s "-screen 0 1280x800x24" dbus-run-session -- bash -c "$INNER" cargo-test "$@"
