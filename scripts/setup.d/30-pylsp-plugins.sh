#!/usr/bin/env bash
# pylsp plugins the proxy's end-to-end tests rely on (tests/e2e/test_proxy_pylsp.py):
# Debian's python3-pylsp alone has no diagnostics and no formatter; pyflakes and
# pycodestyle publish diagnostics, autopep8 formats. Idempotent, quiet.
set -euo pipefail
pkgs=(python3-pyflakes python3-pycodestyle python3-autopep8)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ "${#missing[@]}" -eq 0 ] && exit 0
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
echo "[setup] apt-get install ${missing[*]}" >&2
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 || {
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
}
