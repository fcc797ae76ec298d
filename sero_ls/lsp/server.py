"""The sero-ls language server: pygls wiring of runtime status, commands and the proxy.

Runtime features live in ``status.py`` (status requests, push, diagnostics) and
``commands.py`` (executeCommand, code actions); this module owns the server
object, the lifecycle and the transport.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

import psutil
from lsprotocol import types
from pygls.lsp.server import LanguageServer

from sero_ls import __version__, trace
from sero_ls.lsp import transport
from sero_ls.lsp.protocol import SeroProtocol, raw_converter
from sero_ls.proxy.hub import Hub
from sero_ls.proxy.spec import ServerSpec
from sero_ls.runtime.manager import RuntimeManager
from sero_ls.runtime.model import FolderStatus
from sero_ls.runtime.workflows import log_dir

log = logging.getLogger(__name__)


def settings_from_init_options(options: Any) -> Mapping[str, Any] | None:
    """Accept the shapes editors send: {settings: {...}}, {sero: {...}}, or the settings."""
    if not isinstance(options, Mapping):
        return None
    for key in ("settings", "sero"):
        inner = options.get(key)
        if isinstance(inner, Mapping):
            nested = inner.get("sero")
            return nested if isinstance(nested, Mapping) else inner
    return options


class SeroLanguageServer(LanguageServer):
    protocol: SeroProtocol

    def __init__(self, *, wrapper: ServerSpec | None = None, folder: str | None = None) -> None:
        super().__init__(
            "sero-ls",
            __version__,
            protocol_cls=SeroProtocol,
            converter_factory=raw_converter,
        )
        self.manager = RuntimeManager(on_change=self.status_changed)
        self.initialized = asyncio.Event()
        self.published: dict[str, list[types.Diagnostic]] = {}
        self.client_pid: int | None = None
        self.exit_code: int | None = None
        self._done = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        # Async callables run at shutdown and exit (the proxy stops its backends here).
        self.shutdown_hooks: list[Callable[[], Awaitable[None]]] = []
        # Async callables run when the set of folders or their settings may have changed.
        self.folder_hooks: list[Callable[[], Awaitable[None]]] = []
        # Imported here: the feature modules register themselves on this instance.
        from sero_ls.lsp import commands, containerfiles, status, workflows

        status.register(self)
        commands.register(self)
        containerfiles.register(self)
        workflows.register(self)
        # The proxy: language servers per folder (hub), or the one wrapped server.
        self.default_folder = folder
        self.hub = Hub(self, wrapper=wrapper)
        self.protocol.router = self.hub
        self.manager.server_entries = self.hub.server_entries
        self.shutdown_hooks.append(self.hub.shutdown)
        self.folder_hooks[:0] = [self.apply_trace_setting, self.hub.sync_folders]

    # ---- helpers shared by the feature modules

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def notify_raw(self, method: str, params: Any) -> None:
        self.protocol.send_raw({"jsonrpc": "2.0", "method": method, "params": params})

    async def status_changed(self, statuses: list[FolderStatus]) -> None:
        from sero_ls.lsp.status import push_status

        if self.initialized.is_set():
            push_status(self, statuses)
            await self.hub.status_changed()

    async def apply_trace_setting(self) -> None:
        """The `trace` setting: the most detailed level any folder asks for (one process)."""
        levels = [st.settings.trace for st in self.manager.folders.values()]
        try:
            trace.apply_setting(max(levels, key=trace.LEVELS.index, default="off"), log_dir())
        except OSError as exc:
            log.warning("no message trace: cannot write in %s: %s", log_dir(), exc)

    # ---- lifecycle

    def request_exit(self, code: int) -> None:
        self.exit_code = code
        self._done.set()

    async def watch_client_pid(self, pid: int) -> None:
        """End when the editor process is gone (it may die without closing our stdin)."""
        while psutil.pid_exists(pid):  # noqa: ASYNC110 (no event tells that a pid ended)
            await asyncio.sleep(2.0)
        log.warning("the editor process %d is gone: exiting", pid)
        self.request_exit(1)

    async def serve(self, reader: Any, writer: Any) -> int:
        self.protocol.set_writer(writer, include_headers=True)
        reading = asyncio.ensure_future(transport.read_loop(self.protocol, reader))
        done = asyncio.ensure_future(self._done.wait())
        await asyncio.wait({reading, done}, return_when=asyncio.FIRST_COMPLETED)
        code = (
            self.exit_code if self.exit_code is not None else (0 if self.protocol._shutdown else 1)
        )
        await self.cleanup()
        for t in (reading, done):
            t.cancel()
        with contextlib.suppress(Exception):
            await writer.drain()
        return code

    async def cleanup(self) -> None:
        """Stop everything this server started (watchers, backends)."""
        await self.manager.stop()
        for hook in self.shutdown_hooks:
            with contextlib.suppress(Exception):
                await hook()
        for t in list(self._tasks):
            t.cancel()


async def run_stdio(wrapper: ServerSpec | None = None, folder: str | None = None) -> int:
    server = SeroLanguageServer(wrapper=wrapper, folder=folder)
    reader, writer = await transport.stdio_streams()
    return await server.serve(reader, writer)


async def run_tcp(host: str, port: int) -> int:
    done: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        server = SeroLanguageServer()
        code = await server.serve(reader, writer)
        writer.close()
        if not done.done():
            done.set_result(code)

    srv = await asyncio.start_server(on_connect, host, port)
    log.info("listening on %s:%d (pid %d)", host, port, os.getpid())
    async with srv:
        return await done
