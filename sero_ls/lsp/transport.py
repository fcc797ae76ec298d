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
