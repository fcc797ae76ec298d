"""Reason codes (CONTRACT §2), also the `code` of the matching diagnostics."""

from __future__ import annotations

CLI_MISSING = "container-cli-missing"
SYSTEM_NOT_RUNNING = "container-system-not-running"
IMAGE_MISSING = "container-image-missing"
CONTAINER_MISSING = "container-missing"
NOT_RUNNING = "container-not-running"
NOT_MOUNTED = "folder-not-mounted"
STALE = "container-stale"
HOST_SELECTED = "runtime-host-selected"
PROBE_FAILED = "probe-failed"
# Extension (docs/protocol.md): several containers match a folder equally well.
AMBIGUOUS = "container-ambiguous"

# Reasons that leave the folder in container mode (a warning, not a fallback).
KEEPS_CONTAINER = {STALE}
