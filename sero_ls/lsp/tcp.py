"""`sero-ls serve --tcp HOST:PORT`: loopback only unless the user says otherwise.

Any peer of the socket can make sero-ls run the commands its settings name, so a
non-loopback address needs ``--tcp-allow-remote`` and a token (``--tcp-token-file``
or ``$SERO_LS_TCP_TOKEN``). The client presents it as
``initializationOptions.seroToken`` of its first message, ``initialize``; anything
else is refused (an error response, the connection closed) before it is handled.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import logging
import os
from collections.abc import Callable
from typing import Any

from sero_ls.lsp import framing, transport

log = logging.getLogger(__name__)

TOKEN_ENV = "SERO_LS_TCP_TOKEN"
TOKEN_KEY = "seroToken"
UNAUTHORIZED = -32001
FIRST_MESSAGE_TIMEOUT = 30.0  # seconds a connection may wait before its initialize
MIN_TOKEN = 16


class TcpUsageError(Exception):
    pass


def is_loopback(host: str) -> bool:
    if host in ("", "localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


def load_token(token_file: str | None) -> str | None:
    """The token from the file (first line) or the environment, or None."""
    if token_file:
        try:
            with open(token_file, encoding="utf-8") as fh:
                token = fh.readline().strip()
        except OSError as exc:
            raise TcpUsageError(f"cannot read the token file: {exc}") from None
    else:
        token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        return None
    if len(token) < MIN_TOKEN:
        raise TcpUsageError(f"the TCP token must be at least {MIN_TOKEN} characters")
    return token


def check_listen(host: str, allow_remote: bool, token_file: str | None) -> str | None:
    """The token the clients must present, None for loopback without one; TcpUsageError
    when the address is not loopback and the user did not allow it with a token."""
    token = load_token(token_file)
    if is_loopback(host):
        return token
    if not allow_remote:
        raise TcpUsageError(
            f"{host} is not a loopback address: any host that reaches it could make sero-ls "
            "run commands. Listen on 127.0.0.1, or pass --tcp-allow-remote with a token "
            f"(--tcp-token-file FILE or ${TOKEN_ENV})"
        )
    if token is None:
        raise TcpUsageError(
            f"--tcp-allow-remote needs a token: --tcp-token-file FILE or ${TOKEN_ENV} "
            f"(at least {MIN_TOKEN} characters; clients send it as "
            f"initializationOptions.{TOKEN_KEY})"
        )
    return token


def token_gate(token: str) -> Callable[[dict[str, Any]], str | None]:
    """A check of a connection's first message: None to let it in (the token removed from
    it), else why it is refused."""

    def gate(msg: dict[str, Any]) -> str | None:
        if msg.get("method") != "initialize":
            return "the first message must be initialize, with the token"
        params = msg.get("params")
        options = params.get("initializationOptions") if isinstance(params, dict) else None
        given = options.pop(TOKEN_KEY, None) if isinstance(options, dict) else None
        if not isinstance(given, str) or not hmac.compare_digest(given.encode(), token.encode()):
            return f"unauthorized: initializationOptions.{TOKEN_KEY} is missing or wrong"
        return None

    return gate


async def run_tcp(host: str, port: int, token: str | None) -> int:
    """Serve one session per connection; the process ends with the first session that
    was let in (a refused connection does not end it)."""
    done: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        messages = framing.MessageReader(reader)
        first = await _admitted(messages, writer, token) if token is not None else None
        if token is not None and first is None:
            writer.close()
            return
        from sero_ls.lsp.server import SeroLanguageServer

        server = SeroLanguageServer()
        writer = transport.BatchWriter(writer)  # type: ignore[assignment]
        server.protocol.set_writer(writer, include_headers=True)
        proto = server.protocol

        async def reading() -> None:
            if first is not None:
                proto.handle_raw(first, framing.encode_message(first))
            await transport.read_loop(messages, proto.handle_raw, proto.send_raw, proto.hot_path)

        code = await server.run(asyncio.ensure_future(reading()), writer)
        writer.close()
        if not done.done():
            done.set_result(code)

    srv = await asyncio.start_server(on_connect, host, port)
    log.info("listening on %s:%d (pid %d)", host, port, os.getpid())
    async with srv:
        return await done


async def _admitted(
    messages: framing.MessageReader, writer: asyncio.StreamWriter, token: str
) -> dict[str, Any] | None:
    """The connection's first message when it carries the token (taken out), else None
    after an error response: nothing of sero-ls has been created yet."""
    peer = writer.get_extra_info("peername")
    msg: dict[str, Any] | None = None
    try:
        async with asyncio.timeout(FIRST_MESSAGE_TIMEOUT):
            body = await messages.read()
        msg = framing.decode_message(body)[0] if body is not None else None
        why = token_gate(token)(msg) if msg is not None else "no initialize"
    except (TimeoutError, framing.FrameError) as exc:
        why = f"no initialize: {exc or 'timed out'}"
    if not why:
        return msg
    log.warning("refused %s: %s", peer, why)
    msg_id = msg.get("id") if msg is not None and transport.valid_id(msg.get("id")) else None
    writer.write(framing.encode_frame(framing.encode_message(
        framing.error_response(msg_id, UNAUTHORIZED, why))))  # fmt: skip
    with contextlib.suppress(OSError):
        await writer.drain()
    return None
