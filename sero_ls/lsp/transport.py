"""The read loop: frames from a byte stream, decoded, handed to the protocol.

Bad frames and bad JSON never end the session: a request that cannot be read
gets a JSON-RPC error where its id is known, everything else is logged.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from typing import Any

from sero_ls import trace
from sero_ls.lsp import framing
from sero_ls.lsp.protocol import SeroProtocol, valid_id

log = logging.getLogger(__name__)


async def read_loop(protocol: SeroProtocol, reader: Any) -> None:
    messages = framing.MessageReader(reader)
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
            protocol.send_raw(
                framing.error_response(None, framing.PARSE_ERROR, error or "parse error")
            )
            continue
        trace.record("client", "sero-ls", body)
        protocol.raw_body = (msg, body)  # the bytes of this very message, for forwarding
        try:
            protocol.handle_raw(msg)
        except Exception:
            # A bug in routing one message must not end the session (nor silently).
            log.exception("failed to route a message: %.200s", body)
            if "method" in msg and "id" in msg:
                msg_id = msg["id"] if valid_id(msg["id"]) else None
                protocol.send_raw(
                    framing.error_response(msg_id, framing.INTERNAL_ERROR, "internal error")
                )
        finally:
            protocol.raw_body = None


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
