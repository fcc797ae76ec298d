"""A raw JSON-RPC client over a subprocess's stdio, for byte-level proxy tests and benchmarks.

Unlike pytest-lsp's client it never structures anything: requests and results,
server requests and notifications are the plain dicts that were on the wire, so
vendor fields and unknown methods can be sent and checked. Its framing is its own
(not sero-ls'), so a framing bug in sero-ls cannot hide behind a shared one.

    async with RawClient.spawn([sys.executable, "-m", "sero_ls", "proxy", "--", ...]) as c:
        result = await c.request("initialize", {...})
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

ServerRequestHandler = Callable[[dict[str, Any]], Awaitable[Any] | Any]


class ResponseError(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(f"{error.get('code')}: {error.get('message')}")
        self.error = error
        self.code = error.get("code")


def frame(msg: dict[str, Any]) -> bytes:
    body = json.dumps(msg, ensure_ascii=False, separators=(",", ":")).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


async def read_frame(reader: asyncio.StreamReader) -> bytes | None:
    """One frame's body, or None at EOF. Strict: only Content-Length (and other) headers."""
    length = None
    while True:
        line = await reader.readline()
        if not line:
            return None
        line = line.strip()
        if not line:
            if length is None:
                continue
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    try:
        return await reader.readexactly(length)
    except asyncio.IncompleteReadError:
        return None


class RawClient:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        assert proc.stdin and proc.stdout and proc.stderr
        self.writer = proc.stdin
        self.reader = proc.stdout
        self.stderr_tail: list[bytes] = []
        self.notifications: list[dict[str, Any]] = []
        self.server_requests: list[dict[str, Any]] = []
        # what came from the server, in order: ("response"|"request"|"notification", msg)
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.handlers: dict[str, ServerRequestHandler] = {}
        self.default_handler: ServerRequestHandler | None = None
        self._pending: dict[Any, asyncio.Future[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._answering: set[asyncio.Task[None]] = set()
        self._arrived = asyncio.Condition()
        self._tasks = [
            asyncio.ensure_future(self._read()),
            asyncio.ensure_future(self._drain_stderr()),
        ]

    @classmethod
    @contextlib.asynccontextmanager
    async def spawn(
        cls, argv: Sequence[str], *, env: dict[str, str] | None = None, cwd: str | None = None
    ) -> AsyncIterator[RawClient]:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=cwd,
            limit=2**20,
        )
        client = cls(proc)
        try:
            yield client
        finally:
            await client.close()

    # ---- sending

    def send(self, msg: dict[str, Any]) -> None:
        self.writer.write(frame(msg))

    def send_bytes(self, data: bytes) -> None:
        self.writer.write(data)

    async def drain(self) -> None:
        await self.writer.drain()

    def request_nowait(
        self, method: str, params: Any = None, *, msg_id: Any = None
    ) -> tuple[Any, asyncio.Future[dict[str, Any]]]:
        """Send a request; the future gets the whole raw response message."""
        msg_id = next(self._ids) if msg_id is None else msg_id
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = fut
        msg: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        return msg_id, fut

    async def response(self, method: str, params: Any = None, timeout: float = 20.0) -> Any:
        """The raw response message of a request."""
        _, fut = self.request_nowait(method, params)
        await self.drain()
        async with asyncio.timeout(timeout):
            return await fut

    async def request(self, method: str, params: Any = None, timeout: float = 20.0) -> Any:
        """The result of a request; ResponseError on an error response."""
        msg = await self.response(method, params, timeout)
        if "error" in msg:
            raise ResponseError(msg["error"])
        return msg.get("result")

    def notify(self, method: str, params: Any = None) -> None:
        msg: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)

    async def initialize(self, params: dict[str, Any], timeout: float = 30.0) -> Any:
        result = await self.request("initialize", params, timeout)
        self.notify("initialized", {})
        await self.drain()
        return result

    async def shutdown_exit(self, timeout: float = 20.0) -> int:
        """shutdown, exit, and the process' exit status."""
        await self.request("shutdown", None, timeout)
        self.notify("exit")
        await self.drain()
        async with asyncio.timeout(timeout):
            return await self.proc.wait()

    # ---- receiving

    async def wait_for(
        self,
        predicate: Callable[[str, dict[str, Any]], bool],
        timeout: float = 20.0,
    ) -> dict[str, Any]:
        """The first message from the server (any kind, already received or not) that matches."""
        seen = 0
        async with asyncio.timeout(timeout), self._arrived:
            while True:
                for kind, msg in self.received[seen:]:
                    if predicate(kind, msg):
                        return msg
                seen = len(self.received)
                await self._arrived.wait()

    async def notification(
        self, method: str, match: Callable[[Any], bool] = lambda p: True, timeout: float = 20.0
    ) -> dict[str, Any]:
        return await self.wait_for(
            lambda k, m: k == "notification" and m["method"] == method and match(m.get("params")),
            timeout,
        )

    async def _read(self) -> None:
        while True:
            body = await read_frame(self.reader)
            if body is None:
                break
            msg = json.loads(body)
            if "method" not in msg:
                kind = "response"
                fut = self._pending.pop(msg.get("id"), None)
                if fut is not None and not fut.done():
                    fut.set_result(msg)
            elif "id" in msg:
                kind = "request"
                self.server_requests.append(msg)
                task = asyncio.ensure_future(self._answer(msg))
                self._answering.add(task)
                task.add_done_callback(self._answering.discard)
            else:
                kind = "notification"
                self.notifications.append(msg)
            async with self._arrived:
                self.received.append((kind, msg))
                self._arrived.notify_all()
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(EOFError("the server closed its stdout"))

    async def _answer(self, msg: dict[str, Any]) -> None:
        handler = self.handlers.get(msg["method"], self.default_handler)
        if handler is None:  # what a client without settings answers
            result = None
            if msg["method"] == "workspace/configuration":
                result = [None for _ in (msg.get("params") or {}).get("items") or []]
            self.send({"jsonrpc": "2.0", "id": msg["id"], "result": result})
            await self.drain()
            return
        try:
            result = handler(msg)
            if asyncio.iscoroutine(result):
                result = await result
        except ResponseError as exc:
            self.send({"jsonrpc": "2.0", "id": msg["id"], "error": exc.error})
        else:
            self.send({"jsonrpc": "2.0", "id": msg["id"], "result": result})
        await self.drain()

    async def _drain_stderr(self) -> None:
        assert self.proc.stderr
        while line := await self.proc.stderr.readline():
            self.stderr_tail = [*self.stderr_tail[-199:], line]

    async def close(self) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                await self.proc.wait()
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
