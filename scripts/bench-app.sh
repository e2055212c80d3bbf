#!/usr/bin/env bash
# App-level benchmark (never run in CI, not a test): cold start to the first
# rendered week, and idle memory, of the real window under Xvfb.
#
# Each run starts the app with a fresh home folder (no WebKit cache, no saved
# window state) and a fresh database, so it also seeds the demo practice, as a
# first start does. "First week rendered" is the UI's own report (`ui_ready`
# command, logged as "window ready: first week rendered N ms after launch").
# Idle memory is the proportional set size (Pss: shared pages split between
# the processes that map them, so nothing is counted twice) of the app and its
# WebKit helper processes, 10 seconds after the week is on screen.
#
# Usage: scripts/bench-app.sh [path/to/medharmony-desk]   (RUNS=5 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/release/medharmony-desk}
[ -x "$BIN" ] || BIN=target/debug/medharmony-desk
[ -x "$BIN" ] || { echo "build the app first: cargo build -p medharmony-desk" >&2; exit 1; }
RUNS=${RUNS:-5}

if [ -z "${DISPLAY:-}" ]; then
  exec xvfb-run -a -s "-screen 0 1280x800x24" "$0" "$BIN"
fi

tree_rss_kb() {
  local pid=$1 total=0 kids k rss
  rss=$(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup" 2>/dev/null || echo 0)
  total=$((total + ${rss:-0}))
  kids=$(pgrep -P "$pid" || true)
  for k in $kids; do total=$((total + $(tree_rss_kb "$k"))); done
  echo "$total"
}

starts=(); rsss=()
for i in $(seq "$RUNS"); do
  tmp=$(mktemp -d)
  HOME=$tmp XDG_DATA_HOME=$tmp/data XDG_CONFIG_HOME=$tmp/config XDG_CACHE_HOME=$tmp/cache \
    MEDHARMONY_DB=$tmp/bench.db MEDHARMONY_DB_KEY=bench-synthetic MEDHARMONY_NOW=2026-03-04T15:00:00Z \
    "$BIN" >"$tmp/out.log" 2>&1 &
  pid=$!
  ms=""
  for _ in $(seq 600); do
    ms=$(sed -n 's/.*first week rendered \([0-9]*\) ms after launch.*/\1/p' "$tmp/out.log" | head -n1)
    [ -n "$ms" ] && break
    sleep 0.1
  done
  [ -n "$ms" ] || { echo "run $i: the window did not report its first week within 60 s" >&2; cat "$tmp/out.log" >&2; kill "$pid"; exit 1; }
  sleep 10
  rss=$(tree_rss_kb "$pid")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$tmp"
  echo "run $i: first week rendered after $ms ms; idle memory $((rss / 1024)) MiB"
  starts+=("$ms"); rsss+=("$rss")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "median of $RUNS runs ($BIN): cold start to first rendered week $(median "${starts[@]}") ms; idle memory $(( $(median "${rsss[@]}") / 1024 )) MiB (Pss of the app and its WebKit processes)"
