#!/usr/bin/env bash
# Real language servers for the hub's multi-server tests (tests/e2e/test_hub_multi.py)
# and the wrapper transparency harness: pyright from the npm registry (it runs on the
# Node the machine has, >= 14). ruff comes with the test extras (.venv/bin/ruff).
# pyright is cached outside the repository in ${SERO_CI_CACHE:-$HOME/.cache/sero-ls-ci}
# (stamped by version, installed in a temp dir and renamed, so a half-finished install is
# never used) and linked as .venv/bin/pyright-langserver: an absolute path that the Podman
# test containers see too (their root is the host's /). Idempotent and quiet.
set -euo pipefail
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
CACHE=${SERO_CI_CACHE:-$HOME/.cache/sero-ls-ci}
PYRIGHT_VERSION=1.1.414

log() { printf '[setup servers] %s\n' "$*" >&2; }
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9

DIR="$CACHE/pyright-$PYRIGHT_VERSION"
BIN="$DIR/node_modules/.bin/pyright-langserver"
if [ "$(cat "$DIR/.sero-stamp" 2>/dev/null || true)" != "pyright@$PYRIGHT_VERSION" ] || [ ! -x "$BIN" ]; then
  command -v node >/dev/null || { log "pyright needs Node (apt-get install nodejs npm)"; exit 1; }
  log "npm install pyright@$PYRIGHT_VERSION -> $DIR"
  rm -rf "$DIR.tmp" && mkdir -p "$DIR.tmp"
  npm install --silent --no-audit --no-fund --prefix "$DIR.tmp" "pyright@$PYRIGHT_VERSION" >/dev/null
  echo "pyright@$PYRIGHT_VERSION" > "$DIR.tmp/.sero-stamp"
  rm -rf "$DIR" && mv "$DIR.tmp" "$DIR"
fi
ln -sfn "$BIN" "$ROOT/.venv/bin/pyright-langserver"
