#!/usr/bin/env bash
# The Dev Containers CLI (@devcontainers/cli, from the npm registry) for the Dev Container
# end-to-end test through docker (tests/e2e/test_devcontainer.py makes its container with
# `devcontainer up`, as users get it). Idempotent, quiet, a fast no-op once done; cached
# outside the repository in ${SERO_CI_CACHE:-$HOME/.cache/sero-ls-ci}/devcontainers-cli-<v>.
set -euo pipefail
CACHE=${SERO_CI_CACHE:-$HOME/.cache/sero-ls-ci}
VERSION=0.89.0
DIR="$CACHE/devcontainers-cli-$VERSION"
log() { printf '[setup devcontainers] %s\n' "$*" >&2; }
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock-devcontainers"
flock 9
if ! "$DIR/node_modules/.bin/devcontainer" --version 2>/dev/null | grep -qx "$VERSION"; then
  log "npm install @devcontainers/cli@$VERSION -> $DIR"
  rm -rf "$DIR.tmp" && mkdir -p "$DIR.tmp"
  npm install --silent --no-audit --no-fund --prefix "$DIR.tmp" "@devcontainers/cli@$VERSION" >/dev/null
  "$DIR.tmp/node_modules/.bin/devcontainer" --version >/dev/null
  rm -rf "$DIR" && mv "$DIR.tmp" "$DIR"
fi
