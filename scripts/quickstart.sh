#!/usr/bin/env bash
# One command from a fresh Debian 12 + Node 20 checkout to a running agent with simulated
# devices: installs the Debian packages and npm dependencies, starts pcscd if it is not
# running, then runs `keytap serve --simulate` in the foreground (Ctrl-C stops it).
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS="pcscd libpcsclite-dev vsmartcard-vpcd socat libusb-1.0-0 python3-fido2 python3-pyscard libfido2-dev fido2-tools build-essential pkg-config systemd chromium pcsc-tools"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
missing=""
for p in $PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  echo "keytap: installing Debian packages:$missing"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi

[ -d node_modules ] && [ node_modules -nt package-lock.json ] || npm ci --no-audit --no-fund

if ! pgrep -x pcscd >/dev/null; then
  echo "keytap: starting pcscd (no systemd here; it runs until you stop it: sudo pkill -x pcscd)"
  $SUDO sh -c 'pcscd -f -e >/dev/null 2>&1 &'
fi

exec node bin/keytap.js serve --simulate "$@"
