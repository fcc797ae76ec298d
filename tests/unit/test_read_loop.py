"""transport.read_loop: small notifications are offered to the hot path as their bytes;
everything else is decoded with every check and handled; all in the order it came."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sero_ls.lsp import framing, transport

BIG = 123456789012345678901234567890  # beyond 64 bits: orjson would make it a float


def frames(*bodies: bytes) -> bytes:
    return b"".join(framing.encode_frame(b) for b in bodies)


class Session:
    """A read loop over ``data``; ``events`` says what got each message, in order."""

    def __init__(self, hot_path: bool = True) -> None:
        self.events: list[tuple[str, Any]] = []
        self.hot_path = hot_path

    def handle(self, msg: dict[str, Any], body: bytes) -> None:
        self.events.append(("full", msg))
        if msg.get("method") == "shutdown":
            self.hot_path = False

    def send(self, msg: dict[str, Any]) -> None:
        self.events.append(("answer", msg))

    def forward(self, msg: dict[str, Any], body: bytes) -> bool:
        if msg.get("method") == "$/refused":
            return False
        self.events.append(("hot", body))
        return True

    def forwarder(self) -> transport.Forwarder | None:
        return self.forward if self.hot_path else None

    async def run(self, data: bytes) -> list[tuple[str, Any]]:
        stream = asyncio.StreamReader()
        stream.feed_data(data)
        stream.feed_eof()
        messages = framing.MessageReader(stream)
        await transport.read_loop(messages, self.handle, self.send, self.forwarder)
        return self.events


NOTE = b'{"jsonrpc":"2.0","method":"$/note","params":{"n":1}}'
BIG_NOTE = b'{"jsonrpc":"2.0","method":"$/note","params":{"n":%d}}' % BIG
REQUEST = b'{"jsonrpc":"2.0","id":1,"method":"x","params":{"n":%d}}' % BIG
REFUSED = b'{"jsonrpc":"2.0","method":"$/refused","params":{"n":%d}}' % BIG


async def test_notifications_go_to_the_hot_path_as_their_bytes_the_rest_fully_decoded() -> None:
    events = await Session().run(frames(NOTE, REQUEST, BIG_NOTE, b"{", REFUSED, b"[1]"))
    assert events == [
        ("hot", NOTE),
        ("full", json.loads(REQUEST)),  # the big integer read exactly
        ("hot", BIG_NOTE),  # forwarded as it came: the digits intact
        (
            "answer",
            framing.error_response(None, framing.PARSE_ERROR, events[3][1]["error"]["message"]),
        ),
        ("full", json.loads(REFUSED)),  # refused by the hot path: decoded with every check
        ("answer", events[5][1]),
    ]
    assert type(events[1][1]["params"]["n"]) is int and events[4][1]["params"]["n"] == BIG
    assert "invalid JSON" in events[3][1]["error"]["message"]
    assert "batch" in events[5][1]["error"]["message"]


async def test_the_hot_path_is_asked_again_after_each_message_it_did_not_take() -> None:
    shutdown = b'{"jsonrpc":"2.0","id":2,"method":"shutdown"}'
    events = await Session().run(frames(NOTE, shutdown, NOTE))  # one burst
    assert events == [("hot", NOTE), ("full", json.loads(shutdown)), ("full", json.loads(NOTE))]


async def test_without_a_hot_path_every_message_is_handled() -> None:
    events = await Session(hot_path=False).run(frames(NOTE, BIG_NOTE))
    assert events == [("full", json.loads(NOTE)), ("full", json.loads(BIG_NOTE))]
    assert type(events[1][1]["params"]["n"]) is int
