"""Running a container CLI: argv lists, a deadline on every call, errors a user can read."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

import attrs

log = logging.getLogger(__name__)


def shared(
    store: dict[Any, asyncio.Future[Any]], key: Hashable, make: Callable[[], Awaitable[Any]]
) -> Awaitable[Any]:
    """The one answer for ``key`` in ``store``: started by the first caller, awaited by every
    caller (a caller that gives up does not cancel it for the others)."""
    fut = store.get(key)
    if fut is None:
        fut = store[key] = asyncio.ensure_future(make())
        # Its waiters may time out first: the failure is theirs to report, not asyncio's.
        fut.add_done_callback(lambda f: f.cancelled() or f.exception())
    return asyncio.shield(fut)


class ProbeError(Exception):
    """A probe that did not give an answer: timed out, could not start, or printed garbage."""


class ProbeTimeout(ProbeError):
    """The CLI did not finish within its deadline (it was killed)."""


@attrs.frozen
class CliResult:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def error_text(self) -> str:
        """The CLI's own words for what went wrong (stderr, else stdout), on one line."""
        text = (self.stderr.strip() or self.stdout.strip()) or f"exit status {self.returncode}"
        return " ".join(text.split())[:500]


def find_executable(cli: str) -> str | None:
    """The absolute path of ``cli`` (a path or a name on PATH), or None when it is not there."""
    if os.sep in cli:
        return cli if os.path.isfile(cli) and os.access(cli, os.X_OK) else None
    # Absolute PATH entries only: an empty or `.` entry would run a `podman` from whatever
    # folder the caller is in (`sero-ls status` runs on every prompt, in any clone).
    entries = os.environ.get("PATH", os.defpath).split(os.pathsep)
    return shutil.which(cli, path=os.pathsep.join(d for d in entries if os.path.isabs(d)))


async def run_cli(argv: list[str], deadline: float, stdin: bytes | None = None) -> CliResult:
    """Run ``argv`` with a deadline. Raises ProbeError when it cannot start or does not finish."""
    log.debug("run %s", argv)
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        raise ProbeError(f"{argv[0]}: {exc.strerror or exc}") from exc
    try:
        async with asyncio.timeout(deadline):
            out, err = await proc.communicate(stdin)
    except TimeoutError:
        _kill(proc)
        await proc.wait()
        raise ProbeTimeout(f"`{' '.join(argv[:4])}` did not answer within {deadline:g} s") from None
    except asyncio.CancelledError:
        _kill(proc)
        raise
    assert proc.returncode is not None
    return CliResult(
        tuple(argv),
        proc.returncode,
        out.decode("utf-8", "replace"),
        err.decode("utf-8", "replace"),
    )


def _kill(proc: asyncio.subprocess.Process) -> None:
    try:
        os.killpg(proc.pid, 9)
    except (ProcessLookupError, PermissionError):
        try:
            proc.kill()
        except ProcessLookupError:
            pass
