"""The read loop and stdio streams: frames from a byte stream, decoded, handed on.

Bad frames and bad JSON never end the session: a request that cannot be read
gets a JSON-RPC error where its id is known, everything else is logged.
The hot path (a notification that is only passed on) is offered each small one first
(:func:`read_loop`); stdin is read through an :class:`Intake`, which routes whole frames as
they arrive; writes are batched per turn of the event loop (:class:`BatchWriter`).
Standard library and ``framing`` only: the start-up path (``lsp/boot.py``) reads and
routes with it before pygls is imported.
"""

from __future__ import annotations

import asyncio
import collections
import functools
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
Forwarder = Callable[[dict[str, Any], bytes], bool]


def valid_id(msg_id: Any) -> bool:
    """A JSON-RPC id: a string, a number (not a boolean) or null."""
    if isinstance(msg_id, bool):
        return False
    return msg_id is None or isinstance(msg_id, (str, int, float))


async def read_loop(
    messages: framing.MessageReader,
    handle: Handler,
    send: Sender,
    forwarder: Callable[[], Forwarder | None] | None = None,
    intake: Intake | None = None,
) -> None:
    """Read until the stream ends; each message goes to ``handle`` with its bytes, and
    ``send`` answers what cannot be read.

    ``forwarder``: the hot path in effect (None: none now), asked at each burst and after
    each message the hot path did not take. It is offered each small notification first,
    as orjson read it (``framing.quick_decode``), with its bytes; True means it passed the
    bytes on and is done. Everything else is decoded with every check and goes to
    ``handle``.

    ``intake``: the stream ``messages`` reads, when it is an :class:`Intake`: while the loop
    waits at a frame boundary, whole frames are routed as they arrive (its lane)."""
    burst = _Burst(handle, send, forwarder)
    lane = functools.partial(_lane, burst, messages.max_message) if intake is not None else None
    while (bodies := await next_burst(messages, "the client", intake, lane)) is not None:
        burst.route(bodies)
    log.info("the client's stream ended (closed, or a frame that cannot be followed)")


class _Burst:
    """What the read loop does with each message it read (see :func:`read_loop`)."""

    def __init__(
        self, handle: Handler, send: Sender, forwarder: Callable[[], Forwarder | None] | None
    ) -> None:
        self.handle = handle
        self.send = send
        self.forwarder = forwarder

    def route(self, bodies: list[bytes]) -> None:
        forwarder = self.forwarder
        forward = forwarder() if forwarder is not None else None
        for body in bodies:
            quick = None
            if forward is not None:
                quick = framing.quick_decode(body)  # decode_message words what it refuses
                if quick is not None and "id" not in quick:
                    if trace.on:
                        trace.record("client", "sero-ls", body)
                    try:
                        if forward(quick, body):
                            continue
                    except Exception:  # a notification: nobody waits for an answer
                        log.exception("failed to forward a message: %.200s", body)
                        continue
            _route(body, quick, self.handle, self.send)
            if forwarder is not None:
                forward = forwarder()  # that message may have changed it (shutdown)


def _lane(burst: _Burst, max_message: int, data: bytes) -> bytes:
    """An :class:`Intake`'s lane: route the whole frames at the start of ``data`` now; the
    rest (a frame not whole yet, ...) is the read loop's."""
    bodies, used = framing.split_frames(data, max_message)
    if not used:
        return data
    try:
        burst.route(bodies)
    except Exception:  # never into the transport: it would close the stream
        log.exception("failed to route a burst")
    return data[used:]


LANE_READS = 8
"""Reads an :class:`Intake` makes at once (without waiting) after a chunk its lane took."""


class Intake(asyncio.Protocol):
    """The bytes of a pipe (sero-ls' stdin) for a ``framing.MessageReader``, as
    ``asyncio.StreamReader`` gives them, with a lane for whole frames.

    Each chunk that arrives wakes the read loop's task, which costs more than routing a
    few small messages does. So while the read loop waits at a frame boundary with
    nothing buffered (:meth:`wait`), a chunk that arrives is offered to its lane first, in
    the transport's callback: it routes the whole frames at the start (no wake-up, no
    copy into a buffer) and gives back the rest, which is buffered and wakes the loop as
    before. Order is kept: the lane only runs while nothing is buffered, and only while
    the next byte starts a frame (a reader in the middle of one reads with :meth:`read`)."""

    def __init__(self, high_water: int = 16 * framing.READ_CHUNK) -> None:
        self._chunks: collections.deque[bytes] = collections.deque()
        self._size = 0
        self._eof = False
        self._waiter: asyncio.Future[None] | None = None
        self._transport: asyncio.ReadTransport | None = None
        self._paused = False
        self._high = high_water
        self.lane: Callable[[bytes], bytes] | None = None
        self._fd: int | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        pipe = transport.get_extra_info("pipe")
        self._fd = pipe.fileno() if pipe is not None else None

    def data_received(self, data: bytes) -> None:
        lane = self.lane
        if lane is not None and not self._chunks:
            data = lane(data)
            # What arrived meanwhile is routed too, before the writes go out: a writer of
            # one message per write() otherwise wakes sero-ls for each (and it the server).
            extra = LANE_READS
            while not data and extra and (more := self._read_now()):
                data = lane(more)
                extra -= 1
            flush_all()
            if not data:
                return
        self._chunks.append(data)
        self._size += len(data)
        if self._size > self._high and not self._paused and self._transport is not None:
            self._paused = True  # a large message: read it as it is taken, not all at once
            self._transport.pause_reading()
        self._wake()

    def _read_now(self) -> bytes:
        """What the pipe holds now, without waiting; b"" when nothing (or the end, or an
        error: the transport finds those on its next read)."""
        fd = self._fd
        if fd is None:
            return b""
        try:
            return os.read(fd, framing.READ_CHUNK)
        except OSError:  # BlockingIOError: nothing there
            return b""

    def eof_received(self) -> None:
        self._eof = True
        self._wake()

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = True
        self._wake()

    async def wait(self, lane: Callable[[bytes], bytes]) -> None:
        """Wait for bytes that ``lane`` did not take (or the end); until then, it is offered
        each chunk that arrives. Call it only where the next byte starts a frame."""
        if self._chunks or self._eof:
            return
        self.lane = lane
        try:
            await self._arrival()
        finally:
            self.lane = None

    async def _arrival(self) -> None:
        """Until data_received, eof_received or connection_lost is called."""
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def read(self, n: int = -1, /) -> bytes:
        """The next chunk that arrived (at most ``n`` bytes of it; -1: all of it), once
        there is one; b"" at the end."""
        while not self._chunks:
            if self._eof:
                return b""
            await self._arrival()
        chunk = self._chunks.popleft()
        if 0 <= n < len(chunk):
            self._chunks.appendleft(chunk[n:])
            chunk = chunk[:n]
        self._size -= len(chunk)
        if self._paused and self._size <= self._high // 2 and self._transport is not None:
            self._paused = False
            self._transport.resume_reading()
        return chunk


async def next_burst(
    messages: framing.MessageReader,
    peer: str,
    intake: Intake | None = None,
    lane: Callable[[bytes], bytes] | None = None,
) -> list[bytes] | None:
    """The next messages of a stream: every one buffered whole (a burst, routed without an
    ``await`` between them), else the next one read, once the writes queued meanwhile went
    out. None: the stream ended. A bad frame is logged (as ``peer``'s) and skipped.
    ``intake``, ``lane``: the stream ``messages`` reads and the lane it offers whole frames
    to while nothing is buffered (see :class:`Intake`)."""
    while True:
        bodies = messages.take()
        if bodies:
            return bodies
        flush_all()  # the last burst is routed: out with it before waiting for more
        if intake is not None and lane is not None and messages.at_boundary():
            await intake.wait(lane)  # whole frames are routed as they come meanwhile
        try:
            body = await messages.read()
        except framing.FrameError as exc:
            log.warning("bad frame from %s: %s", peer, exc)
            if exc.fatal:
                return None
            continue
        return None if body is None else [body]


def _route(body: bytes, quick: dict[str, Any] | None, handle: Handler, send: Sender) -> None:
    """One message that is not the hot path's: decoded with every check, handed on."""
    msg, error = framing.decode_message(body, quick)
    if msg is None:
        log.warning("unreadable message: %s", error)
        send(framing.error_response(None, framing.PARSE_ERROR, error or "parse error"))
        return
    if trace.on and (quick is None or "id" in quick):  # else traced already
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
        size = len(body)
        if size >= JOIN_MAX:
            self.write(b"Content-Length: %d\r\n\r\n" % size)
            self.write(body)
            return
        if not self._pending:
            self.write(b"Content-Length: %d\r\n\r\n%b" % (size, body))
            return
        frame = b"Content-Length: %d\r\n\r\n%b" % (size, body)  # write(), inlined: hot
        self._pending.append(frame)
        self._size += len(frame)

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


def to_client(writer: Any, body: bytes) -> None:
    """A message body to the editor: traced, framed, queued (before pygls and after)."""
    if trace.on:
        trace.record("sero-ls", "client", body)
    write_frame(writer, body)


def flush_all() -> None:
    """Write every queued frame now (a read loop about to wait for input)."""
    while _dirty:
        writer = _dirty.pop()
        writer.listed = False
        writer.flush()


async def stdio_streams() -> tuple[Intake, asyncio.StreamWriter]:
    """Async streams over fds 0 and 1 (pipes or sockets)."""
    loop = asyncio.get_running_loop()
    reader = Intake()
    stdin = os.fdopen(os.dup(sys.stdin.fileno()), "rb", buffering=0)
    await loop.connect_read_pipe(lambda: reader, stdin)
    stdout = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    w_transport, w_proto = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, stdout)
    writer = asyncio.StreamWriter(w_transport, w_proto, None, loop)
    # Nothing else may write to fd 1: stray prints would corrupt the LSP stream.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return reader, writer
