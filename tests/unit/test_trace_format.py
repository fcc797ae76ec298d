"""sero_ls/trace.py: the line format, both levels, the size bound."""

from __future__ import annotations

import json
import time
from pathlib import Path

from sero_ls.trace import FileTracer, Tracer


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_line_per_message_with_names_and_time(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    tracer = FileTracer(str(path))
    before = time.time()
    # an encoded body as it was read, pretty-printed: its newlines are whitespace
    tracer.record("client", "sero-ls", b'{"jsonrpc": "2.0",\r\n "id": 1, "method": "a\\nb"}')
    tracer.record("sero-ls", "pylsp@my proj@2", {"jsonrpc": "2.0", "id": 1, "result": "é"})
    tracer.close()
    first, second = lines(path)
    assert before <= first["time"] <= second["time"] <= time.time()
    assert (first["from"], first["to"]) == ("client", "sero-ls") and "folder" not in first
    assert first["message"] == {"jsonrpc": "2.0", "id": 1, "method": "a\nb"}
    assert (second["to"], second["folder"]) == ("pylsp", "my proj@2")
    assert second["message"]["result"] == "é"


def test_messages_level_keeps_the_envelope_only(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    tracer = FileTracer(str(path), "messages")
    tracer.record("client", "sero-ls", b'{"jsonrpc":"2.0","id":"x","method":"m","params":[1]}')
    tracer.record("pylsp", "sero-ls", {"jsonrpc": "2.0", "id": "x", "error": {"code": 1}})
    tracer.close()
    assert [e["message"] for e in lines(path)] == [
        {"jsonrpc": "2.0", "id": "x", "method": "m"},
        {"jsonrpc": "2.0", "id": "x", "error": {"code": 1}},
    ]


def test_the_file_rotates_at_its_bound(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    tracer = FileTracer(str(path), max_bytes=1000)
    for i in range(60):
        tracer.record("client", "sero-ls", {"jsonrpc": "2.0", "method": "n", "params": i})
    tracer.close()
    old, new = lines(Path(f"{path}.1")), lines(path)
    assert path.stat().st_size <= 1000 and Path(f"{path}.1").stat().st_size <= 1000
    numbers = [e["message"]["params"] for e in old + new]
    assert numbers == list(range(60 - len(numbers), 60))  # the newest, in order, none torn


def test_the_default_tracer_does_nothing(tmp_path: Path) -> None:
    Tracer().record("client", "sero-ls", b"{}")
    assert Tracer().path is None
