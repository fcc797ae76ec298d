"""Driving the real `sero-ls` process over stdio with pytest-lsp's client.

`session(...)` starts the server, initializes with the given folders, settings
and client capabilities, records every `sero/statusChanged`, and shuts down
cleanly at the end. Waits are on events with deadlines, never fixed sleeps.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities, make_test_lsp_client

from sero_ls.uris import path_to_uri


class Recorder:
    """Every `sero/statusChanged` the server sent, with a way to wait for one that matches."""

    def __init__(self) -> None:
        self.notes: list[dict[str, Any]] = []
        self._changed = asyncio.Condition()

    async def add(self, params: dict[str, Any]) -> None:
        async with self._changed:
            self.notes.append(params)
            self._changed.notify_all()

    def mark(self) -> int:
        """A point in the stream: `wait_for(..., after=mark)` ignores what came before."""
        return len(self.notes)

    async def wait_for(
        self,
        predicate: Callable[[dict[str, Any]], bool],
        timeout: float = 60.0,  # a deadline, not a wait: generous for a loaded machine
        what: str = "",
        after: int = 0,
    ) -> dict[str, Any]:
        """The first notification (from index ``after`` on, received or future) matching."""
        seen = after
        async with asyncio.timeout(timeout):
            async with self._changed:
                while True:
                    for note in self.notes[seen:]:
                        if predicate(note):
                            return note
                    seen = len(self.notes)
                    await self._changed.wait()
        raise AssertionError(what)  # pragma: no cover (timeout raises first)


def folder_status(note: dict[str, Any], folder: Path) -> dict[str, Any] | None:
    uri = path_to_uri(str(folder))
    for f in note.get("folders", []):
        if f["uri"] == uri:
            return f
    return None


def as_dict(value: Any) -> Any:
    """pytest-lsp returns results of custom requests as namedtuples."""
    if hasattr(value, "_asdict"):
        return {k: as_dict(v) for k, v in value._asdict().items()}
    if isinstance(value, list | tuple):
        return [as_dict(v) for v in value]
    return value


class Session:
    def __init__(self, client: LanguageClient, recorder: Recorder) -> None:
        self.client = client
        self.status = recorder
        self.initialize_result: types.InitializeResult | None = None

    async def request(self, method: str, params: Any, timeout: float = 30.0) -> Any:
        async with asyncio.timeout(timeout):
            return as_dict(await self.client.protocol.send_request_async(method, params))

    async def request_raw(self, method: str, params: Any, timeout: float = 30.0) -> Any:
        """A request whose result is kept as plain JSON (lsprotocol's client-side converter
        turns a CodeAction that has a `command` into a Command, for one)."""
        proto = self.client.protocol
        msg_id = f"raw-{uuid.uuid4()}"
        fut: concurrent.futures.Future[Any] = concurrent.futures.Future()
        proto._request_futures[msg_id] = fut
        proto._send_data({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        async with asyncio.timeout(timeout):
            return as_dict(await asyncio.wrap_future(fut))

    def notify_raw(self, method: str, params: Any) -> None:
        """A notification sent as plain JSON (no lsprotocol structuring on the way)."""
        self.client.protocol._send_data({"jsonrpc": "2.0", "method": method, "params": params})

    async def command(self, command: str, *arguments: Any) -> Any:
        result = await self.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=command, arguments=list(arguments))
        )
        return as_dict(result)

    def diagnostics(self, uri: str) -> list[types.Diagnostic]:
        return list(self.client.diagnostics.get(uri, []))

    async def wait_diagnostics(
        self, uri: str, predicate: Callable[[list[types.Diagnostic]], bool], timeout: float = 20.0
    ) -> list[types.Diagnostic]:
        async with asyncio.timeout(timeout):
            while not predicate(self.diagnostics(uri)):
                await self.client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        return self.diagnostics(uri)


def server_env(tmp: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a sero-ls under test: isolated state, verbose logs to stderr."""
    env = dict(os.environ)
    env["SERO_LS_STATE_DIR"] = str(tmp / "state")
    env["SERO_LS_CACHE_DIR"] = str(tmp / "cache")  # the status cache a server keeps
    env.update(extra or {})
    return env


@asynccontextmanager
async def session(
    folders: list[Path],
    *,
    tmp: Path,
    settings: dict[str, Any] | None = None,
    configuration: dict[str, Any] | None = None,
    editor: str = "visual-studio-code",
    env: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
) -> AsyncIterator[Session]:
    client = make_test_lsp_client()
    recorder = Recorder()

    @client.feature("sero/statusChanged")
    async def on_status(params: Any) -> None:
        await recorder.add(as_dict(params))

    if configuration is not None:
        client.set_configuration(configuration, section="sero")
    await client.start_io(sys.executable, "-m", "sero_ls", "-v", *args, env=server_env(tmp, env))
    sess = Session(client, recorder)
    try:
        caps = client_capabilities(editor)
        sess.initialize_result = await client.initialize_session(
            types.InitializeParams(
                capabilities=caps,
                workspace_folders=[
                    types.WorkspaceFolder(uri=path_to_uri(str(f)), name=f.name) for f in folders
                ],
                initialization_options={"settings": settings or {}},
            )
        )
        yield sess
    finally:
        try:
            async with asyncio.timeout(20):
                await client.shutdown_session()
        finally:
            await client.stop()
