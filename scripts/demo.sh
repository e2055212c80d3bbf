#!/usr/bin/env bash
# Fresh-machine demo: builds MedHarmony Desk, loads the demo practice (three
# providers with synthetic calendars) into the local database and shows this
# week's free slots.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cargo build --release -p medharmony --bin medharmony
BIN=target/release/medharmony

has_keychain() {
  [ -n "${DBUS_SESSION_BUS_ADDRESS:-}" ] || return 1
  local m
  for m in ListNames ListActivatableNames; do
    dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
      "org.freedesktop.DBus.$m" 2>/dev/null | grep -q '"org.freedesktop.secrets"' && return 0
  done
  return 1
}
if [ -z "${MEDHARMONY_DB_KEY:-}" ] && ! has_keychain; then
  # No keychain on this machine (a headless server, a container): use a
  # separate demo database whose key is given here. It holds only synthetic data.
  data_dir="${XDG_DATA_HOME:-$HOME/.local/share}/medharmony-desk"
  export MEDHARMONY_DB="$data_dir/demo.db"
  export MEDHARMONY_DB_KEY="demo-synthetic-data-only"
  echo "No OS keychain found: using the demo database $MEDHARMONY_DB (synthetic data only)."
fi

"$BIN" demo
echo
echo "Free slots in the next 7 days:"
"$BIN" slots --status free | head -n 40
echo "..."
echo
echo "Try: $BIN --help"
