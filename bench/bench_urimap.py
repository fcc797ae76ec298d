"""Micro-benchmark of URI mapping on typical proxy traffic (budget: < 0.3 ms per message).

    .venv/bin/python bench/bench_urimap.py [--check]

Each row maps a fresh deep copy of a realistic message (copy time excluded) with a prefix
mapper like the proxy's; ``--check`` exits 1 when a row exceeds the budget.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from collections.abc import Callable
from typing import Any

from sero_ls.proxy.urimap import Kind, map_params, map_result

BUDGET_MS = 0.3
HOST, CONTAINER = "file:///home/u/proj/", "file:///workspace/"


def mapper(value: str, kind: Kind) -> str:
    if value.startswith(CONTAINER):
        return HOST + value[len(CONTAINER) :]
    return value


def rng(line: int) -> dict[str, Any]:
    return {"start": {"line": line, "character": 0}, "end": {"line": line, "character": 9}}


def messages() -> dict[str, tuple[Callable[[Any], Any], Any]]:
    text = "x = 1\n" * 40_000
    diag = {
        "range": rng(1),
        "severity": 2,
        "source": "pycodestyle",
        "code": "E501",
        "message": "line too long",
        "codeDescription": {"href": "https://x/E501"},
        "relatedInformation": [
            {"location": {"uri": CONTAINER + "b.py", "range": rng(2)}, "message": "here"}
        ],
    }
    return {
        "didOpen 240 KB text": (
            lambda m: map_params("textDocument/didOpen", "to_server", m, mapper),
            {
                "textDocument": {
                    "uri": HOST + "a.py",
                    "languageId": "python",
                    "version": 1,
                    "text": text,
                }
            },
        ),
        "didChange": (
            lambda m: map_params("textDocument/didChange", "to_server", m, mapper),
            {
                "textDocument": {"uri": HOST + "a.py", "version": 2},
                "contentChanges": [{"range": rng(3), "text": "y"}],
            },
        ),
        "completion 1000 items (no URI fields)": (
            lambda m: map_result("textDocument/completion", "to_client", m, mapper),
            {
                "isIncomplete": False,
                "items": [{"label": f"i{i}", "kind": 6, "data": {"u": i}} for i in range(1000)],
            },
        ),
        "definition 50 Locations": (
            lambda m: map_result("textDocument/definition", "to_client", m, mapper),
            [{"uri": CONTAINER + f"m{i}.py", "range": rng(i)} for i in range(50)],
        ),
        "references 500 Locations": (
            lambda m: map_result("textDocument/references", "to_client", m, mapper),
            [{"uri": CONTAINER + f"m{i}.py", "range": rng(i)} for i in range(500)],
        ),
        "publishDiagnostics 200": (
            lambda m: map_params("textDocument/publishDiagnostics", "to_client", m, mapper),
            {"uri": CONTAINER + "a.py", "diagnostics": [dict(diag) for _ in range(200)]},
        ),
        "rename edit over 100 files": (
            lambda m: map_result("textDocument/rename", "to_client", m, mapper),
            {
                "documentChanges": [
                    {
                        "textDocument": {"uri": CONTAINER + f"f{i}.py", "version": 1},
                        "edits": [{"range": rng(1), "newText": "n"}] * 5,
                    }
                    for i in range(100)
                ]
            },
        ),
        "hover (no URI in result)": (
            lambda m: map_result("textDocument/hover", "to_client", m, mapper),
            {"contents": {"kind": "markdown", "value": "doc " * 500}},
        ),
    }


def measure(fn: Callable[[Any], Any], message: Any, rounds: int = 300) -> float:
    """Median milliseconds per call, each call on a fresh copy."""
    copies = [copy.deepcopy(message) for _ in range(rounds)]
    times = []
    for m in copies:
        start = time.perf_counter()
        fn(m)
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2] * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help=f"exit 1 above {BUDGET_MS} ms")
    args = parser.parse_args(argv)
    over = []
    for name, (fn, message) in messages().items():
        ms = measure(fn, message)
        print(f"{name:40s} {ms * 1000:8.1f} us")
        if ms > BUDGET_MS:
            over.append(name)
    if over:
        print(f"over the {BUDGET_MS} ms budget: {', '.join(over)}")
    return 1 if args.check and over else 0


if __name__ == "__main__":
    sys.exit(main())
