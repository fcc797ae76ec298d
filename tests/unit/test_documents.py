"""The document store: incremental edits in every position encoding, against a reference."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sero_ls.proxy.documents import (
    Document,
    DocumentError,
    DocumentStore,
    PositionEncoding,
    split_lines,
)

URI = "file:///w/a.py"
EOL = re.compile(r"\r\n|\r|\n")
UNIT_WIDTH = {
    "utf-16": lambda ch: 2 if ord(ch) > 0xFFFF else 1,
    "utf-8": lambda ch: len(ch.encode()),
    "utf-32": lambda ch: 1,
}


def reference_offset(text: str, line: int, character: int, encoding: str) -> int:
    """The str offset of an LSP position, the slow obvious way."""
    breaks = list(EOL.finditer(text))
    if line > len(breaks):
        return len(text)
    start = breaks[line - 1].end() if line else 0
    end = breaks[line].start() if line < len(breaks) else len(text)
    units = 0
    for i, ch in enumerate(text[start:end]):
        units += UNIT_WIDTH[encoding](ch)
        if units > character:
            return start + i
    return end


def reference_edit(
    text: str, start: tuple[int, int], end: tuple[int, int], new: str, enc: str
) -> str:
    a, b = reference_offset(text, *start, enc), reference_offset(text, *end, enc)
    a, b = min(a, b), max(a, b)
    return text[:a] + new + text[b:]


def did_open(text: str, version: int = 1, uri: str = URI) -> dict[str, Any]:
    return {"textDocument": {"uri": uri, "languageId": "python", "version": version, "text": text}}


def did_change(version: int, *changes: dict[str, Any], uri: str = URI) -> dict[str, Any]:
    return {"textDocument": {"uri": uri, "version": version}, "contentChanges": list(changes)}


def edit(start: tuple[int, int], end: tuple[int, int], text: str) -> dict[str, Any]:
    return {
        "range": {
            "start": {"line": start[0], "character": start[1]},
            "end": {"line": end[0], "character": end[1]},
        },
        "text": text,
    }


# Astral (emoji), CJK, accents, every LSP line ending, and characters that str.splitlines
# would break on but LSP does not (\v, \f, \x1c, \x85, \u2028).
PIECES = [
    "a",
    "b",
    " ",
    "é",
    "世",
    "😀",
    "🎉",
    "\n",
    "\r",
    "\r\n",
    "\v",
    "\f",
    "\x1c",
    "\x85",
    "\u2028",
]
texts = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)
encodings = st.sampled_from(["utf-16", "utf-8", "utf-32"])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts, encoding=encodings, data=st.data())
def test_incremental_edits_match_the_reference(
    text: str, encoding: PositionEncoding, data: st.DataObject
) -> None:
    store = DocumentStore(encoding)
    store.open(did_open(text))
    expected = text
    for version in range(2, 2 + data.draw(st.integers(1, 8), label="edits")):
        lines = len(EOL.findall(expected)) + 1
        widest = max(sum(map(UNIT_WIDTH[encoding], part)) for part in split_lines(expected))
        position = st.tuples(st.integers(0, lines), st.integers(0, widest + 2))
        changes = data.draw(st.lists(st.tuples(position, position, texts), min_size=1, max_size=3))
        for start, end, new in changes:
            expected = reference_edit(expected, start, end, new, encoding)
        doc = store.change(did_change(version, *(edit(*change) for change in changes)))
        assert doc.text == expected
        assert doc.version == version
        assert doc.line_count == len(EOL.findall(expected)) + 1
        assert doc == Document(URI, "python", version, expected)


def test_utf16_counts_astral_characters_as_two_units() -> None:
    store = DocumentStore()
    store.open(did_open("a😀b\nc"))
    assert store.change(did_change(2, edit((0, 3), (0, 4), "X"))).text == "a😀X\nc"
    # Half a surrogate pair snaps back to the start of the emoji.
    assert store.change(did_change(3, edit((0, 2), (0, 2), "Y"))).text == "aY😀X\nc"


def test_utf8_and_utf32_encodings() -> None:
    store = DocumentStore("utf-8")
    store.open(did_open("é世😀x"))
    # é is 2 bytes, 世 3, 😀 4: x starts at byte 9.
    assert store.change(did_change(2, edit((0, 9), (0, 10), "Y"))).text == "é世😀Y"
    store.encoding = "utf-32"
    assert store.change(did_change(3, edit((0, 2), (0, 3), "Z"))).text == "é世ZY"
    with pytest.raises(ValueError, match="unknown position encoding 'latin-1'"):
        store.encoding = "latin-1"  # type: ignore[assignment]


def test_line_endings_follow_lsp_not_str_splitlines() -> None:
    store = DocumentStore()
    store.open(did_open("a\r\nb\rc\nd\u2028e\x0bf"))
    doc = store.change(did_change(2, edit((3, 1), (3, 3), "_"), edit((1, 0), (1, 1), "B")))
    assert doc.text == "a\r\nB\rc\nd_\x0bf"
    assert doc.line_count == 4


def test_edits_that_join_cr_and_lf_into_one_line_ending() -> None:
    store = DocumentStore()
    store.open(did_open("a\rb"))
    doc = store.change(did_change(2, edit((1, 0), (1, 0), "\n")))
    assert (doc.text, doc.line_count) == ("a\r\nb", 2)
    doc = store.change(did_change(3, edit((1, 0), (1, 1), "x\r")))
    assert (doc.text, doc.line_count) == ("a\r\nx\r", 3)
    doc = store.change(did_change(4, edit((2, 0), (2, 0), "\nz")))
    assert (doc.text, doc.line_count) == ("a\r\nx\r\nz", 3)


def test_clamping_and_reversed_ranges() -> None:
    store = DocumentStore()
    store.open(did_open("abc\ndef"))
    assert store.change(did_change(2, edit((0, 99), (0, 99), "!"))).text == "abc!\ndef"
    assert store.change(did_change(3, edit((7, 0), (9, 9), "?"))).text == "abc!\ndef?"
    assert store.change(did_change(4, edit((1, 1), (0, 1), ""))).text == "aef?"


def test_full_text_changes_and_mixed_changes_apply_in_order() -> None:
    store = DocumentStore()
    store.open(did_open("old"))
    doc = store.change(did_change(5, {"text": "new\ntext"}, edit((1, 0), (1, 4), "TEXT")))
    assert (doc.text, doc.version) == ("new\nTEXT", 5)
    assert store.change(did_change(6, {"text": ""})).text == ""
    assert store.change(did_change(7, edit((0, 0), (0, 0), "x"))).text == "x"


def test_reopen_replaces_and_close_forgets() -> None:
    store = DocumentStore()
    store.open(did_open("one"))
    store.open(did_open("two", version=9))
    store.open(did_open("other", uri="file:///w/b.py"))
    assert [d.text for d in store] == ["two", "other"]
    assert [d.uri for d in store.all()] == [URI, "file:///w/b.py"]
    assert len(store) == 2 and URI in store
    closed = store.close({"textDocument": {"uri": URI}})
    assert closed is not None and closed.text == "two"
    assert store.close({"textDocument": {"uri": URI}}) is None
    assert store.get(URI) is None


def test_did_open_params_replays_the_current_state() -> None:
    store = DocumentStore()
    store.open(did_open("x = 1\n", version=3))
    store.change(did_change(4, edit((0, 4), (0, 5), "42")))
    assert store.did_open_params(URI) == {
        "textDocument": {"uri": URI, "languageId": "python", "version": 4, "text": "x = 42\n"}
    }
    with pytest.raises(DocumentError, match="file:///nope is not open"):
        store.did_open_params("file:///nope")


@pytest.mark.parametrize(
    ("params", "error"),
    [
        (did_change(2, edit((0, 0), (0, 0), "x"), uri="file:///other"), "which is not open"),
        ({"textDocument": {"uri": URI}, "contentChanges": []}, r"version is None"),
        ({"textDocument": {"uri": URI, "version": True}, "contentChanges": []}, "version is True"),
        ({"textDocument": URI, "contentChanges": []}, "textDocument is 'file"),
        ({"textDocument": {"uri": URI, "version": 2}}, "contentChanges is None"),
        (did_change(2, {"range": None}), r"contentChanges\[0\].text is None"),
        (did_change(2, {"text": 5}), r"contentChanges\[0\].text is 5"),
        (did_change(2, {"text": "x", "range": [1, 2]}), r"contentChanges\[0\].range is \[1, 2\]"),
        (did_change(2, edit((-1, 0), (0, 0), "x")), "negative line or character"),
        (did_change(2, edit((0, 0), (0, 0), "x"), "bad"), r"contentChanges\[1\] is 'bad'"),
        (
            did_change(2, edit((0, 0), (0, 0), "x"), {"text": "x", "range": {"start": {}}}),
            r"contentChanges\[1\].range.start.line is None",
        ),
        ([], "didChange params is"),
    ],
)
def test_malformed_change_raises_and_leaves_the_document_alone(params: Any, error: str) -> None:
    store = DocumentStore()
    store.open(did_open("keep\nme", version=1))
    with pytest.raises(DocumentError, match=error):
        store.change(params)
    doc = store.get(URI)
    assert doc is not None and (doc.text, doc.version) == ("keep\nme", 1)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"textDocument": None},
        {"textDocument": {"uri": URI, "languageId": "python", "version": 1}},
        {"textDocument": {"uri": 1, "languageId": "python", "version": 1, "text": ""}},
        {"textDocument": {"uri": URI, "languageId": None, "version": 1, "text": ""}},
        {"textDocument": {"uri": URI, "languageId": "python", "version": "1", "text": ""}},
    ],
)
def test_malformed_open_and_close(params: dict[str, Any]) -> None:
    store = DocumentStore()
    with pytest.raises(DocumentError):
        store.open(params)
    with pytest.raises(DocumentError):
        store.close({"textDocument": {"uri": None}})
    assert store.all() == []


def test_burst_of_single_character_changes_on_a_large_document() -> None:
    """10,000 keystrokes across a ~100 KB document stay cheap (the proxy applies each one)."""
    line = "    value = compute(alpha, beta) + 😀 * 世界  # comment\n"
    text = line * (100_000 // len(line))
    store = DocumentStore()
    store.open(did_open(text))
    expected = text
    lines = text.count("\n")
    width = len(line.encode("utf-16-le")) // 2 - 1
    started = time.perf_counter()
    for i in range(10_000):
        position = ((i * 7919) % lines, (i * 31) % width)
        store.change(did_change(i + 2, edit(position, position, "x")))
    elapsed = time.perf_counter() - started
    doc = store.get(URI)
    assert doc is not None and doc.version == 10_001
    # Spot-check against the reference on a copy of the same edits (slow: only 200).
    for i in range(200):
        position = ((i * 7919) % lines, (i * 31) % width)
        expected = reference_edit(expected, position, position, "x", "utf-16")
    replay = DocumentStore()
    replay.open(did_open(text))
    for i in range(200):
        position = ((i * 7919) % lines, (i * 31) % width)
        replay.change(did_change(i + 2, edit(position, position, "x")))
    assert replay.get(URI) == Document(URI, "python", 201, expected)
    assert len(doc.text) == len(text) + 10_000
    print(f"10,000 incremental changes on {len(text)} chars: {elapsed * 1e3:.1f} ms")
    assert elapsed < 2.0
