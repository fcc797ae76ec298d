#!/usr/bin/env bash
# Machine-level step for the real-container tests (tests/support/podman.py):
# containers on podman's bridge network get a network namespace mounted under
# /run/netns by podman inside the fixtures' private mount namespace; it must be
# visible outside, so /run/netns is made a shared bind mount. Idempotent, quiet.
# (/run is usually a tmpfs, so this is redone after a reboot; the fixtures redo it too.)
set -euo pipefail
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
if [ "$(findmnt -n -o PROPAGATION --mountpoint /run/netns 2>/dev/null || true)" != "shared" ]; then
  $SUDO mkdir -p /run/netns
  findmnt -n --mountpoint /run/netns >/dev/null 2>&1 || $SUDO mount --bind /run/netns /run/netns
  $SUDO mount --make-shared /run/netns
fi
