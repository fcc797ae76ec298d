"""Fuzzing the frame reader: hostile byte streams never crash it, hang it or desync it.

Each test runs a fixed number of hypothesis examples (a few seconds in all) and prints how
many it ran (visible with ``pytest -s``).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sero_ls.lsp.framing import FrameError, MessageReader, encode_frame

EXAMPLES = 500
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


class EofCountingReader(asyncio.StreamReader):
    """A StreamReader that fails the test if it is polled again and again after EOF (a reader
    spinning there would never yield to a timeout)."""

    eof_reads = 0

    async def read(self, n: int = -1) -> bytes:
        data = await super().read(n)
        if not data:
            self.eof_reads += 1
            assert self.eof_reads < 50, "MessageReader keeps reading after EOF"
        return data


def chunked(data: bytes, cuts: list[int]) -> Iterator[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    for a, b in itertools.pairwise(points):
        yield data[a:b]


async def read_stream(
    chunks: list[bytes], max_message: int, total: int
) -> list[bytes | FrameError]:
    """Feed the chunks (yielding in between) and read until EOF or a fatal error."""
    raw = EofCountingReader()
    reader = MessageReader(raw, max_message=max_message)

    async def feed() -> None:
        for chunk in chunks:
            raw.feed_data(chunk)
            await asyncio.sleep(0)
        raw.feed_eof()

    feeder = asyncio.create_task(feed())
    out: list[bytes | FrameError] = []
    # Every read consumes at least one byte, so there are at most total + 1 of them.
    for _ in range(total + 2):
        try:
            body = await asyncio.wait_for(reader.read(), 2)
        except FrameError as exc:
            out.append(exc)
            if exc.fatal:
                assert await reader.read() is None
                break
            continue
        if body is None:
            break
        out.append(body)
    else:
        raise AssertionError(f"more than {total + 1} reads on {total} bytes")
    await feeder
    return out


def run_counted(test: Callable[[asyncio.AbstractEventLoop, list[int]], None]) -> int:
    loop = asyncio.new_event_loop()
    runs = [0]
    try:
        test(loop, runs)
    finally:
        loop.close()
    return runs[0]


# Pieces that make streams interesting to a frame reader.
TOKENS = [
    b"Content-Length: ",
    b"content-length:",
    b"Content-Type: application/vscode-jsonrpc; charset=utf-8",
    b"\r\n",
    b"\n",
    b"\r",
    b"\r\n\r\n",
    b":",
    b" ",
    b"0",
    b"7",
    b"-1",
    b"99999999999",
    b"{}",
    b'{"jsonrpc":"2.0"}',
]
bodies = st.binary(max_size=40) | st.sampled_from([b"{}", '{"t":"é😀"}'.encode(), b"x" * 300])
frames = bodies.map(encode_frame)
pieces = st.binary(max_size=12) | st.sampled_from(TOKENS) | frames
cuts = st.lists(st.integers(0, 10_000), max_size=12)
limits = st.sampled_from([64, 1024, 1 << 20])


def test_random_streams_only_raise_frame_errors() -> None:
    @FUZZ
    @given(st.lists(pieces, max_size=30).map(b"".join), cuts, limits)
    def fuzz(
        loop: asyncio.AbstractEventLoop, runs: list[int], data: bytes, at: list[int], limit: int
    ) -> None:
        runs[0] += 1
        out = loop.run_until_complete(read_stream(list(chunked(data, at)), limit, len(data)))
        assert all(
            isinstance(item, bytes) and len(item) <= limit
            for item in out
            if not isinstance(item, FrameError)
        )

    count = run_counted(lambda loop, runs: fuzz(loop, runs))
    print(f"random streams: {count} cases")
    assert count >= EXAMPLES // 2


def no_length_marker(data: bytes) -> bool:
    return b"content-length" not in data.lower()


garbage = (
    st.lists(st.binary(max_size=10) | st.sampled_from(TOKENS[2:]), min_size=1, max_size=10)
    .map(b"".join)
    .filter(no_length_marker)
)


def test_frames_after_garbage_are_all_read() -> None:
    @FUZZ
    @given(st.lists(st.tuples(garbage, bodies), min_size=1, max_size=5), cuts)
    def fuzz(
        loop: asyncio.AbstractEventLoop,
        runs: list[int],
        parts: list[tuple[bytes, bytes]],
        at: list[int],
    ) -> None:
        runs[0] += 1
        data = b"".join(junk + encode_frame(body) for junk, body in parts)
        out = loop.run_until_complete(read_stream(list(chunked(data, at)), 1 << 20, len(data)))
        assert [item for item in out if isinstance(item, bytes)] == [body for _, body in parts]
        assert not any(item.fatal for item in out if isinstance(item, FrameError))

    count = run_counted(lambda loop, runs: fuzz(loop, runs))
    print(f"garbage then frames: {count} cases")
    assert count >= EXAMPLES // 2


mutation = st.tuples(st.integers(0, 10_000), st.integers(0, 8), st.binary(max_size=8))


def test_mutated_frames_only_raise_frame_errors() -> None:
    @FUZZ
    @given(
        st.lists(bodies, min_size=2, max_size=6), st.lists(mutation, min_size=1, max_size=4), cuts
    )
    def fuzz(
        loop: asyncio.AbstractEventLoop,
        runs: list[int],
        messages: list[bytes],
        mutations: list[tuple[int, int, bytes]],
        at: list[int],
    ) -> None:
        runs[0] += 1
        data = b"".join(encode_frame(body) for body in messages)
        for where, drop, insert in mutations:
            where %= len(data) + 1
            data = data[:where] + insert + data[where + drop :]
        out = loop.run_until_complete(read_stream(list(chunked(data, at)), 1 << 20, len(data)))
        assert all(isinstance(item, bytes | FrameError) for item in out)

    count = run_counted(lambda loop, runs: fuzz(loop, runs))
    print(f"mutated frames: {count} cases")
    assert count >= EXAMPLES // 2


@pytest.mark.parametrize("junk", [b"\x00" * 50_000, b"x: y\r\n" * 5_000, b"no newline " * 5_000])
async def test_long_garbage_is_skipped_in_one_error(junk: bytes) -> None:
    raw = asyncio.StreamReader()
    raw.feed_data(junk + encode_frame(b"{}"))
    raw.feed_eof()
    reader = MessageReader(raw)
    with pytest.raises(FrameError) as info:
        await reader.read()
    assert not info.value.fatal
    assert await reader.read() == b"{}"
    assert await reader.read() is None
