"""A fast echo language server for bench/bench_proxy.py: stdlib only, LSP over stdio.

It does as little as a backend can, so a benchmark measures the path to it:

* ``initialize``: incremental sync and a hover provider; ``shutdown``/``exit``;
* any other request: ``{"echo": <its id>}`` at once;
* ``bench/barrier``: ``{"notifications": N, "lastOpenLength": L}``: every notification
  received so far (all kinds) and the text length of the last didOpen, so the answer
  proves everything before it arrived;
* notifications are counted, nothing else.
"""

from __future__ import annotations

import json
import sys


def main() -> int:
    inp = sys.stdin.buffer
    out = sys.stdout.buffer
    loads, dumps = json.loads, json.dumps
    notifications = 0
    last_open = -1
    shutdown = False
    while True:
        length = -1
        while True:
            line = inp.readline()
            if not line:
                return 1
            if line in (b"\r\n", b"\n"):
                if length >= 0:
                    break
                continue
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        msg = loads(inp.read(length))
        method = msg.get("method")
        if "id" not in msg:
            if method is None:
                continue  # a response to us: we send no requests
            notifications += 1
            if method == "textDocument/didOpen":
                last_open = len(msg["params"]["textDocument"]["text"])
            elif method == "exit":
                return 0 if shutdown else 1
            continue
        if method == "initialize":
            result: object = {
                "capabilities": {"textDocumentSync": 2, "hoverProvider": True},
                "serverInfo": {"name": "echo"},
            }
        elif method == "bench/barrier":
            result = {"notifications": notifications, "lastOpenLength": last_open}
        elif method == "shutdown":
            shutdown = True
            result = None
        else:
            result = {"echo": msg["id"]}
        body = dumps({"jsonrpc": "2.0", "id": msg["id"], "result": result}).encode()
        out.write(b"Content-Length: %d\r\n\r\n%b" % (len(body), body))
        out.flush()


if __name__ == "__main__":
    sys.exit(main())
