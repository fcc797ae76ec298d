"""Helpers for testing `sero-ls status` as a real process: its environment, its
stdout read line by line with deadlines, and hand-made status cache entries."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sero_ls.runtime import status_cache
from sero_ls.runtime.model import ContainerInfo, FolderStatus, RuntimeInfo, to_json
from sero_ls.uris import path_to_uri


def status_env(tmp: Path, *, path: str | None = None, **extra: str) -> dict[str, str]:
    """Isolated cache and state; PATH replaced when given (an empty dir: no runtime CLI)."""
    env = dict(os.environ)
    env["SERO_LS_CACHE_DIR"] = str(tmp / "cache")
    env["SERO_LS_STATE_DIR"] = str(tmp / "state")
    if path is not None:
        env["PATH"] = path
    env.update(extra)
    return env


def status_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "sero_ls", "status", *args]


def run_status(
    *args: str, env: dict[str, str], timeout: float = 30.0
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        status_argv(*args), env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def assert_exits_quietly(proc: subprocess.Popen[bytes], within: float = 2.0) -> None:
    """``proc`` (told to stop just before) exits 0 within ``within`` s and wrote no stderr."""
    t0 = time.monotonic()
    assert proc.wait(timeout=within + 3) == 0
    assert time.monotonic() - t0 < within
    assert proc.stderr is None or proc.stderr.read() == b""


class LineReader:
    """Lines from a pipe, each awaited with a deadline (no fixed sleeps)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buf = b""

    def readline(self, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no line within {timeout} s (got {self.buf!r})")
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                chunk = os.read(self.fd, 65536)
                if not chunk:
                    raise EOFError(f"stream closed (got {self.buf!r})")
                self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line.decode()

    def wait_for(self, predicate: Any, timeout: float = 20.0) -> tuple[str, list[str]]:
        """The first line for which predicate(line) holds, and every line read on the way."""
        deadline = time.monotonic() + timeout
        seen: list[str] = []
        while True:
            line = self.readline(max(0.01, deadline - time.monotonic()))
            seen.append(line)
            if predicate(line):
                return line, seen


def sample_status(
    folder: Path,
    *,
    mode: str = "container",
    reason: str | None = None,
    requested: str = "auto",
    container: str | None = "sero-proj",
) -> dict[str, Any]:
    """A FolderStatus JSON as the resolver makes it (degraded follows mode and requested)."""
    degraded = mode == "host" and requested != "host"
    info = ContainerInfo(id=container, state="running", name=container) if container else None
    status = FolderStatus(
        uri=path_to_uri(str(folder)),
        name=folder.name,
        requested=requested,  # type: ignore[arg-type]
        mode=mode,  # type: ignore[arg-type]
        degraded=degraded,
        reason=reason,
        message=f"test status {mode} {reason}",
        runtime=RuntimeInfo(
            backend="podman", cli="/usr/bin/podman", system="running", container=info
        ),
        checked_at="2026-11-27T08:00:00Z",
    )
    return to_json(status)


def write_entry(
    env: dict[str, str],
    folder: Path,
    status: dict[str, Any],
    *,
    writer: str = status_cache.CLI,
    age: float = 0.0,
) -> None:
    """A cache entry as a server (writer="server", this process as its pid) or a call writes it."""
    status_cache.write(
        str(folder),
        status,
        writer=writer,
        base=Path(env["SERO_LS_CACHE_DIR"]),
        now=time.time() - age,
    )
