"""The on-disk cache of folder statuses that `sero-ls status` answers from.

One small JSON file per folder under ``$SERO_LS_CACHE_DIR`` or
``$XDG_CACHE_HOME/sero-ls/status`` (default ``~/.cache/sero-ls/status``), named
after a hash of the folder's path and written atomically (temporary file, then
``os.replace``), so a reader never sees half a file::

    {"path": "/home/u/proj", "writtenAt": 1764226800.25, "writer": "server",
     "pid": 4242, "status": {FolderStatus}}

Two kinds of writers:

* a running ``sero-ls`` server (``writer: "server"``) writes every status it
  pushes with ``sero/statusChanged``. It pushes on every change and watches the
  folder continuously, so its entry stays current for as long as that process
  lives, whatever the entry's age;
* ``sero-ls status`` (``writer: "cli"``) writes what it probed; such an entry is
  fresh for ``max_age`` seconds.

This module is imported on the hot path of ``sero-ls status`` (a prompt may run
it every second): standard library only, no attrs/cattrs at import time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sero_ls.runtime.model import FolderStatus

log = logging.getLogger(__name__)

DEFAULT_MAX_AGE = 5.0
SERVER = "server"
CLI = "cli"


def cache_dir() -> Path:
    explicit = os.environ.get("SERO_LS_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "sero-ls" / "status"


def _key(folder: str) -> str:
    return hashlib.sha256(os.path.normpath(folder).encode("utf-8", "surrogateescape")).hexdigest()[
        :24
    ]


def entry_path(folder: str, base: Path | None = None) -> Path:
    return (base or cache_dir()) / f"{_key(folder)}.json"


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


@dataclass(frozen=True)
class Entry:
    path: str
    status: dict[str, Any]
    written_at: float
    writer: str
    pid: int

    def age(self, now: float | None = None) -> float:
        return max(0.0, (time.time() if now is None else now) - self.written_at)

    def fresh(self, max_age: float, now: float | None = None) -> bool:
        """Current enough to answer from: young, or kept by a server that still runs."""
        if self.age(now) <= max_age:
            return True
        return self.writer == SERVER and pid_alive(self.pid)


def read(folder: str, base: Path | None = None) -> Entry | None:
    """The cached entry of ``folder`` (None when absent or unreadable)."""
    try:
        data = json.loads(entry_path(folder, base).read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.info("ignoring unreadable status cache entry for %s: %s", folder, exc)
        return None
    try:
        if data["path"] != os.path.normpath(folder) or not isinstance(data["status"], dict):
            return None  # a hash collision, or a foreign file
        return Entry(
            path=data["path"],
            status=data["status"],
            written_at=float(data["writtenAt"]),
            writer=str(data.get("writer", CLI)),
            pid=int(data.get("pid", 0)),
        )
    except (KeyError, TypeError, ValueError):
        return None


def known(folder: str, base: Path | None = None) -> bool:
    """Some writer has cached this folder (it is a workspace folder someone resolved)."""
    return entry_path(folder, base).is_file()


def write(
    folder: str,
    status: dict[str, Any],
    *,
    writer: str = CLI,
    base: Path | None = None,
    now: float | None = None,
) -> None:
    """Store ``status`` (FolderStatus JSON) for ``folder``, atomically."""
    target = entry_path(folder, base)
    target.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "path": os.path.normpath(folder),
        "writtenAt": time.time() if now is None else now,
        "writer": writer,
        "pid": os.getpid(),
        "status": status,
    }
    import tempfile  # here: not needed to answer from the cache

    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, ensure_ascii=False, separators=(",", ":"))
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


_served: set[str] = set()  # folders this process keeps as a server


def store_statuses(statuses: Iterable[FolderStatus]) -> None:
    """The server's hook: cache every status it pushes (all of its folders, each push).

    A folder that was in the previous push and is not any more (removed from the
    workspace) is released: its entry becomes an ordinary age-bounded one, since
    no server watches it now. Never raises (a cache is optional)."""
    from sero_ls.runtime.model import to_json
    from sero_ls.uris import uri_to_path

    current: set[str] = set()
    for status in statuses:
        path = uri_to_path(status.uri)
        if path is None:
            continue
        current.add(os.path.normpath(path))
        try:
            write(path, to_json(status), writer=SERVER)
        except OSError as exc:
            log.warning("could not write the status cache for %s: %s", path, exc)
    for path in _served - current:
        entry = read(path)
        if entry is not None and entry.writer == SERVER and entry.pid == os.getpid():
            with contextlib.suppress(OSError):
                write(path, entry.status, writer=CLI, now=entry.written_at)
    _served.clear()
    _served.update(current)


@contextlib.contextmanager
def probe_lock(folder: str, timeout: float, base: Path | None = None) -> Iterator[bool]:
    """Hold the folder's probe lock, so concurrent `status` calls probe once.

    Yields True when this process got the lock (it should probe), False when
    another process held it for ``timeout`` seconds (answer with what is known).
    Without fcntl (Windows) every caller probes.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover (POSIX only here)
        yield True
        return
    path = entry_path(folder, base).with_suffix(".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(0.02)
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
