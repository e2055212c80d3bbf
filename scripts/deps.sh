#!/usr/bin/env bash
# Installs what MedHarmony Desk needs to build, run and test on Debian/Ubuntu:
# system packages (apt), the UI's npm packages, the npm packages of the FHIR
# server that the connector contract tests start (tests/fhir-server), the
# CalDAV server of the CalDAV connector tests (Radicale, from PyPI), and
# tauri-driver for the end-to-end tests of the real window.
# Usage: scripts/deps.sh            (uses sudo when not root)
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  # build: C toolchain, SQLCipher's libcrypto, the keychain's D-Bus client
  build-essential pkg-config curl file libssl-dev libdbus-1-dev
  # the desktop app (Tauri v2 on WebKitGTK)
  libwebkit2gtk-4.1-dev libsoup-3.0-dev libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev libxdo-dev
  # keychain at run time and in tests: a D-Bus session and a Secret Service
  dbus dbus-x11 gnome-keyring libsecret-tools
  # the real window without a screen, driven over WebDriver, screenshots, notifications
  xvfb xauth webkit2gtk-driver imagemagick at-spi2-core dunst libnotify-bin
  # the CalDAV test server (Radicale) runs on Python 3
  python3 python3-pip
)

if ! command -v cargo >/dev/null 2>&1; then
  echo "MedHarmony Desk needs Rust (cargo). Install it from https://rustup.rs and run this again." >&2
  exit 1
fi
if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' 2>/dev/null; then
  echo "MedHarmony Desk's interface needs Node.js 20.19 or newer (with npm). Install it from https://nodejs.org and run this again." >&2
  exit 1
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "Installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -d ui/node_modules ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
  (cd ui && npm ci --no-audit --no-fund --loglevel=error)
fi
# The real FHIR R4 server (Medplum's router, in memory) of the connector contract tests.
if [ ! -d tests/fhir-server/node_modules ] || [ tests/fhir-server/package-lock.json -nt tests/fhir-server/node_modules/.package-lock.json ]; then
  npm ci --prefix tests/fhir-server --no-audit --no-fund --loglevel=error
fi

# The real CalDAV server of the CalDAV connector tests (tests/src/radicale.rs): Radicale 3 with the
# free-busy-query REPORT (Debian's 3.1 package lacks it), pinned. Debian's own Python refuses
# installs outside a virtual environment unless told (PEP 668).
RADICALE_VERSION=3.9.0
if ! python3 -c "import radicale, sys; sys.exit(radicale.VERSION != '$RADICALE_VERSION')" 2>/dev/null; then
  echo "Installing Radicale $RADICALE_VERSION (the CalDAV test server)"
  PIP=(python3 -m pip install --quiet --disable-pip-version-check)
  [ "$(id -u)" -eq 0 ] || PIP+=(--user)
  "${PIP[@]}" "radicale==$RADICALE_VERSION" 2>/dev/null || "${PIP[@]}" --break-system-packages "radicale==$RADICALE_VERSION"
fi

if ! command -v tauri-driver >/dev/null 2>&1 && [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/tauri-driver" ]; then
  echo "Installing tauri-driver (about two minutes)"
  cargo install tauri-driver --locked --version 2.0.4 --quiet
fi
