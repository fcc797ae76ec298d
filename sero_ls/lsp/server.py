"""The sero-ls language server: pygls wiring of runtime status, commands and the proxy.

Runtime features live in ``status.py`` (status requests, push, diagnostics) and
``commands.py`` (executeCommand, code actions); this module owns the server
object, the lifecycle and the transport.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import psutil
from lsprotocol import types
from pygls.lsp.server import LanguageServer

from sero_ls import __version__, trace
from sero_ls.lsp.protocol import SeroProtocol, raw_converter
from sero_ls.proxy.front import Proxy
from sero_ls.proxy.spec import ServerSpec
from sero_ls.runtime.manager import RuntimeManager
from sero_ls.runtime.model import FolderStatus
from sero_ls.runtime.workflows import log_dir

log = logging.getLogger(__name__)


class _ClientPort:
    """The router's way to the editor: sero-ls' protocol writer."""

    def __init__(self, protocol: SeroProtocol) -> None:
        self.protocol = protocol

    def send(self, msg: dict[str, Any]) -> None:
        self.protocol.send_raw(msg)

    def send_body(self, body: bytes) -> None:
        self.protocol.send_raw_body(body)


class SeroLanguageServer(LanguageServer):
    protocol: SeroProtocol

    def __init__(
        self,
        *,
        wrapper: ServerSpec | None = None,
        folder: str | None = None,
        manager: RuntimeManager | None = None,
        proxy: Proxy | None = None,
    ) -> None:
        """``manager`` and ``proxy``: already running, from the start-up path (lsp/boot.py),
        which started the language servers before pygls was imported."""
        super().__init__(
            "sero-ls",
            __version__,
            protocol_cls=SeroProtocol,
            converter_factory=raw_converter,
        )
        self.manager = manager or RuntimeManager()
        self.manager.on_change = self.status_changed
        self.initialized = asyncio.Event()
        self.published: dict[str, list[types.Diagnostic]] = {}
        self.logged_status: dict[str, tuple[str, str | None, str]] = {}
        self.client_pid: int | None = None
        self.exit_code: int | None = None
        self._done = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        # Async callables run at shutdown and exit (the proxy stops its backends here).
        self.shutdown_hooks: list[Callable[[], Awaitable[None]]] = []
        # Async callables run when the set of folders or their settings may have changed.
        self.folder_hooks: list[Callable[[], Awaitable[None]]] = []
        # Imported here: the feature modules register themselves on this instance.
        from sero_ls.lsp import commands, containerfiles, runtime_status, trust, workflow_requests

        runtime_status.register(self)
        commands.register(self)
        containerfiles.register(self)
        workflow_requests.register(self)
        trust.register(self)
        # The proxy: language servers per folder (hub), or the one wrapped server.
        self.default_folder = folder
        self.proxy = proxy or Proxy(
            self.manager, _ClientPort(self.protocol), wrapper=wrapper, spawn=self.spawn
        )
        self.protocol.router = self.proxy
        self.manager.server_entries = self.proxy.entries
        self.shutdown_hooks.append(self.proxy.shutdown)
        self.folder_hooks[:0] = [self.apply_trace_setting, self.proxy.sync_folders]

    # ---- helpers shared by the feature modules

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def notify_raw(self, method: str, params: Any) -> None:
        self.protocol.send_raw({"jsonrpc": "2.0", "method": method, "params": params})

    async def status_changed(self, statuses: list[FolderStatus]) -> None:
        from sero_ls.lsp.runtime_status import push_status

        if self.initialized.is_set():
            push_status(self, statuses)
            await self.proxy.runtime_changed()

    async def apply_trace_setting(self) -> None:
        """The `trace` setting: the most detailed level any folder asks for (one process)."""
        levels = [st.settings.trace for st in self.manager.folders.values()]
        trace.apply_folder_settings(levels, log_dir())

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

    async def run(self, reading: asyncio.Future[Any], writer: Any) -> int:
        """Until the client goes or says exit; then stop everything; the exit code."""
        done: asyncio.Future[Any] = asyncio.ensure_future(self._done.wait())
        await asyncio.wait({reading, done}, return_when=asyncio.FIRST_COMPLETED)
        code = (
            self.exit_code if self.exit_code is not None else (0 if self.protocol.shut_down else 1)
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
