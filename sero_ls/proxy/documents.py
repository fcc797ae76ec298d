"""The text and version of every open document, kept from the client's didOpen/didChange/didClose.

A backend that starts late, restarts or moves to another runtime gets ``didOpen`` with the
current text (:meth:`DocumentStore.did_open_params`).

Positions follow the LSP spec: lines end at ``\\n``, ``\\r\\n`` or ``\\r``; ``character``
counts code units of the negotiated position encoding (UTF-16 by default, so an emoji
counts 2). Out-of-range positions are clamped: a character past the line end means the line
end, a line past the last line means the document end. A character in the middle of a
multi-unit character (half a surrogate pair, inside a UTF-8 sequence) means the start of
that character. A range whose end comes before its start is applied with the two swapped.

A document is kept as a list of lines (each with its line ending, the last without one), so
an incremental change costs the length of the lines it touches, not of the document; the
full text is joined on demand and cached until the next change.

Malformed params raise :class:`DocumentError`; a change is validated whole before any of
its content changes is applied, so an error never leaves a document half-changed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, Final, Literal, get_args

import attrs

PositionEncoding = Literal["utf-16", "utf-8", "utf-32"]
ENCODINGS: Final[tuple[str, ...]] = get_args(PositionEncoding)

# A line with its ending, or a last line without one; never matches the empty string.
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")


class DocumentError(ValueError):
    """Malformed didOpen/didChange/didClose params, or a change to a document not open."""


def split_lines(text: str) -> list[str]:
    """The lines of ``text``, each with its ending; the last one has none (it may be '')."""
    lines = _LINE.findall(text)
    if not lines or lines[-1][-1:] in ("\n", "\r"):
        lines.append("")
    return lines


def _content_length(line: str) -> int:
    """Length of ``line`` without its line ending (its only \\r or \\n characters)."""
    return len(line.rstrip("\r\n"))


def _to_index(line: str, character: int, encoding: str) -> int:
    """The str index in ``line`` of a position ``character`` units in, clamped to the content."""
    end = _content_length(line)
    if encoding == "utf-32" or line.isascii():
        return min(character, end)
    content = line[:end]
    if encoding == "utf-16":
        # Cutting the UTF-16 form mid-pair drops that half: the position snaps back.
        cut = content.encode("utf-16-le")[: 2 * character]
        return len(cut.decode("utf-16-le", errors="ignore"))
    return len(content.encode()[:character].decode(errors="ignore"))


@attrs.define(init=False, repr=False, eq=False)
class Document:
    """An open document: its URI (as the client sent it), language, version and text."""

    uri: str
    language_id: str
    version: int
    _split: list[str] | None  # the lines, made at the first edit (a document may never get one)
    _text: str | None = attrs.field(eq=False)

    def __init__(self, uri: str, language_id: str, version: int, text: str) -> None:
        self.uri = uri
        self.language_id = language_id
        self.version = version
        self._split = None
        self._text = text

    @property
    def _lines(self) -> list[str]:
        if self._split is None:
            self._split = split_lines(self._text or "")
        return self._split

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Document):
            return NotImplemented
        return (self.uri, self.language_id, self.version, self.text) == (
            other.uri,
            other.language_id,
            other.version,
            other.text,
        )

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return (
            f"Document(uri={self.uri!r}, language_id={self.language_id!r}, "
            f"version={self.version}, {len(self.text)} chars)"
        )

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = "".join(self._lines)
        return self._text

    @text.setter
    def text(self, text: str) -> None:
        self._split = None
        self._text = text

    @property
    def line_count(self) -> int:
        return len(self._lines)

    def _offset(self, line: int, character: int, encoding: str) -> tuple[int, int]:
        """(line index, str index in that line) of a clamped position."""
        lines = self._lines
        if line >= len(lines):
            last = len(lines) - 1
            return last, len(lines[last])
        return line, _to_index(lines[line], character, encoding)

    def edit(
        self, start: tuple[int, int], end: tuple[int, int], new: str, encoding: str = "utf-16"
    ) -> None:
        """Replace the text between two LSP positions (line, character in ``encoding``)."""
        self._replace(self._offset(*start, encoding), self._offset(*end, encoding), new)

    def _replace(self, start: tuple[int, int], end: tuple[int, int], new: str) -> None:
        """Replace the text between two resolved (line, str index) positions."""
        if end < start:
            start, end = end, start
        lines = self._lines
        (l1, c1), (l2, c2) = start, end
        if (
            l1 == l2
            and "\n" not in new
            and "\r" not in new
            and (c1 or not l1 or lines[l1 - 1][-1:] != "\r")
        ):
            # Typing within one line (most edits): no line ending is made or split, and
            # none joined (a '\n' left at the line's start would join a '\r' before it).
            line = lines[l1]
            lines[l1] = line[:c1] + new + line[c2:]
            self._text = None
            return
        # Re-split from the line before: the edit may start with a '\n' that joins that
        # line's '\r' ending into one '\r\n'. The region ends with line l2's own ending
        # (or the end of the text), so nothing can join across its end.
        first = max(l1 - 1, 0)
        region = "".join((*lines[first:l1], lines[l1][:c1], new, lines[l2][c2:]))
        replacement = split_lines(region)
        if l2 < len(lines) - 1:
            replacement.pop()  # the region ended with a line ending: drop the '' after it
        lines[first : l2 + 1] = replacement
        self._text = None


def _field(params: Mapping[str, Any], key: str, kind: type | tuple[type, ...], what: str) -> Any:
    value = params.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise DocumentError(f"{what}.{key} is {value!r}, expected {_kind_name(kind)}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise DocumentError(f"{what} is {value!r}, expected an object")
    return value


def _position(value: Any, what: str) -> tuple[int, int]:
    position = _mapping(value, what)
    line = _field(position, "line", int, what)
    character = _field(position, "character", int, what)
    if line < 0 or character < 0:
        raise DocumentError(f"{what} is {dict(position)!r}: negative line or character")
    return line, character


_Change = tuple[tuple[int, int], tuple[int, int], str] | str


def _quick_change(item: Any) -> _Change | None:
    """A well-formed content change (what editors send), read without the per-field checks
    of :func:`_parse_changes`; None when anything is off (then that one says what)."""
    try:
        text = item["text"]
        range_ = item.get("range")
        if range_ is None:
            return text if type(text) is str else None
        start, end = range_["start"], range_["end"]
        l1, c1, l2, c2 = start["line"], start["character"], end["line"], end["character"]
    except (TypeError, KeyError, AttributeError):
        return None
    # `type(x) is int`: a bool is an int to isinstance, not to LSP
    if (
        type(text) is str
        and type(l1) is int
        and type(c1) is int
        and type(l2) is int
        and type(c2) is int
        and min(l1, c1, l2, c2) >= 0
    ):
        return (l1, c1), (l2, c2), text
    return None


def _parse_changes(params: Mapping[str, Any]) -> list[_Change]:
    changes = params.get("contentChanges")
    if not isinstance(changes, list):
        raise DocumentError(f"didChange contentChanges is {changes!r}, expected an array")
    parsed: list[_Change] = []
    for i, item in enumerate(changes):
        what = f"contentChanges[{i}]"
        change = _mapping(item, what)
        text = _field(change, "text", str, what)
        raw_range = change.get("range")
        if raw_range is None:
            parsed.append(text)
            continue
        range_ = _mapping(raw_range, f"{what}.range")
        start = _position(range_.get("start"), f"{what}.range.start")
        end = _position(range_.get("end"), f"{what}.range.end")
        parsed.append((start, end, text))
    return parsed


class DocumentStore:
    """Open documents by URI, updated from raw didOpen/didChange/didClose params."""

    def __init__(self, encoding: PositionEncoding = "utf-16") -> None:
        self.encoding = encoding
        self._docs: dict[str, Document] = {}

    @property
    def encoding(self) -> PositionEncoding:
        """The negotiated position encoding (set it after initialize)."""
        return self._encoding

    @encoding.setter
    def encoding(self, encoding: PositionEncoding) -> None:
        if encoding not in ENCODINGS:
            raise ValueError(f"unknown position encoding {encoding!r}, expected one of {ENCODINGS}")
        self._encoding = encoding

    def open(self, params: Mapping[str, Any]) -> Document:
        """Record a didOpen; an already open URI is replaced."""
        item = _mapping(_mapping(params, "didOpen params").get("textDocument"), "textDocument")
        doc = Document(
            uri=_field(item, "uri", str, "textDocument"),
            language_id=_field(item, "languageId", str, "textDocument"),
            version=_field(item, "version", int, "textDocument"),
            text=_field(item, "text", str, "textDocument"),
        )
        self._docs[doc.uri] = doc
        return doc

    def change(self, params: Mapping[str, Any]) -> Document:
        """Apply a didChange: its content changes in order, then its version."""
        try:  # what editors send, read at once; anything else is checked field by field
            ident = params["textDocument"]
            uri, version, items = ident["uri"], ident["version"], params["contentChanges"]
            quick = [_quick_change(item) for item in items]
        except (TypeError, KeyError, AttributeError):
            quick = [None]
        if None in quick or type(uri) is not str or type(version) is not int:
            return self._change_checked(params)
        return self._apply(uri, version, quick)  # type: ignore[arg-type]

    def _change_checked(self, params: Mapping[str, Any]) -> Document:
        params = _mapping(params, "didChange params")
        ident = _mapping(params.get("textDocument"), "textDocument")
        uri = _field(ident, "uri", str, "textDocument")
        version = _field(ident, "version", int, "textDocument")
        return self._apply(uri, version, _parse_changes(params))

    def _apply(self, uri: str, version: int, changes: list[_Change]) -> Document:
        doc = self._docs.get(uri)
        if doc is None:
            raise DocumentError(f"didChange for {uri}, which is not open")
        encoding = self._encoding
        for change in changes:
            if isinstance(change, str):
                doc.text = change
            else:
                doc.edit(*change, encoding)
        doc.version = version
        return doc

    def close(self, params: Mapping[str, Any]) -> Document | None:
        """Forget a document on didClose; the document, or None if it was not open."""
        ident = _mapping(_mapping(params, "didClose params").get("textDocument"), "textDocument")
        return self._docs.pop(_field(ident, "uri", str, "textDocument"), None)

    def get(self, uri: str) -> Document | None:
        return self._docs.get(uri)

    def __iter__(self) -> Iterator[Document]:
        return iter(list(self._docs.values()))

    def __len__(self) -> int:
        return len(self._docs)

    def __contains__(self, uri: object) -> bool:
        return uri in self._docs

    def all(self) -> list[Document]:
        """The open documents, in the order they were opened."""
        return list(self._docs.values())

    def did_open_params(self, uri: str) -> dict[str, Any]:
        """didOpen params with the current text and version, to replay to a backend."""
        doc = self._docs.get(uri)
        if doc is None:
            raise DocumentError(f"{uri} is not open")
        return {
            "textDocument": {
                "uri": doc.uri,
                "languageId": doc.language_id,
                "version": doc.version,
                "text": doc.text,
            }
        }
