"""LSP framing: frames in, frames out, and every way a frame can be wrong."""

from __future__ import annotations

import asyncio
import json
import os
import tracemalloc
from collections.abc import Iterable

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sero_ls.lsp.framing import (
    DEFAULT_MAX_MESSAGE,
    INVALID_REQUEST,
    PARSE_ERROR,
    FrameError,
    MessageReader,
    decode_message,
    encode_frame,
    encode_message,
    error_response,
)

BODY = b'{"jsonrpc":"2.0","method":"initialized","params":{}}'


def stream(*chunks: bytes, eof: bool = True) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    for chunk in chunks:
        reader.feed_data(chunk)
    if eof:
        reader.feed_eof()
    return reader


async def read_all(reader: MessageReader) -> list[bytes | str]:
    """Bodies and error texts ("error: ..." / "fatal: ...") until EOF."""
    out: list[bytes | str] = []
    while True:
        try:
            body = await asyncio.wait_for(reader.read(), 5)
        except FrameError as exc:
            out.append(f"{'fatal' if exc.fatal else 'error'}: {exc}")
            if exc.fatal:
                assert await reader.read() is None
                return out
            continue
        if body is None:
            return out
        out.append(body)


async def frames_of(data: bytes | Iterable[bytes], **kwargs: int) -> list[bytes | str]:
    chunks = [data] if isinstance(data, bytes) else list(data)
    return await read_all(MessageReader(stream(*chunks), **kwargs))


async def test_single_frame_then_clean_eof() -> None:
    assert await frames_of(encode_frame(BODY)) == [BODY]


async def test_empty_stream_is_clean_eof() -> None:
    reader = MessageReader(stream())
    assert await reader.read() is None
    assert await reader.read() is None


async def test_several_frames_in_one_chunk() -> None:
    bodies = [BODY, b"{}", b'{"id":1}', b""]
    data = b"".join(encode_frame(b) for b in bodies)
    assert await frames_of(data) == bodies


async def test_frames_split_into_single_bytes_while_reading() -> None:
    bodies = [BODY, b'{"id":2,"result":null}', BODY]
    data = b"".join(encode_frame(b) for b in bodies)
    raw = asyncio.StreamReader()

    async def feed() -> None:
        for i in range(len(data)):
            raw.feed_data(data[i : i + 1])
            await asyncio.sleep(0)  # let the reader see every partial state
        raw.feed_eof()

    feeder = asyncio.create_task(feed())
    assert await read_all(MessageReader(raw)) == bodies
    await feeder


async def test_content_type_and_case_insensitive_names() -> None:
    data = (
        b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n"
        b"content-LENGTH:   2 \r\n\r\n{}"
        b"CONTENT-LENGTH:2\r\n\r\n[]"
    )
    assert await frames_of(data) == [b"{}", b"[]"]


async def test_lf_only_line_endings_and_blank_lines_between_frames() -> None:
    data = b"Content-Length: 2\n\n{}\r\n\r\nContent-Length: 2\r\n\n[]"
    assert await frames_of(data) == [b"{}", b"[]"]


async def test_missing_content_length_is_skipped_to_the_next_frame() -> None:
    data = b"Content-Type: x\r\n\r\n" + encode_frame(BODY)
    assert await frames_of(data) == ["error: frame header without Content-Length", BODY]


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (b"abc", "error: invalid Content-Length b'abc'"),
        (b"-5", "error: invalid Content-Length b'-5'"),
        (b"", "error: invalid Content-Length b''"),
        (b"0x10", "error: invalid Content-Length b'0x10'"),
    ],
)
async def test_bad_content_length_values(value: bytes, error: str) -> None:
    data = b"Content-Length: " + value + b"\r\n\r\n" + encode_frame(BODY)
    assert await frames_of(data) == [error, BODY]


async def test_conflicting_content_lengths() -> None:
    data = b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n" + encode_frame(BODY)
    assert await frames_of(data) == ["error: conflicting Content-Length headers 2, 3", BODY]


async def test_garbage_before_a_frame_resyncs_with_one_error() -> None:
    garbage = b"Traceback (most recent call last):\n  oops\nprint output without newline"
    result = await frames_of(garbage + encode_frame(BODY) + encode_frame(b"{}"))
    assert result[1:] == [BODY, b"{}"]
    assert result[0].startswith(f"error: garbage before a frame: skipped {len(garbage)} bytes")


async def test_garbage_glued_to_a_header_value_resyncs() -> None:
    data = b"Content-Type: xyz" + encode_frame(BODY)
    assert (await frames_of(data))[1:] == [BODY]


async def test_bad_line_inside_a_header_section_drops_that_frame_only() -> None:
    data = b"Content-Length: 2\r\nnot a header\r\n\r\n{}" + encode_frame(BODY)
    result = await frames_of(data)
    assert result[1:] == [BODY]
    assert str(result[0]).startswith("error: garbage before a frame")


async def test_header_section_without_end_is_bounded() -> None:
    data = b"X-Long: " + b"a" * 100_000 + b"\r\n" + encode_frame(BODY)
    result = await frames_of(data)
    assert result[1:] == [BODY]
    assert str(result[0]).startswith("error: header section too long: skipped 100")


async def test_garbage_then_eof() -> None:
    result = await frames_of(encode_frame(BODY) + b"garbage line\n")
    assert result[0] == BODY
    assert str(result[1]).startswith("error: garbage before a frame: skipped 13 bytes")
    assert len(result) == 2


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"Content-Length: 10\r\n\r\n{}", "fatal: stream truncated: body ended after 2 of 10"),
        (b"Content-Length: 10\r\n", "fatal: stream truncated: EOF inside a frame header"),
        (b"Content-Len", "fatal: stream truncated: EOF inside a frame header"),
    ],
)
async def test_truncated_stream_is_fatal(data: bytes, error: str) -> None:
    result = await frames_of([encode_frame(BODY), data])
    assert result[0] == BODY
    assert str(result[1]).startswith(error)
    assert len(result) == 2


async def test_truncated_large_body_is_fatal() -> None:
    reader = MessageReader(stream(b"Content-Length: 1000000\r\n\r\n", b"x" * 300_000))
    with pytest.raises(FrameError, match="body ended after 300000 of 1000000 bytes") as info:
        await reader.read()
    assert info.value.fatal


async def test_oversized_message_is_discarded_and_the_stream_continues() -> None:
    data = encode_frame(b"x" * 5000) + encode_frame(BODY)
    result = await frames_of([data[:100], data[100:]], max_message=1024)
    assert result == ["error: message of 5000 bytes exceeds the 1024 bytes limit", BODY]


async def test_oversized_message_truncated_is_fatal() -> None:
    result = await frames_of(encode_frame(b"x" * 5000)[:3000], max_message=1024)
    assert result == ["fatal: stream truncated: EOF after 2976 of 5000 discarded bytes"]


async def test_body_larger_than_stream_limit_is_read_whole() -> None:
    body = json.dumps({"text": "y" * 3_000_000}).encode()
    raw = asyncio.StreamReader(limit=1024)
    reader = MessageReader(raw)

    async def feed() -> None:
        data = encode_frame(body) + encode_frame(BODY)
        for i in range(0, len(data), 65536):
            raw.feed_data(data[i : i + 65536])
            await asyncio.sleep(0)
        raw.feed_eof()

    feeder = asyncio.create_task(feed())
    assert await read_all(reader) == [body, BODY]
    await feeder


async def test_unicode_body_length_counts_bytes() -> None:
    message = {"jsonrpc": "2.0", "method": "x", "params": {"text": "héllo 😀 世界"}}
    body = encode_message(message)
    assert len(body) > len(json.dumps(message, ensure_ascii=False))
    [got] = await frames_of(encode_frame(body))
    assert isinstance(got, bytes)
    assert decode_message(got) == (message, None)


async def test_hundred_megabyte_message_over_a_pipe_uses_bounded_memory() -> None:
    """A 100 MB body arrives through a real pipe; it is discarded without buffering it
    and the frame after it is read fine."""
    size = 100 * 1024 * 1024
    loop = asyncio.get_running_loop()
    read_fd, write_fd = os.pipe()
    raw = asyncio.StreamReader()
    read_transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(raw), os.fdopen(read_fd, "rb", buffering=0)
    )
    write_transport, write_protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, os.fdopen(write_fd, "wb", buffering=0)
    )
    writer = asyncio.StreamWriter(write_transport, write_protocol, None, loop)
    block = b"z" * (1024 * 1024)

    async def feed() -> None:
        writer.write(b"Content-Length: %d\r\n\r\n" % size)
        for _ in range(size // len(block)):
            writer.write(block)
            await writer.drain()
        writer.write(encode_frame(BODY))
        await writer.drain()
        writer.close()

    tracemalloc.start()
    try:
        feeder = asyncio.create_task(feed())
        reader = MessageReader(raw)
        with pytest.raises(FrameError, match="message of 104857600 bytes exceeds the 64 MiB"):
            await asyncio.wait_for(reader.read(), 60)
        assert await asyncio.wait_for(reader.read(), 10) == BODY
        assert await asyncio.wait_for(reader.read(), 10) is None
        await feeder
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        read_transport.close()
    assert DEFAULT_MAX_MESSAGE == 64 * 1024 * 1024
    assert peak < 8 * 1024 * 1024, f"peak traced memory {peak} bytes"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"{not json", "invalid JSON: "),
        (b"", "invalid JSON: "),
        (b"\xff\xfe{}", "body is not UTF-8: "),
        (b"[" * 100_000 + b"]" * 100_000, "invalid JSON: nested too deeply"),
        (b'[{"jsonrpc":"2.0","id":1,"method":"x"}]', "JSON-RPC batch (array) messages"),
        (b"42", "message is a JSON int, not an object"),
        (b'"text"', "message is a JSON str, not an object"),
        (b"null", "message is a JSON NoneType, not an object"),
    ],
)
def test_decode_message_rejects(body: bytes, error: str) -> None:
    message, why = decode_message(body)
    assert message is None
    assert why is not None and why.startswith(error)


def test_decode_message_accepts_objects() -> None:
    assert decode_message(b' {"id": 1, "result": [1, "\xc3\xa9"]} ') == (
        {"id": 1, "result": [1, "é"]},
        None,
    )


@pytest.mark.parametrize(
    "body",
    [
        b'{"id":18446744073709551616}',  # beyond 64 bits: must stay an int, not a float
        b'{"id":-9223372036854775809,"x":[123456789012345678901234567890]}',
        b'{"a":"\\ud800"}',  # a lone surrogate escape: JSON allows it
        b'{"a":1e400}',
        b'{"a":1,"a":2}',
        b'{"text":"\\u00e9\\n\\t\\"","n":-0.0,"f":1.5e-7}',
    ],
)
def test_decode_message_reads_what_the_json_module_reads(body: bytes) -> None:
    message, why = decode_message(body)
    assert why is None
    assert repr(message) == repr(json.loads(body))


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(), json_values, max_size=5), st.booleans())
def test_decode_message_agrees_with_the_json_module(
    message: dict[str, object], ascii_only: bool
) -> None:
    text = json.dumps(message, ensure_ascii=ascii_only)
    # a lone surrogate is no UTF-8 unless escaped (ensure_ascii): not a valid body then
    assume(ascii_only or not any(0xD800 <= ord(c) <= 0xDFFF for c in text))
    body = text.encode()
    decoded, why = decode_message(body)
    assert why is None
    assert repr(decoded) == repr(json.loads(body))


async def test_buffered_frames_are_taken_without_waiting_and_in_order() -> None:
    one, two, three = (encode_frame(b) for b in (b'{"a":0}', b'{"b":1}', b'{"c":2}'))
    empty = b"Content-Length: 0\r\n\r\n"
    other = b"content-length: 7\r\n\r\n" + b'{"d":4}'
    big = b"Content-Length: 20\r\n\r\n" + b'{"e":"' + b"x" * 12 + b'"}'
    reader = MessageReader(
        stream(one + two + three + empty + one + other + two + big + one[:10], eof=False),
        max_message=19,
    )
    assert await reader.read() == b'{"a":0}'  # fills the buffer
    assert reader.take() == [b'{"b":1}', b'{"c":2}']  # up to the empty body: read() has it
    assert await reader.read() == b""
    assert reader.take() == [b'{"a":0}']  # up to a header of another form
    assert reader.take() == []
    assert await reader.read() == b'{"d":4}'
    assert reader.take() == [b'{"b":1}']  # a body over max_message is read()'s to refuse
    with pytest.raises(FrameError, match="exceeds"):
        await reader.read()
    assert reader.take() == []  # the next frame is not whole yet
    assert reader._buf == bytearray(one[:10])


def test_error_response() -> None:
    assert error_response(7, PARSE_ERROR, "bad") == {
        "jsonrpc": "2.0",
        "id": 7,
        "error": {"code": -32700, "message": "bad"},
    }
    assert json.dumps(error_response(None, INVALID_REQUEST, "x")) == (
        '{"jsonrpc": "2.0", "id": null, "error": {"code": -32600, "message": "x"}}'
    )
