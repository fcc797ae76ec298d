"""LSP base-protocol framing: read and write ``Content-Length`` frames, robustly and fast.

A frame is a header section (``Name: value`` lines, each ended by ``\\r\\n``; ``\\n`` alone is
accepted too) closed by a blank line, followed by a body of exactly ``Content-Length`` bytes.

:class:`MessageReader` buffers by itself on top of ``StreamReader.read``, so it does not
depend on the StreamReader ``limit``: any limit works (the asyncio default of 64 KiB is
fine). What it does with hostile input:

* **Garbage** (a line that is not a ``token: value`` header, e.g. a backend printing to its
  stdout, or a header section of more than :data:`MAX_HEADER_SECTION` bytes): everything up
  to the next ``Content-Length:`` (case-insensitive, searched from the next byte on, even
  in the middle of a line) is discarded in bounded memory, then one ``FrameError(fatal=False)``
  reports it; the next :meth:`MessageReader.read` returns that frame. If the bad line sits
  inside a header section, the section and the body that follows are scanned as garbage.
* **Missing, non-numeric, negative or conflicting Content-Length** in an otherwise well formed
  header section: the section is consumed up to its blank line and ``FrameError(fatal=False)``
  is raised; reading continues right after the blank line.
* **A body larger than max_message**: discarded in chunks (never held in memory), then
  ``FrameError(fatal=False)``; the stream stays in sync. A Content-Length beyond
  :data:`MAX_DISCARD` is ``FrameError(fatal=True)`` at once (every later read returns None).
* **EOF inside a header section or a body** (truncated stream): ``FrameError(fatal=True)``;
  every later read returns ``None``.

Blank lines between frames are skipped silently. Header names are case-insensitive; headers
other than Content-Length (Content-Type, ...) are accepted and ignored.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final, Protocol

import orjson

DEFAULT_MAX_MESSAGE: Final = 64 * 1024 * 1024
MAX_DISCARD: Final = 1 << 30
"""A Content-Length above this is a lie (no client sends a GiB): the stream is given up
rather than swallowed until EOF while every later message waits unanswered."""
MAX_HEADER_SECTION: Final = 8 * 1024
"""A header section (or a single header line) longer than this is treated as garbage."""
READ_CHUNK: Final = 256 * 1024
"""Bytes asked from the underlying reader per read, and the discard chunk size."""
MAX_CHUNK: Final = 4 * 1024 * 1024
"""Bytes asked per read for the rest of a large body."""

PARSE_ERROR: Final = -32700
INVALID_REQUEST: Final = -32600
METHOD_NOT_FOUND: Final = -32601
INVALID_PARAMS: Final = -32602
INTERNAL_ERROR: Final = -32603
SERVER_NOT_INITIALIZED: Final = -32002
REQUEST_CANCELLED: Final = -32800
CONTENT_MODIFIED: Final = -32801

_CONTENT_LENGTH: Final = b"content-length"
_RESYNC_MARK: Final = b"content-length:"
# RFC 9110 token characters: what a header name may consist of.
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# The frame every client and server sends: matched in one step.
_FAST_HEADER = re.compile(rb"Content-Length: (\d+)\r\n\r\n")
_PREVIEW = 60


class FrameError(Exception):
    """A bad frame. ``fatal`` is True when the stream cannot be resynchronised (then the
    caller closes it); otherwise the next read continues with the next frame."""

    def __init__(self, message: str, *, fatal: bool = False) -> None:
        super().__init__(message)
        self.fatal = fatal


class ByteReader(Protocol):
    """What MessageReader needs from its input; ``asyncio.StreamReader`` is one."""

    async def read(self, n: int = -1, /) -> bytes: ...


def _preview(data: bytes | bytearray) -> str:
    text = bytes(data[:_PREVIEW])
    return repr(text) + ("..." if len(data) > _PREVIEW else "")


def _limit(n: int) -> str:
    return f"{n >> 20} MiB" if n and not n % (1 << 20) else f"{n} bytes"


def split_frames(data: bytes | bytearray, max_message: int) -> tuple[list[bytes], int]:
    """The bodies of the frames at the start of ``data`` that are whole and have the usual
    header (``Content-Length: N\\r\\n\\r\\n``, a body of 1 to ``max_message`` bytes), and
    how many bytes they take; the first that is not so stops it (``MessageReader`` reads
    that one with every check)."""
    match = _FAST_HEADER.match
    size = len(data)
    bodies: list[bytes] = []
    pos = 0
    while (found := match(data, pos)) is not None:
        start = found.end()
        length = int(found[1])
        end = start + length
        if end > size or not length or length > max_message:
            break
        bodies.append(bytes(data[start:end]))  # bytes of bytes: no second copy
        pos = end
    return bodies, pos


class MessageReader:
    """Reads frame bodies from a byte stream; see the module docstring for error handling.

    One task reads at a time. A read cancelled mid-frame may lose that frame: cancel only
    to stop reading the stream for good."""

    def __init__(self, reader: ByteReader, *, max_message: int = DEFAULT_MAX_MESSAGE) -> None:
        self._reader = reader
        self._max = max_message
        self._buf = bytearray()
        self._eof = False
        self._closed = False

    async def _fill(self) -> bool:
        """Append more input to the buffer; False at EOF."""
        if self._eof:
            return False
        chunk = await self._reader.read(READ_CHUNK)
        if not chunk:
            self._eof = True
            return False
        self._buf += chunk
        return True

    def take(self) -> list[bytes]:
        """Every frame body already buffered whole with the usual header, in order (maybe
        none): a read loop's way through a burst, without an ``await`` or a call per
        message. What stops it (a frame not whole yet, another header form, an empty or too
        large body) is left for :meth:`read`."""
        bodies, used = split_frames(self._buf, self._max)
        if used:
            del self._buf[:used]
        return bodies

    @property
    def max_message(self) -> int:
        return self._max

    def at_boundary(self) -> bool:
        """Nothing is buffered: the next byte read starts a frame (or the stream ends)."""
        return not self._buf and not self._eof and not self._closed

    async def read(self) -> bytes | None:
        """The body of the next frame; None at clean EOF. Raises FrameError for a bad frame."""
        buf = self._buf
        match = _FAST_HEADER.match(buf)
        if match is None:
            if self._closed:
                return None
            length = await self._read_header()
            if length is None:
                return None
        else:
            length = int(match[1])
            del buf[: match.end()]
        if length > self._max:
            if length > max(self._max, MAX_DISCARD):
                self._closed = True
                self._buf.clear()
                raise FrameError(
                    f"Content-Length {length} is beyond any message (at most "
                    f"{_limit(MAX_DISCARD)} is discarded): the stream cannot be followed",
                    fatal=True,
                )
            await self._discard(length)
            raise FrameError(f"message of {length} bytes exceeds the {_limit(self._max)} limit")
        have = len(buf)
        if have >= length:
            body = bytes(buf[:length])
            del buf[:length]
            return body
        # Body not buffered yet: take what is there, the rest in chunks straight from the
        # reader, joined once (a large body is copied as few times as possible).
        parts = [bytes(buf)]
        buf.clear()
        todo = length - have
        while todo:
            chunk = b"" if self._eof else await self._reader.read(min(todo, MAX_CHUNK))
            if not chunk:
                self._eof = True
                raise self._truncated(f"body ended after {length - todo} of {length} bytes")
            parts.append(chunk)
            todo -= len(chunk)
        return b"".join(parts)

    async def _read_header(self) -> int | None:
        """Consume a header section from the buffer start; its Content-Length, None at EOF."""
        buf = self._buf
        pos = 0  # start of the current line; the section starts at buf[0]
        length: int | None = None
        length_error: str | None = None
        started = False  # a header line has been seen in this section
        while True:
            nl = buf.find(b"\n", pos)
            if nl < 0 or nl > MAX_HEADER_SECTION:
                if len(buf) > MAX_HEADER_SECTION:
                    await self._skip_garbage("header section too long")
                if await self._fill():
                    continue
                if started or buf.strip():
                    raise self._truncated(f"EOF inside a frame header {_preview(buf)}")
                self._closed = True
                buf.clear()
                return None
            line = buf[pos:nl]
            pos = nl + 1
            if line.endswith(b"\r"):
                del line[-1:]
            if not line:
                if started:
                    break
                del buf[:pos]  # blank line between frames
                pos = 0
                continue
            name, colon, value = line.partition(b":")
            name = name.strip()
            lname = name.lower()
            if colon and lname == _CONTENT_LENGTH:
                started = True
                digits = value.strip()
                if not digits.isdigit():
                    length_error = f"invalid Content-Length {bytes(digits)!r}"
                elif length is not None and int(digits) != length:
                    length_error = f"conflicting Content-Length headers {length}, {int(digits)}"
                else:
                    length = int(digits)
            elif colon and _TOKEN.fullmatch(name) and _RESYNC_MARK not in line.lower():
                started = True  # Content-Type or another header: ignored
            else:
                await self._skip_garbage("garbage before a frame")
        del buf[:pos]
        if length_error is not None:
            raise FrameError(length_error)
        if length is None:
            raise FrameError("frame header without Content-Length")
        return length

    def _truncated(self, what: str) -> FrameError:
        self._closed = True
        self._buf.clear()
        return FrameError(f"stream truncated: {what}", fatal=True)

    async def _discard(self, length: int) -> None:
        """Drop ``length`` body bytes without holding them in memory."""
        buf = self._buf
        todo = length - len(buf)
        if todo <= 0:
            del buf[:length]
            return
        buf.clear()
        while todo:
            chunk = b"" if self._eof else await self._reader.read(min(todo, READ_CHUNK))
            if not chunk:
                self._eof = True
                raise self._truncated(f"EOF after {length - todo} of {length} discarded bytes")
            todo -= len(chunk)

    async def _skip_garbage(self, reason: str) -> None:
        """Discard bytes up to the next ``Content-Length:`` and raise FrameError about them.

        The first search starts one byte into the buffer, so each call makes progress."""
        buf = self._buf
        skipped = 0
        sample = bytes(buf[:_PREVIEW])
        keep = len(_RESYNC_MARK) - 1
        start = 1
        while True:
            at = buf.lower().find(_RESYNC_MARK, start)
            if at >= 0:
                skipped += at
                del buf[:at]
                break
            if len(buf) > keep:
                cut = len(buf) - keep
                skipped += cut
                del buf[:cut]
                start = 0
            if not await self._fill():
                skipped += len(buf)
                buf.clear()
                self._closed = True
                break
        raise FrameError(f"{reason}: skipped {skipped} bytes {_preview(sample)}")


def encode_frame(body: bytes) -> bytes:
    """One frame: the Content-Length header and the body."""
    return b"Content-Length: %d\r\n\r\n%b" % (len(body), body)


_ENCODER: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# NaN, Infinity and -Infinity are Python's extensions: a strict client could not read
# them back (an id echoed as NaN), and no server is obliged to take them.
_DECODER: Final = json.JSONDecoder(parse_constant=_not_json)


def encode_message(message: Any) -> bytes:
    """The compact UTF-8 JSON body of a message."""
    return _ENCODER.encode(message).encode()


# orjson reads a message about four times faster than the json module: the largest single
# cost of forwarding one. It turns an integer beyond 64 bits into a float, though (an id
# echoed back changed), and rejects what json accepts (a lone surrogate escape, 1e400):
# those bodies, and any with a run of 19 digits or more, take the json module's path, which
# also words every error. Large bodies take it too (their strings dominate: no gain).
QUICK_MAX: Final = 64 * 1024
_DIGITS_AS_ZEROS: Final = bytes(48 if 48 <= i <= 57 else 32 for i in range(256))
_LONG_NUMBER: Final = b"0" * 19


def quick_decode(body: bytes) -> dict[str, Any] | None:
    """orjson's reading of a small body that is a JSON object, else None.

    Good for routing (methods, ids, URIs are read alike) and for a body that is forwarded
    as its bytes; not for one sero-ls encodes again: an integer beyond 64 bits may have
    become a float here. :func:`decode_message` (given this result) checks for that."""
    if len(body) > QUICK_MAX:
        return None
    try:
        quick = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return quick if type(quick) is dict else None


def decode_message(
    body: bytes, quick: dict[str, Any] | None = None
) -> tuple[dict[str, Any] | None, str | None]:
    """``(message, None)`` for a JSON object body, else ``(None, why it is not one)``.

    ``quick``: the body's :func:`quick_decode` result, when the caller has it (not None).
    JSON-RPC batches (arrays) are not used by LSP and are reported as invalid."""
    if len(body) <= QUICK_MAX and _LONG_NUMBER not in body.translate(_DIGITS_AS_ZEROS):
        if quick is None:
            quick = quick_decode(body)
        if quick is not None:
            return quick, None
    try:
        message = _DECODER.decode(body.decode())
    except UnicodeDecodeError as exc:
        return None, f"body is not UTF-8: {exc}"
    except ValueError as exc:
        return None, f"invalid JSON: {exc}"
    except RecursionError:
        return None, "invalid JSON: nested too deeply"
    if isinstance(message, dict):
        return message, None
    if isinstance(message, list):
        return None, "JSON-RPC batch (array) messages are not supported by LSP"
    return None, f"message is a JSON {type(message).__name__}, not an object"


def error_response(id: int | str | None, code: int, message: str) -> dict[str, Any]:
    """A JSON-RPC error response."""
    return {"jsonrpc": "2.0", "id": id, "error": {"code": int(code), "message": message}}
