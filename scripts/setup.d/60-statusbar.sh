#!/usr/bin/env bash
# Tools the `sero-ls status` snippet tests drive for real (tests/unit/test_status_cli.py,
# tests/e2e/test_status_cli_e2e.py): Debian's tmux (status-right) and i3blocks (a persistent
# --watch block). Idempotent, quiet.
set -euo pipefail
missing=()
for tool in tmux i3blocks; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 \
  || { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q "${missing[@]}" >/dev/null; }
