"""The runtime's own event stream (docker/podman `events`), so status changes are seen
at once and polling can slow down. Apple's CLI has no event stream: it is polled."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable

from sero_ls.runtime.backends import make_backend

log = logging.getLogger(__name__)

# Events that cannot change a folder's status (our own exec sessions make many of these).
IGNORED = {"exec", "exec_died", "exec_start", "exec_create", "exec_detach", "attach",
           "detach", "health_status", "top", "resize", "sync", "mount", "unmount", "copy",
           "archive-path", "extract-to-dir", "export", "commit"}  # fmt: skip


def event_argv(backend: str, cli: str, context: str | None = None) -> list[str] | None:
    """`<cli> [--context C | --connection C] events ...` (None: the runtime has no stream)."""
    fmt = {"podman": "json", "docker": "{{json .}}"}.get(backend)
    if fmt is None:
        return None
    return [*make_backend(backend, cli, 1.0, context).base_argv, "events", "--format", fmt]


def relevant(line: str) -> bool:
    """Whether one line of the stream may mean a status change (unknown lines: yes)."""
    line = line.strip()
    if not line:
        return False
    try:
        obj = json.loads(line)
    except json.JSONDecodeError:
        return True
    if not isinstance(obj, dict):
        return True
    action = str(obj.get("Status") or obj.get("Action") or obj.get("status") or "")
    return action.split(":")[0].strip() not in IGNORED


class EventStream:
    """Runs `<cli> events` and calls ``on_event`` for each relevant event, and when the
    stream ends (the daemon went away); restarts it with backoff."""

    def __init__(self, argv: list[str], on_event: Callable[[], None]) -> None:
        self.argv = argv
        self.on_event = on_event
        self.healthy = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        delay = 1.0
        while True:
            proc = None
            try:
                proc = await asyncio.create_subprocess_exec(
                    *self.argv,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.DEVNULL,
                    start_new_session=True,
                )
                assert proc.stdout is not None
                self.healthy = True
                while line := await proc.stdout.readline():
                    delay = 1.0
                    if relevant(line.decode("utf-8", "replace")):
                        self.on_event()
            except OSError as exc:
                log.info("no event stream (%s): %s", self.argv[0], exc)
            finally:
                self.healthy = False
                if proc is not None and proc.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                    await proc.wait()
            self.on_event()  # the stream ended: perhaps the daemon went down
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
