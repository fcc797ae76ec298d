"""transport.BatchWriter: frames queued in one turn of the event loop go out as one write,
in order; large ones are not copied into a joined write; drain and close flush first."""

from __future__ import annotations

import asyncio

from sero_ls.lsp import framing, transport


class Recorder:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.drained = 0
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    async def drain(self) -> None:
        self.drained += 1

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> str:
        return f"extra {name}"


async def test_frames_of_one_loop_turn_are_one_write_in_order() -> None:
    inner = Recorder()
    out = transport.BatchWriter(inner)
    for body in (b'{"a":1}', b'{"b":2}', b'{"c":3}'):
        out.write_frame(body)
    assert inner.writes == []  # nothing until the loop turns
    await asyncio.sleep(0)
    assert inner.writes == [
        framing.encode_frame(b'{"a":1}')
        + framing.encode_frame(b'{"b":2}')
        + framing.encode_frame(b'{"c":3}')
    ]
    await asyncio.sleep(0)
    assert len(inner.writes) == 1  # the queue was emptied: no second write


async def test_flush_all_writes_every_queued_writer_at_once() -> None:
    first, second = Recorder(), Recorder()
    a, b = transport.BatchWriter(first), transport.BatchWriter(second)
    a.write(b"one")
    b.write(b"two")
    a.write(b"three")
    transport.flush_all()
    assert (first.writes, second.writes) == ([b"onethree"], [b"two"])
    await asyncio.sleep(0)  # the scheduled flushes find nothing left
    assert (first.writes, second.writes) == ([b"onethree"], [b"two"])


async def test_a_large_frame_is_written_piece_by_piece_after_what_came_before() -> None:
    inner = Recorder()
    out = transport.BatchWriter(inner)
    big = b"x" * transport.JOIN_MAX
    out.write_frame(b"{}")
    out.write_frame(big)
    out.write_frame(b"[]")
    await asyncio.sleep(0)
    assert inner.writes == [
        framing.encode_frame(b"{}"),
        b"Content-Length: %d\r\n\r\n" % len(big),
        big,
        framing.encode_frame(b"[]"),
    ]


async def test_drain_and_close_flush_first_and_the_rest_is_the_inner_writer() -> None:
    inner = Recorder()
    out = transport.BatchWriter(inner)
    out.write(b"a")
    await out.drain()
    assert (inner.writes, inner.drained) == ([b"a"], 1)
    out.write(b"b")
    out.close()
    assert (inner.writes, inner.closed) == ([b"a", b"b"], True)
    assert out.get_extra_info("peername") == "extra peername"


def test_without_a_running_loop_a_write_goes_out_at_once() -> None:
    inner = Recorder()
    transport.BatchWriter(inner).write(b"late")
    assert inner.writes == [b"late"]


def test_write_frame_to_a_plain_writer() -> None:
    inner = Recorder()
    transport.write_frame(inner, b"{}")
    assert inner.writes == [framing.encode_frame(b"{}")]


async def test_a_writer_is_listed_for_flush_all_once_however_often_it_writes() -> None:
    inner = Recorder()
    out = transport.BatchWriter(inner)
    for _ in range(5):  # five loop turns without a read loop's flush_all
        out.write(b"x")
        await asyncio.sleep(0)
    assert transport._dirty.count(out) == 1
    transport.flush_all()
    assert out not in transport._dirty
    assert inner.writes == [b"x"] * 5
