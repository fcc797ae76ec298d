"""sero-ls' own CPU time per forwarded message, in process: no client process competes for
the CPU, so the figure is steadier than bench_proxy's and shows what a change to the
routing path is worth.

    .venv/bin/python bench/bench_route.py [--messages 50000] [--per 0] [--rounds 7]
        [--kinds note,change] [--stream intake|streamreader]

sero-ls' start-up path (``lsp.boot.Boot``, wrapper mode around bench/echo_server.py) is fed
frames the way a pipe delivers them: ``--per N`` frames per chunk (an editor that writes one
message per write() while sero-ls keeps up gives it a few per wake-up), or 0 for 256 KiB
chunks (a long burst). Between chunks the event loop turns once. After each round a
barrier request is answered by the echo server: every message went through. Printed: the
process' CPU time per message, min and median over the rounds (the echo server is another
process: not counted). Kinds: ``note``, an unknown notification about an open document
(the hot path); ``change``, an incremental didChange (the document store applies it).

The stream is what sero-ls reads stdin through: ``intake`` (transport.Intake, as in
production) or ``streamreader`` (asyncio's, as before stop 13): their difference is what
the Intake's lane saves per wake-up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sero_ls.lsp import boot, framing, transport  # noqa: E402
from sero_ls.proxy.spec import for_wrapper  # noqa: E402

ECHO = [sys.executable, str(ROOT / "bench" / "echo_server.py")]
CHUNK = 256 * 1024


class Editor:
    """The client's end: what sero-ls writes to it is kept, a waiter is woken."""

    def __init__(self) -> None:
        self.got = bytearray()
        self.changed = asyncio.Event()

    def write(self, data: bytes) -> None:
        self.got += data
        self.changed.set()

    async def drain(self) -> None:
        pass

    def close(self) -> None:
        pass

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def is_closing(self) -> bool:
        return False

    async def answered(self, msg_id: int) -> None:
        """Until the answer to request ``msg_id`` arrived (compact JSON or pygls')."""
        answer = re.compile(rb'"id": ?%d[,}]' % msg_id)
        async with asyncio.timeout(120):
            while not answer.search(self.got):
                self.changed.clear()
                await self.changed.wait()


def frame(msg: dict[str, Any]) -> bytes:
    return framing.encode_frame(json.dumps(msg, separators=(",", ":")).encode())


def messages(kind: str, n: int, uri: str) -> list[bytes]:
    if kind == "note":
        return [
            frame(
                {
                    "jsonrpc": "2.0",
                    "method": "$/bench/note",
                    "params": {"textDocument": {"uri": uri}, "seq": i},
                }
            )
            for i in range(n)
        ]
    return [
        frame(
            {
                "jsonrpc": "2.0",
                "method": "textDocument/didChange",
                "params": {
                    "textDocument": {"uri": uri, "version": i + 2},
                    "contentChanges": [
                        {
                            "range": {
                                "start": {"line": i % 100, "character": 0},
                                "end": {"line": i % 100, "character": 1},
                            },
                            "text": "y",
                        }
                    ],
                },
            }
        )
        for i in range(n)
    ]


class PipeFeed:
    """Feeds the stream sero-ls reads as a pipe's transport would."""

    def __init__(self, stream: str) -> None:
        if stream == "intake":
            self.reader: Any = transport.Intake()
            self.feed = self.reader.data_received
        else:
            self.reader = asyncio.StreamReader(limit=2**20)
            self.feed = self.reader.feed_data


async def run_kind(kind: str, args: argparse.Namespace, folder: Path) -> list[float]:
    pipe = PipeFeed(args.stream)
    editor = Editor()
    server = boot.Boot(editor, wrapper=for_wrapper("echo", ECHO), folder=str(folder))
    session = asyncio.ensure_future(server.run(pipe.reader))
    root = folder.as_uri()
    uri = f"{root}/a.py"
    pipe.feed(
        frame(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {"processId": None, "rootUri": root, "capabilities": {}},
            }
        )
    )
    await editor.answered(1)
    pipe.feed(frame({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
    text = "x = 1\n" * 100
    pipe.feed(
        frame(
            {
                "jsonrpc": "2.0",
                "method": "textDocument/didOpen",
                "params": {
                    "textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}
                },
            }
        )
    )
    pipe.feed(frame({"jsonrpc": "2.0", "id": 2, "method": "sero/logs", "params": {}}))
    await editor.answered(2)  # the full server answers: sero-ls has booted
    per_message = []
    for r in range(args.rounds):
        frames = messages(kind, args.messages, uri)
        if args.per:
            chunks = [b"".join(frames[k : k + args.per]) for k in range(0, len(frames), args.per)]
        else:
            data = b"".join(frames)
            chunks = [data[k : k + CHUNK] for k in range(0, len(data), CHUNK)]
        barrier = 1000 + r
        t0 = time.process_time()
        for chunk in chunks:
            pipe.feed(chunk)
            await asyncio.sleep(0)
        pipe.feed(frame({"jsonrpc": "2.0", "id": barrier, "method": "bench/barrier", "params": {}}))
        await editor.answered(barrier)
        per_message.append((time.process_time() - t0) / args.messages * 1e6)
    pipe.feed(frame({"jsonrpc": "2.0", "id": 3, "method": "shutdown"}))
    pipe.feed(frame({"jsonrpc": "2.0", "method": "exit"}))
    await asyncio.wait_for(session, 60)
    return per_message


async def main_async(args: argparse.Namespace) -> None:
    chunking = f"{args.per} frames per chunk" if args.per else "256 KiB chunks"
    print(
        f"python {sys.version.split()[0]}, load {os.getloadavg()[0]:.1f}, {args.stream}, "
        f"{chunking}, {args.messages:,} messages x {args.rounds} rounds"
    )
    for kind in args.kinds:
        with tempfile.TemporaryDirectory(prefix="bench-route-") as tmp:
            os.environ["SERO_LS_STATE_DIR"] = str(Path(tmp) / "state")
            folder = Path(tmp) / "w"
            (folder / ".sero").mkdir(parents=True)
            (folder / ".sero" / "config.toml").write_text('runtime = "host"\n')
            figures = await run_kind(kind, args, folder)
        low, mid = min(figures), statistics.median(figures)
        print(f"{kind:8} CPU per message: min {low:.2f} us, median {mid:.2f} us")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--messages", type=int, default=50_000)
    ap.add_argument("--per", type=int, default=0, help="frames per chunk (0: 256 KiB chunks)")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--kinds", default="note,change", type=lambda s: s.split(","))
    ap.add_argument("--stream", choices=["intake", "streamreader"], default="intake")
    asyncio.run(main_async(ap.parse_args()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
