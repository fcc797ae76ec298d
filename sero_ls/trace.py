"""The message trace: every JSON-RPC message sero-ls routes, on each leg, as JSON Lines.

One object per line: ``{"time": <Unix seconds>, "from": A, "to": B, "message": {...}}``
where A and B are ``"client"``, ``"sero-ls"`` or a language server's id (the ``servers``
setting's key, the wrapped command's name in wrapper mode; ``"folder"`` then names the
workspace folder). ``message`` is the message as it was written or read on that leg, after
URI mapping. Level ``verbose`` keeps whole messages; ``messages`` keeps the envelope (``id``,
``method``, ``error``) without params or results.

The file is bounded: past ``max_bytes`` it is renamed to ``FILE.1`` (replacing an older one)
and a new FILE starts, so a trace never takes more than twice ``max_bytes``.

Independently, routed messages are named in the log: every message at debug level (``-vv``),
requests and responses at info level (``-v``).

The routing code calls :func:`record` at the four legs; with no trace and quiet logging that
is one call to a no-op.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any, BinaryIO, Final, Literal

log = logging.getLogger("sero_ls.messages")

Level = Literal["off", "messages", "verbose"]
LEVELS: Final = ("off", "messages", "verbose")
DEFAULT_MAX_BYTES: Final = 64 * 1024 * 1024
FILE_PREFIX: Final = "sero-ls-trace"


class Tracer:
    """Does nothing: the tracer while no trace is asked for."""

    path: str | None = None

    def record(self, frm: str, to: str, message: dict[str, Any] | bytes) -> None:
        """One message on the leg frm -> to (a dict, or its encoded JSON body)."""

    def close(self) -> None:
        """Flush and release the file, if any."""


class FileTracer(Tracer):
    """Writes the trace to a JSON Lines file, rotated at ``max_bytes`` (see module doc)."""

    def __init__(
        self, path: str, level: Level = "verbose", max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        self.file_path = self.path = str(Path(path).absolute())
        self.level = level
        self.max_bytes = max_bytes
        self._lock = threading.Lock()  # records come from the event loop; close may not
        self._file: BinaryIO = open(self.file_path, "ab")
        self._size = self._file.tell()

    def record(self, frm: str, to: str, message: dict[str, Any] | bytes) -> None:
        line = _line(frm, to, message, self.level)
        with self._lock:
            if self._file.closed:
                return
            if self._size and self._size + len(line) > self.max_bytes:
                self._rotate()
            self._file.write(line)
            self._file.flush()
            self._size += len(line)

    def _rotate(self) -> None:
        self._file.close()
        os.replace(self.file_path, self.file_path + ".1")
        self._file = open(self.file_path, "ab")
        self._size = 0

    def close(self) -> None:
        with self._lock:
            self._file.close()


class _Tee(Tracer):
    """The file tracer, and the log's names of routed messages."""

    def __init__(self, file: Tracer, log_level: int) -> None:
        self.file = file
        self.path = file.path
        self.log_level = log_level

    def record(self, frm: str, to: str, message: dict[str, Any] | bytes) -> None:
        self.file.record(frm, to, message)
        msg = message if isinstance(message, dict) else _decode(message)
        if "method" in msg and "id" not in msg and self.log_level > logging.DEBUG:
            return  # notifications only at -vv
        log.log(self.log_level, "%s -> %s: %s", frm, to, describe(msg))

    def close(self) -> None:
        self.file.close()


_NO_TRACE: Final = Tracer()
_file: Tracer = _NO_TRACE
_log_level = logging.NOTSET
_current: Tracer = _NO_TRACE
on = False
"""Whether anything records messages: the forwarding hot path asks this before it calls
:func:`record` (a call costs more than forwarding a small message does)."""
_fixed = False  # a --trace FILE from the command line wins over the setting


def record(frm: str, to: str, message: dict[str, Any] | bytes) -> None:
    """Trace one message (see module doc); the hook the routing code calls."""
    _current.record(frm, to, message)


def active() -> bool:
    """Whether anything records messages (to skip work done only for the trace)."""
    return _current is not _NO_TRACE


def current_file() -> str | None:
    """The trace file being written, if any (listed by `sero/logs`)."""
    return _file.path


def configure(path: str | None, verbose: int) -> None:
    """From the command line: ``--trace FILE`` (verbose) and the log's ``-v`` count."""
    global _fixed, _log_level
    _log_level = logging.DEBUG if verbose >= 2 else logging.INFO if verbose == 1 else 0
    if path is not None:
        _fixed = True
        _use(FileTracer(path))
    else:
        _use(_NO_TRACE)


def apply_setting(level: Level, directory: Path) -> None:
    """The `trace` setting: a per-process file in ``directory`` while it is not ``off``."""
    if _fixed:
        return
    if level == "off":
        _use(_NO_TRACE)
        return
    if isinstance(_file, FileTracer) and _file.level == level:
        return
    if isinstance(_file, FileTracer):
        _file.level = level
        return
    directory.mkdir(parents=True, exist_ok=True)
    _use(FileTracer(str(directory / f"{FILE_PREFIX}-{os.getpid()}.jsonl"), level))


def apply_folder_settings(levels: list[Level], directory: Path) -> None:
    """Every folder's `trace` setting: the most detailed wins (the trace is per process).
    A folder that cannot be written costs the trace, not the session."""
    try:
        apply_setting(max(levels, key=LEVELS.index, default="off"), directory)
    except OSError as exc:
        log.warning("no message trace: cannot write in %s: %s", directory, exc)


def _use(file: Tracer) -> None:
    global _file, _current, on
    if _file is not file:
        _file.close()
    _file = file
    _current = _Tee(file, _log_level) if _log_level else file
    on = _current is not _NO_TRACE
    if file.path:
        log.warning("tracing every message to %s", file.path)


def describe(msg: dict[str, Any]) -> str:
    """A message in a few words: method, id, error (for the log)."""
    parts = []
    if "method" in msg:
        parts.append(str(msg["method"]))
    if "id" in msg:
        parts.append(f"id {msg['id']!r}")
    if "method" not in msg:
        parts.append("error" if "error" in msg else "result")
    return " ".join(parts)


def _decode(body: bytes) -> dict[str, Any]:
    try:
        msg = json.loads(body)
    except ValueError:
        return {}
    return msg if isinstance(msg, dict) else {}


def _line(frm: str, to: str, message: dict[str, Any] | bytes, level: Level) -> bytes:
    head: dict[str, Any] = {"time": time.time()}
    for key, name in (("from", frm), ("to", to)):
        server, _, folder = name.partition("@")  # a server instance is "<id>@<folder>"
        head[key] = server
        if folder:
            head["folder"] = folder
    if level == "messages":
        msg = message if isinstance(message, dict) else _decode(message)
        envelope = {k: msg[k] for k in ("jsonrpc", "id", "method", "error") if k in msg}
        return (json.dumps({**head, "message": envelope}) + "\n").encode()
    if isinstance(message, dict):
        return (json.dumps({**head, "message": message}, ensure_ascii=False) + "\n").encode()
    # An encoded body is valid JSON; a raw newline can only be whitespace between its tokens.
    body = message.replace(b"\r", b" ").replace(b"\n", b" ")
    return json.dumps(head)[:-1].encode() + b', "message": ' + body + b"}\n"
