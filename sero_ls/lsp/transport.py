"""The read loop and stdio streams: frames from a byte stream, decoded, handed on.

Bad frames and bad JSON never end the session: a request that cannot be read
gets a JSON-RPC error where its id is known, everything else is logged.
Standard library and ``framing`` only: the start-up path (``lsp/boot.py``) reads and
routes with it before pygls is imported.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

from sero_ls import trace
from sero_ls.lsp import framing

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], bytes], None]
Sender = Callable[[dict[str, Any]], None]


def valid_id(msg_id: Any) -> bool:
    """A JSON-RPC id: a string, a number (not a boolean) or null."""
    if isinstance(msg_id, bool):
        return False
    return msg_id is None or isinstance(msg_id, (str, int, float))


async def read_loop(messages: framing.MessageReader, handle: Handler, send: Sender) -> None:
    """Read until the stream ends; each message goes to ``handle`` with its bytes, and
    ``send`` answers what cannot be read."""
    while True:
        try:
            body = messages.buffered()
            if body is None:
                flush_all()  # a burst is routed: out with it before waiting for more
                body = await messages.read()
        except framing.FrameError as exc:
            log.warning("bad frame from the client: %s", exc)
            if exc.fatal:
                return
            continue
        if body is None:
            log.info("the client closed the connection")
            return
        msg, error = framing.decode_message(body)
        if msg is None:
            log.warning("unreadable message: %s", error)
            send(framing.error_response(None, framing.PARSE_ERROR, error or "parse error"))
            continue
        trace.record("client", "sero-ls", body)
        try:
            handle(msg, body)  # the bytes too: forwarded as they came
        except Exception:
            # A bug in routing one message must not end the session (nor silently).
            log.exception("failed to route a message: %.200s", body)
            if "method" in msg and "id" in msg:
                msg_id = msg["id"] if valid_id(msg["id"]) else None
                send(framing.error_response(msg_id, framing.INTERNAL_ERROR, "internal error"))


class BatchWriter:
    """A stream writer whose writes within one turn of the event loop go out as one write.

    Forwarding writes one frame per message; on a busy machine each ``write(2)`` (and the
    wake-up of the reader it causes) costs more than routing the message did. Frames queued
    while sero-ls works through what it has read are joined and written once the loop turns
    (``call_soon``), in the order they were queued: the reader sees the same bytes, sooner.
    A read loop that has worked through everything buffered calls :func:`flush_all` before
    it waits for more, which writes sooner than the loop's next turn would.
    Everything else (``drain``, ``close``, ``get_extra_info``, ...) is the wrapped writer's;
    ``drain`` and ``close`` flush first."""

    def __init__(self, writer: Any) -> None:
        self.writer = writer
        self._pending: list[bytes] = []
        self._size = 0
        self.listed = False  # in _dirty (once at most)

    def write(self, data: bytes) -> None:
        if not self._pending:
            try:
                asyncio.get_running_loop().call_soon(self.flush)
            except RuntimeError:  # no loop runs (the process is ending): write at once
                self.writer.write(data)
                return
            if not self.listed:
                self.listed = True
                _dirty.append(self)
        self._pending.append(data)
        self._size += len(data)

    def write_frame(self, body: bytes) -> None:
        """One message body as a frame (a large body is not copied into one)."""
        if len(body) < JOIN_MAX:
            self.write(framing.encode_frame(body))
        else:
            self.write(b"Content-Length: %d\r\n\r\n" % len(body))
            self.write(body)

    def flush(self) -> None:
        pending = self._pending
        if not pending:
            return
        self._pending = []
        size, self._size = self._size, 0
        try:
            if len(pending) == 1:
                self.writer.write(pending[0])
            elif size < JOIN_MAX:
                self.writer.write(b"".join(pending))
            else:  # the transport copies what the pipe does not take at once: not twice
                for data in pending:
                    self.writer.write(data)
        except (ConnectionError, RuntimeError) as exc:
            log.warning("write of %d bytes failed: %s", size, exc)

    async def drain(self) -> None:
        self.flush()
        await self.writer.drain()

    def close(self) -> None:
        self.flush()
        self.writer.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.writer, name)


JOIN_MAX = 1 << 20
"""Queued frames up to this size are joined into one write; larger ones go one by one."""
_dirty: list[BatchWriter] = []  # writers that queued frames since the last flush_all


def write_frame(writer: Any, body: bytes) -> None:
    """A message body as one frame to ``writer`` (a BatchWriter or a plain stream writer)."""
    if isinstance(writer, BatchWriter):
        writer.write_frame(body)
    else:
        writer.write(framing.encode_frame(body))


def flush_all() -> None:
    """Write every queued frame now (a read loop about to wait for input)."""
    while _dirty:
        writer = _dirty.pop()
        writer.listed = False
        writer.flush()


async def stdio_streams() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Async streams over fds 0 and 1 (pipes or sockets)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**20)
    read_proto = asyncio.StreamReaderProtocol(reader)
    stdin = os.fdopen(os.dup(sys.stdin.fileno()), "rb", buffering=0)
    await loop.connect_read_pipe(lambda: read_proto, stdin)
    stdout = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    w_transport, w_proto = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, stdout)
    writer = asyncio.StreamWriter(w_transport, w_proto, reader, loop)
    # Nothing else may write to fd 1: stray prints would corrupt the LSP stream.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return reader, writer
