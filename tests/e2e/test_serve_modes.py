"""`sero-ls serve` over TCP, and its command-line errors."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.support.rawclient import frame, read_frame


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_tcp(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "SERO_LS_STATE_DIR": str(tmp_path / "state")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sero_ls", "serve", "--tcp", f"127.0.0.1:{port}", env=env
    )
    try:
        async with asyncio.timeout(30):
            while True:
                try:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    break
                except OSError:
                    await asyncio.sleep(0.05)  # the server is still starting
            init = {"processId": None, "rootUri": None, "capabilities": {}}
            writer.write(frame({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": init}))
            body = await read_frame(reader)
            assert body is not None and b'"sero"' in body
            writer.write(frame({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
            writer.write(frame({"jsonrpc": "2.0", "id": 2, "method": "shutdown"}))
            writer.write(frame({"jsonrpc": "2.0", "method": "exit"}))
            await writer.drain()
            assert await proc.wait() == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def test_usage_errors() -> None:
    bad = subprocess.run(
        [sys.executable, "-m", "sero_ls", "serve", "--tcp", "nope"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert bad.returncode == 2 and "HOST:PORT" in bad.stderr
    none = subprocess.run(
        [sys.executable, "-m", "sero_ls", "proxy", "--"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert none.returncode == 2 and "after --" in none.stderr
    version = subprocess.run(
        [sys.executable, "-m", "sero_ls", "--version"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert version.stdout.startswith("sero-ls ")
