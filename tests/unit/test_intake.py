"""transport.Intake: sero-ls' stdin for the read loop. While the loop waits at a frame
boundary, whole frames are routed as they arrive (its lane), and what the pipe holds
meanwhile with them; whatever the splits, the messages are handled exactly as when read
in one piece."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sero_ls.lsp import framing, transport
from tests.unit.test_read_loop import BIG_NOTE, NOTE, REFUSED, REQUEST, Session, frames

SHUTDOWN = b'{"jsonrpc":"2.0","id":2,"method":"shutdown"}'
PIECES = [
    framing.encode_frame(NOTE),
    framing.encode_frame(REQUEST),
    framing.encode_frame(BIG_NOTE),
    framing.encode_frame(REFUSED),
    framing.encode_frame(b"{"),  # not JSON: answered with a parse error
    framing.encode_frame(b'{"jsonrpc":"2.0","method":"$/big","params":"%s"}' % (b"x" * 70_000)),
    b"content-length: 7\r\nContent-Type: x\r\n\r\n" + b'{"a":1}',  # another header form
    b"garbage\r\n",  # skipped up to the next frame
    # a body that reads like a frame (not JSON: answered with a parse error, not routed)
    framing.encode_frame(b'Content-Length: 9\r\n\r\n{"a":"b"}'),
    framing.encode_frame(SHUTDOWN),  # the hot path is off from here on
]


class FakePipe(asyncio.ReadTransport):
    def __init__(self) -> None:
        super().__init__()
        self.paused = 0
        self.resumed = 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default  # no pipe: no reads of its own

    def pause_reading(self) -> None:
        self.paused += 1

    def resume_reading(self) -> None:
        self.resumed += 1


async def in_one_piece(data: bytes) -> list[tuple[str, Any]]:
    return await Session().run(data)


async def through_intake(chunks: list[bytes], turns: list[int]) -> list[tuple[str, Any]]:
    session = Session()
    intake = transport.Intake()
    intake.connection_made(FakePipe())
    loop = asyncio.ensure_future(
        transport.read_loop(
            framing.MessageReader(intake),
            session.handle,
            session.send,
            session.forwarder,
            intake,
        )
    )
    for chunk, turn in zip(chunks, turns, strict=True):
        intake.data_received(chunk)
        for _ in range(turn):  # sometimes the read loop runs between chunks, sometimes not
            await asyncio.sleep(0)
    intake.eof_received()
    await asyncio.wait_for(loop, 10)
    return session.events


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(range(len(PIECES))), min_size=1, max_size=12),
    st.lists(st.sampled_from(["", "end", "body"]), min_size=12, max_size=12),
    st.lists(st.integers(min_value=0, max_value=10**6), max_size=8),
    st.lists(st.integers(min_value=0, max_value=3), min_size=40, max_size=40),
)
def test_any_split_of_the_input_gives_the_events_of_one_piece(
    picks: list[int], where: list[str], anywhere: list[int], turns: list[int]
) -> None:
    data = b"".join(PIECES[i] for i in picks)
    # cut where a frame ends (as a writer of frames does), where a body starts, anywhere
    cuts, pos = {0, len(data)} | {n % len(data) for n in anywhere}, 0
    for i, cut in zip(picks, where, strict=False):
        if cut == "body" and b"\r\n\r\n" in PIECES[i]:
            cuts.add(pos + PIECES[i].index(b"\r\n\r\n") + 4)
        pos += len(PIECES[i])
        if cut == "end":
            cuts.add(pos)
    ordered = sorted(cuts)
    chunks = [data[a:b] for a, b in itertools.pairwise(ordered)]

    async def both() -> tuple[Any, Any]:
        return await in_one_piece(data), await through_intake(chunks, turns[: len(chunks)])

    expected, got = asyncio.run(both())
    assert got == expected


async def test_whole_frames_are_routed_as_they_arrive_with_what_the_pipe_holds_meanwhile() -> None:
    loop = asyncio.get_running_loop()
    read_fd, write_fd = os.pipe()
    session = Session()
    later = [b'{"jsonrpc":"2.0","method":"$/later","params":{"n":%d}}' % i for i in range(3)]

    def forward(msg: dict[str, Any], body: bytes) -> bool:
        if body == NOTE:  # the editor writes more while sero-ls routes the first one
            for b in later:
                os.write(write_fd, framing.encode_frame(b))
        session.events.append(("hot", body))
        return True

    session.forward = forward  # type: ignore[method-assign]
    intake = transport.Intake()
    await loop.connect_read_pipe(lambda: intake, os.fdopen(read_fd, "rb", buffering=0))
    calls: list[list[tuple[str, Any]]] = []
    called = asyncio.Event()
    received = intake.data_received

    def data_received(data: bytes) -> None:
        received(data)
        calls.append(list(session.events))
        called.set()

    intake.data_received = data_received  # type: ignore[method-assign]
    reading = asyncio.ensure_future(
        transport.read_loop(
            framing.MessageReader(intake), session.handle, session.send, session.forwarder, intake
        )
    )
    await asyncio.sleep(0)  # the read loop waits at a frame boundary: the lane is open
    os.write(write_fd, framing.encode_frame(NOTE))
    await asyncio.wait_for(called.wait(), 10)
    # one chunk came in, and the three written meanwhile were routed in the same call
    assert calls[0] == [("hot", NOTE)] + [("hot", b) for b in later]
    os.write(write_fd, frames(REQUEST))
    os.close(write_fd)
    await asyncio.wait_for(reading, 10)
    assert session.events[-1] == ("full", json.loads(REQUEST))


async def test_a_large_input_pauses_the_pipe_until_it_is_taken() -> None:
    pipe = FakePipe()
    intake = transport.Intake(high_water=1000)
    intake.connection_made(pipe)
    for _ in range(5):
        intake.data_received(b"x" * 400)
    assert pipe.paused == 1 and pipe.resumed == 0
    got = b""
    while len(got) < 2000:
        got += await intake.read(300)
    assert got == b"x" * 2000 and pipe.resumed == 1
    intake.eof_received()
    assert await intake.read() == b""
