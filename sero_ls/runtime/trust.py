"""Workspace trust: a folder's `.sero/config.toml` runs nothing until the user trusts it.

The store is per user, beside the runtime toggles (``$SERO_LS_STATE_DIR`` or
``$XDG_STATE_HOME/sero-ls``), file ``trust.json`` = ``{folder path: {sha256, trustedAt}}``.
A folder is trusted for the exact content it had when trusted (direnv's `allow`):
any change of the file revokes the trust until it is trusted again.

Which keys of the file are held back until then is ``settings.EXECUTING_KEYS`` /
``settings.EXECUTING_SERVER_KEYS``: what names a program to run or something handed
to one (commands, environment, a server's own settings, the container CLI).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
from pathlib import Path
from typing import Any

from sero_ls.runtime.toggles import load_json_map, save_json_map, state_dir

log = logging.getLogger(__name__)


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def folder_key(folder: str | Path) -> str:
    """The store's key of a folder: its absolute, symlink-free path."""
    return os.path.realpath(os.path.abspath(folder))


class TrustStore:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or state_dir() / "trust.json"

    def load(self) -> dict[str, dict[str, Any]]:
        data = load_json_map(self.path)
        return {
            str(k): v
            for k, v in data.items()
            if isinstance(v, dict) and isinstance(v.get("sha256"), str)
        }

    def trusted_hash(self, folder: str | Path) -> str | None:
        """The content hash the folder's config was trusted with, or None."""
        entry = self.load().get(folder_key(folder))
        return str(entry["sha256"]) if entry else None

    def trust(self, folder: str | Path, sha256: str) -> None:
        data = self.load()
        now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        data[folder_key(folder)] = {"sha256": sha256, "trustedAt": now}
        save_json_map(self.path, data)

    def revoke(self, folder: str | Path) -> bool:
        data = self.load()
        if data.pop(folder_key(folder), None) is None:
            return False
        save_json_map(self.path, data)
        return True
