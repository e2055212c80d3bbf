#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages MedHarmony Desk needs to build and test.
# Usage: scripts/deps.sh            (uses sudo when not root)
set -euo pipefail

PACKAGES=(
  # build: C toolchain, SQLCipher's libcrypto, the keychain's D-Bus client
  build-essential pkg-config libssl-dev libdbus-1-dev
  # keychain at run time and in tests: a D-Bus session and a Secret Service
  dbus dbus-x11 gnome-keyring libsecret-tools
)

if ! command -v cargo >/dev/null 2>&1; then
  echo "MedHarmony Desk needs Rust (cargo). Install it from https://rustup.rs and run this again." >&2
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
