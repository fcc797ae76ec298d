"""A language server child process and the raw JSON-RPC connection to it.

Messages are plain dicts both ways (never structured into lsprotocol types).
Writes are queued in order (``transport.BatchWriter``: the frames of one turn of the
event loop go out as one write), so the order in which the proxy forwards messages is
the order the server reads them. The child's
stderr is drained line by line into the log so a chatty server never blocks.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable, Sequence
from typing import Any

from sero_ls import trace
from sero_ls.lsp import framing, transport
from sero_ls.proxy.process_tree import PID_MARK, kill_tree
from sero_ls.proxy.process_tree import TELL_PID as TELL_PID  # re-exported for the hub
from sero_ls.proxy.process_tree import WATCHDOG as WATCHDOG

log = logging.getLogger(__name__)

_ids = itertools.count(1)


class BackendError(Exception):
    """A request to a language server that failed: error response, exit, or timeout."""

    def __init__(self, message: str, code: int = framing.INTERNAL_ERROR, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.data = data


class Connection:
    """One language server process: start, send, request, stop."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        on_message: Callable[[dict[str, Any], bytes], None],
        on_exit: Callable[[int | None], None] | None = None,
        max_message: int = framing.DEFAULT_MAX_MESSAGE,
        watchdog: Callable[[int], list[str]] | None = None,
        inner_pid: bool = False,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.cwd = cwd
        self.env = env
        self.on_message = on_message
        self.on_exit = on_exit
        self.max_message = max_message
        self.proc: asyncio.subprocess.Process | None = None
        # Where messages to the process go (frames written once a loop turn): None before
        # it started and once it exited. The router's hot path writes to it directly.
        self.writer: transport.BatchWriter | None = None
        self.stderr_tail: list[str] = []
        self._own: dict[Any, asyncio.Future[Any]] = {}  # our requests (initialize, shutdown)
        self._tasks: list[asyncio.Task[Any]] = []
        self._closing = False
        self.exited = asyncio.Event()
        # The watchdog's argv for a target PID; with inner_pid the PID is the one the
        # command reports (TELL_PID), e.g. inside a container, else our child's own.
        self.watchdog_argv = watchdog
        self.wants_inner_pid = inner_pid
        self.inner_pid: int | None = None
        self.watchdog: asyncio.subprocess.Process | None = None
        self._watchdog_start: asyncio.Future[None] | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    async def start(self) -> None:
        log.info("[%s] starting: %s", self.name, self.argv)
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=self.cwd,
            env=self.env,
            start_new_session=True,  # its own process group: we end the whole tree
            limit=2**20,
        )
        self.writer = transport.BatchWriter(self.proc.stdin)
        self._tasks = [
            asyncio.ensure_future(self._read()),
            asyncio.ensure_future(self._drain_stderr()),
        ]
        if self.watchdog_argv is not None and not self.wants_inner_pid:
            # off the way to the server's first answer: spawning it costs a fork of sero-ls
            self._watchdog_start = asyncio.ensure_future(self._start_watchdog(self.proc.pid))

    async def _start_watchdog(self, pid: int) -> None:
        assert self.watchdog_argv is not None
        argv = self.watchdog_argv(pid)
        try:
            self.watchdog = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
                start_new_session=True,  # not in our process group: it must outlive us
            )
            log.debug("[%s] watchdog %s for pid %d", self.name, self.watchdog.pid, pid)
        except OSError as exc:
            log.warning("[%s] no watchdog (%s): %s", self.name, argv[0], exc)

    # ---- writing

    def send(self, message: dict[str, Any]) -> bool:
        """Write one message; False when the process is gone."""
        return self.send_raw_body(framing.encode_message(message))

    def send_raw_body(self, body: bytes) -> bool:
        """Write one already encoded message body; False when the process is gone."""
        writer = self.writer
        if writer is None or self.proc is None or self.proc.returncode is not None:
            return False
        writer.write_frame(body)
        if trace.on:
            trace.record("sero-ls", self.name, body)
        return True

    async def request(self, method: str, params: Any, timeout: float) -> Any:  # noqa: ASYNC109
        """A request of sero-ls' own (not a forwarded one); raises BackendError."""
        msg_id = f"sero-ls:{next(_ids)}"
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._own[msg_id] = fut
        if not self.send({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}):
            self._own.pop(msg_id, None)
            raise BackendError(f"{self.name} is not running")
        try:
            async with asyncio.timeout(timeout):
                return await fut
        except TimeoutError:
            raise BackendError(
                f"{self.name} did not answer {method} within {timeout:g} s"
            ) from None
        finally:
            self._own.pop(msg_id, None)

    def notify(self, method: str, params: Any) -> bool:
        return self.send({"jsonrpc": "2.0", "method": method, "params": params})

    # ---- reading

    async def _read(self) -> None:
        assert self.proc and self.proc.stdout
        reader = framing.MessageReader(self.proc.stdout, max_message=self.max_message)
        peer = f"[{self.name}] the server"
        try:
            while (bodies := await transport.next_burst(reader, peer)) is not None:
                for body in bodies:
                    self._received(body)
        finally:
            await self._on_eof()

    def _received(self, body: bytes) -> None:
        msg, error = framing.decode_message(body)
        if msg is None:
            log.warning("[%s] unreadable message from the server: %s", self.name, error)
            return
        if trace.on:
            trace.record(self.name, "sero-ls", body)
        if "method" not in msg and msg.get("id") in self._own:
            fut = self._own.pop(msg["id"])
            if not fut.done():
                if "error" in msg:
                    err = msg.get("error") or {}
                    fut.set_exception(
                        BackendError(
                            str(err.get("message", "error")),
                            int(err.get("code", framing.INTERNAL_ERROR)),
                            err.get("data"),
                        )
                    )
                else:
                    fut.set_result(msg.get("result"))
            return
        try:
            # the bytes too: an unchanged message is forwarded as it came
            self.on_message(msg, body)
        except Exception:
            log.exception("[%s] failed to route a message", self.name)

    async def _drain_stderr(self) -> None:
        assert self.proc and self.proc.stderr
        while True:
            try:
                line = await self.proc.stderr.readline()
            except (ValueError, asyncio.LimitOverrunError):
                continue  # an over-long line: skip it, keep draining
            if not line:
                return
            text = line.decode("utf-8", "replace").rstrip()
            if self.inner_pid is None and text.startswith(PID_MARK):
                digits = text[len(PID_MARK) :].strip()
                if digits.isdigit():
                    self.inner_pid = int(digits)
                    if self.watchdog_argv is not None and not self._closing:
                        await self._start_watchdog(self.inner_pid)
                    continue
            self.stderr_tail = [*self.stderr_tail[-19:], text]
            log.info("[%s stderr] %s", self.name, text)

    async def _on_eof(self) -> None:
        assert self.proc
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await self.proc.wait()
        code = self.proc.returncode
        self.writer = None
        self.exited.set()
        for fut in self._own.values():
            if not fut.done():
                fut.set_exception(BackendError(f"{self.name} exited (status {code})"))
        self._own.clear()
        if not self._closing:
            log.warning("[%s] exited unexpectedly (status %s)", self.name, code)
        if self.on_exit:
            self.on_exit(code)

    # ---- stopping

    async def stop(self, *, graceful: bool = True, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """`shutdown` (bounded), `exit`, then end the whole process tree."""
        self._closing = True
        if self.proc is None:
            return
        if graceful and not self.exited.is_set():
            try:
                await self.request("shutdown", None, timeout)
                self.notify("exit", None)
                async with asyncio.timeout(2):
                    await self.exited.wait()
            except (BackendError, TimeoutError) as exc:
                log.info("[%s] no clean shutdown: %s", self.name, exc)
        await kill_tree(self.proc.pid)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await self.exited.wait()
        if self._watchdog_start is not None:  # still being spawned? then it is stopped too
            await asyncio.gather(self._watchdog_start, return_exceptions=True)
        await self._stop_watchdog()
        for t in self._tasks:
            t.cancel()

    async def _stop_watchdog(self) -> None:
        """Close the watchdog's stdin: it ends the server if that still runs, then exits."""
        dog = self.watchdog
        if dog is None:
            return
        if dog.stdin is not None:
            with contextlib.suppress(Exception):
                dog.stdin.close()
        try:
            async with asyncio.timeout(5):
                await dog.wait()
        except TimeoutError:
            await kill_tree(dog.pid)
