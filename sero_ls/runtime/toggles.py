"""The persisted per-folder runtime toggle (`sero/setRuntime`), kept per user outside
the repository: ``$SERO_LS_STATE_DIR`` or ``$XDG_STATE_HOME/sero-ls`` (default
``~/.local/state/sero-ls``), file ``runtime.json`` = ``{folder path: runtime}``."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def state_dir() -> Path:
    explicit = os.environ.get("SERO_LS_STATE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(Path.home(), ".local", "state")
    return Path(base) / "sero-ls"


def load_json_map(path: Path) -> dict[str, Any]:
    """A JSON object file of the state folder; {} when absent or unreadable (logged)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable %s: %s", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


def save_json_map(path: Path, data: dict[str, Any]) -> None:
    """Replace the file atomically (a reader never sees half of it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1, sort_keys=True)
    os.replace(tmp, path)


class ToggleStore:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or state_dir() / "runtime.json"

    def load(self) -> dict[str, str]:
        data = load_json_map(self.path)
        return {str(k): str(v) for k, v in data.items() if v in ("auto", "container", "host")}

    def get(self, folder: str) -> str | None:
        return self.load().get(folder)

    def set(self, folder: str, runtime: str) -> None:
        data = self.load()
        data[folder] = runtime  # "auto" too: it must win over a `runtime` in .sero/config.toml
        save_json_map(self.path, data)
