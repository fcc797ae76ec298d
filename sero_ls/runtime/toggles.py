"""The persisted per-folder runtime toggle (`sero/setRuntime`), kept per user outside
the repository: ``$SERO_LS_STATE_DIR`` or ``$XDG_STATE_HOME/sero-ls`` (default
``~/.local/state/sero-ls``), file ``runtime.json`` = ``{folder path: runtime}``."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)


def state_dir() -> Path:
    explicit = os.environ.get("SERO_LS_STATE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(Path.home(), ".local", "state")
    return Path(base) / "sero-ls"


class ToggleStore:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or state_dir() / "runtime.json"

    def load(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable %s: %s", self.path, exc)
            return {}
        if not isinstance(data, dict):
            return {}
        return {str(k): str(v) for k, v in data.items() if v in ("auto", "container", "host")}

    def get(self, folder: str) -> str | None:
        return self.load().get(folder)

    def set(self, folder: str, runtime: str) -> None:
        data = self.load()
        data[folder] = runtime  # "auto" too: it must win over a `runtime` in .sero/config.toml
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".runtime-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1, sort_keys=True)
        os.replace(tmp, self.path)
