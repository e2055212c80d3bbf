#!/usr/bin/env bash
# Fresh-machine demo: builds MedHarmony Desk and opens it with the demo
# practice (three providers in three US time zones, synthetic calendars).
# Without a screen (a server, a container) it runs the window under Xvfb and
# saves a screenshot to target/demo-screenshot.png.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
(cd ui && npm run --silent build)
cargo build -p medharmony-desk -p medharmony

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
  # No keychain on this machine: use a separate demo database whose key is
  # given here. It holds only the synthetic demo practice.
  data_dir="${XDG_DATA_HOME:-$HOME/.local/share}/medharmonydesk"
  export MEDHARMONY_DB="$data_dir/demo.db"
  export MEDHARMONY_DB_KEY="demo-synthetic-data-only"
  echo "No OS keychain found: using the demo database $MEDHARMONY_DB (synthetic data only)."
fi

if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "No screen found: running MedHarmony Desk under Xvfb."
  exec xvfb-run -a -s "-screen 0 1280x800x24" bash -c '
    target/debug/medharmony-desk & app=$!
    sleep 8
    import -window root target/demo-screenshot.png && echo "Screenshot of the window: target/demo-screenshot.png"
    echo "MedHarmony Desk is running (process $app); press Ctrl-C to stop."
    wait $app'
fi
exec target/debug/medharmony-desk
