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


async def connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection to the server once it listens (the caller bounds the wait)."""
    while True:
        try:
            return await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)  # the server is still starting


async def end_session(writer: asyncio.StreamWriter, proc: asyncio.subprocess.Process) -> None:
    """shutdown, exit: the server process ends with 0."""
    writer.write(frame({"jsonrpc": "2.0", "id": 2, "method": "shutdown"}))
    writer.write(frame({"jsonrpc": "2.0", "method": "exit"}))
    await writer.drain()
    assert await proc.wait() == 0


async def test_tcp(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "SERO_LS_STATE_DIR": str(tmp_path / "state")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sero_ls", "serve", "--tcp", f"127.0.0.1:{port}", env=env
    )
    try:
        async with asyncio.timeout(30):
            reader, writer = await connect(port)
            init = {"processId": None, "rootUri": None, "capabilities": {}}
            writer.write(frame({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": init}))
            body = await read_frame(reader)
            assert body is not None and b'"sero"' in body
            writer.write(frame({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
            await end_session(writer, proc)
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


def test_tcp_refuses_a_non_loopback_address_without_the_flag(tmp_path: Path) -> None:
    env = {**os.environ, "SERO_LS_STATE_DIR": str(tmp_path / "state")}
    env.pop("SERO_LS_TCP_TOKEN", None)
    for argv, words in (
        (["--tcp", "0.0.0.0:1"], "not a loopback address"),
        (["--tcp", "0.0.0.0:1", "--tcp-allow-remote"], "needs a token"),
    ):
        bad = subprocess.run(
            [sys.executable, "-m", "sero_ls", "serve", *argv],
            capture_output=True, text=True, timeout=60, check=False, env=env,
        )  # fmt: skip
        assert bad.returncode == 2 and words in bad.stderr, bad.stderr
    helped = subprocess.run(
        [sys.executable, "-m", "sero_ls", "serve", "--help"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert "--tcp-allow-remote" in helped.stdout and "loopback" in helped.stdout


async def test_tcp_remote_needs_the_token_before_anything_runs(tmp_path: Path) -> None:
    port = free_port()
    token = tmp_path / "token"
    token.write_text("a-long-enough-token-1234\n")
    marker = tmp_path / "ran"
    env = {**os.environ, "SERO_LS_STATE_DIR": str(tmp_path / "state")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sero_ls", "serve", "--tcp", f"0.0.0.0:{port}",
        "--tcp-allow-remote", "--tcp-token-file", str(token), env=env,
    )  # fmt: skip
    hostile = {
        "settings": {
            "runtime": "host",
            "servers": {"x": {"command": ["touch", str(marker)], "languages": ["python"]}},
        }
    }
    ws = tmp_path / "ws"
    ws.mkdir()

    def init(options: dict[str, object]) -> bytes:
        params = {"processId": None, "rootUri": ws.as_uri(), "capabilities": {},
                  "initializationOptions": options}  # fmt: skip
        return frame({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params})

    try:
        async with asyncio.timeout(60):
            reader, writer = await connect(port)
            for options in (hostile, {**hostile, "seroToken": "a-wrong-token-of-length"}):
                writer.write(init(options))
                body = await read_frame(reader)
                assert body is not None and b'"code":-32001' in body and b"unauthorized" in body
                assert await read_frame(reader) is None  # closed
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            assert not marker.exists() and proc.returncode is None
            writer.write(init({**hostile, "seroToken": "a-long-enough-token-1234"}))
            body = await read_frame(reader)
            assert body is not None and b'"sero"' in body and b"-32001" not in body
            assert marker.exists()  # the authenticated client's own server command ran
            await end_session(writer, proc)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
