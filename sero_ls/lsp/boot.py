"""Start-up at the speed of the language server itself.

An editor spawns sero-ls and waits for the first diagnostics. Booting sero-ls fully first
(pygls and lsprotocol take most of a second to import) and only then starting the language
server would add the two start-up times. This module overlaps them instead:

1. read the client's ``initialize`` with sero-ls' own framing (no pygls);
2. decide where each server runs from what is known at once: the declared servers, and the
   folder's last resolved status from the on-disk cache (kept by running servers and
   ``sero-ls status``); with no cached status, resolve first;
3. start the servers, import pygls in a thread meanwhile, and answer ``initialize`` as soon
   as the servers have (sero-ls' own capabilities are known without pygls);
4. route the editor's messages to the servers at once; only what sero-ls answers itself
   (``sero/*``, its commands, the lifecycle) waits for pygls and is replayed to it, in order;
5. pygls' own ``initialize`` handler then resolves the folders for real and moves every
   server whose guessed place was wrong (the document replayed by the move machinery).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import sys
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from sero_ls import trace
from sero_ls.lsp import framing, transport
from sero_ls.lsp.methods import SHARED_NOTIFICATIONS, is_local
from sero_ls.lsp.own_capabilities import own_initialize_result
from sero_ls.proxy.front import Proxy
from sero_ls.proxy.spec import ServerSpec
from sero_ls.runtime import status_cache
from sero_ls.runtime.manager import RuntimeManager
from sero_ls.runtime.model import FolderStatus, from_json
from sero_ls.runtime.workflows import log_dir
from sero_ls.settings import Settings, settings_from_init_options
from sero_ls.uris import path_to_uri

if TYPE_CHECKING:
    from sero_ls.lsp.server import SeroLanguageServer

log = logging.getLogger(__name__)


def initial_folders(
    params: Any, *, wrapper: bool, default: str | None
) -> list[tuple[str, str | None]]:
    """The workspace folders an initialize request names (raw params): its folders, else its
    root; a wrapper with neither serves --folder, else the working directory."""
    if not isinstance(params, dict):
        params = {}
    folders = params.get("workspaceFolders")
    if isinstance(folders, list) and folders:
        out = [
            (f["uri"], f.get("name") if isinstance(f.get("name"), str) else None)
            for f in folders
            if isinstance(f, dict) and isinstance(f.get("uri"), str)
        ]
        if out:
            return out
    if isinstance(params.get("rootUri"), str):
        return [(params["rootUri"], None)]
    if isinstance(params.get("rootPath"), str):
        return [(path_to_uri(params["rootPath"]), None)]
    if wrapper:
        return [(path_to_uri(default or os.getcwd()), None)]
    return []


class _WriterPort:
    """The editor's end before pygls exists (and after: the same stream, one write each)."""

    def __init__(self, writer: Any) -> None:
        self.writer = writer

    def send(self, msg: dict[str, Any]) -> None:
        self.send_body(framing.encode_message(msg))

    def send_body(self, body: bytes) -> None:
        transport.to_client(self.writer, body)


class Boot:
    def __init__(self, writer: Any, *, wrapper: ServerSpec | None, folder: str | None) -> None:
        self.writer = writer
        self.wrapper = wrapper
        self.folder = folder
        self.port = _WriterPort(writer)
        self.manager = RuntimeManager()
        self.proxy = Proxy(self.manager, self.port, wrapper=wrapper, spawn=self.spawn)
        self.ls: SeroLanguageServer | None = None
        self.buffered: list[tuple[dict[str, Any], bytes]] = []
        self.local_done: set[int] = set()  # buffered messages the servers already got
        self.init_id: Any = None
        self.init_task: asyncio.Task[None] | None = None
        self.answered = False
        self.shutdown_seen = False
        # Set once the servers are placed and spawning (or there are none): the import of
        # pygls waits for it, so it does not slow the way to the servers' start.
        self.placed = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        if self.ls is not None:
            return self.ls.spawn(coro)
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # ---- every client message, from the first on

    def hot_path(self) -> transport.Forwarder | None:
        """The read loop's hot path: the full server's, once it takes every message."""
        return self.ls.protocol.hot_path() if self.ls is not None else None

    def handle(self, msg: dict[str, Any], body: bytes) -> None:
        if self.ls is not None:
            self.ls.protocol.handle_raw(msg, body)
            return
        if not self._route_early(msg, body):
            self.buffered.append((msg, body))

    def _route_early(self, msg: dict[str, Any], body: bytes) -> bool:
        """True when the message was routed now; False: pygls takes it once it is loaded."""
        if msg.get("jsonrpc") != "2.0" or ("id" in msg and not transport.valid_id(msg["id"])):
            if self.init_id is None:
                self.placed.set()  # no reason to wait for a placement to load pygls
            return False  # pygls' path rejects it properly
        method = msg.get("method")
        if self.init_id is None:
            if method == "initialize" and "id" in msg and isinstance(msg.get("params"), dict):
                self.init_id = msg["id"]
                self.init_task = self.spawn(self._initialize(msg))
            else:
                self.placed.set()  # nothing to place: pygls answers this one
            return False  # pygls sees initialize too (its own state); its answer is dropped
        if not self.answered or self.shutdown_seen:
            return False
        if method is None:
            return self.proxy.owns_response(msg.get("id")) and self.proxy.from_client(msg, body)
        if not isinstance(method, str):
            return False
        if is_local(method):
            if method == "shutdown":
                self.shutdown_seen = True
            elif method in SHARED_NOTIFICATIONS and "id" not in msg:
                self.proxy.also_local(msg)
                self.local_done.add(id(msg))
            return False
        return self.proxy.from_client(msg, body)

    @staticmethod
    async def _import_server() -> Any:
        """pygls and the full server, imported in a thread while the loop goes on routing.
        The thread holds the GIL in turns of the switch interval: shorter turns meanwhile,
        so the loop's work (the servers' first messages) waits less for it."""
        interval = sys.getswitchinterval()
        sys.setswitchinterval(min(interval, 0.001))
        try:
            return await asyncio.to_thread(importlib.import_module, "sero_ls.lsp.server")
        finally:
            sys.setswitchinterval(interval)

    async def _initialize(self, msg: dict[str, Any]) -> None:
        params: dict[str, Any] = msg["params"]
        try:
            self.proxy.observe_initialize(params)
            self.manager.init_settings = settings_from_init_options(
                params.get("initializationOptions")
            )
            self.manager.set_folders(
                initial_folders(params, wrapper=self.wrapper is not None, default=self.folder)
            )
            levels = [st.settings.trace for st in self.manager.folders.values()]
            trace.apply_folder_settings(levels, log_dir())  # before servers start: traced
            if any(self.proxy.supervisor.specs_for(uri) for uri in self.manager.folders):
                guessed = self._cached_statuses()
                if not guessed:
                    await self.manager.refresh(reload=False)
                self.placed.set()
                await self.proxy.sync_folders()
                if guessed and any(i.state == "failed" for i in self.proxy.all_instances()):
                    # the cached place was wrong (a container gone?): look, and move, first
                    await self.manager.refresh(reload=False)
                    await self.proxy.runtime_changed()
            result = self.proxy.initialize_result(own_initialize_result())
        except Exception:
            log.exception("start-up: initialize is left to the full server")
            return
        finally:
            self.placed.set()
        self.port.send({"jsonrpc": "2.0", "id": msg["id"], "result": result})
        self.answered = True

    def _cached_statuses(self) -> bool:
        """Each folder's last resolved status from the cache, as a guess to place its
        servers now; False when a folder has none (then it is resolved first)."""
        for st in self.manager.folders.values():
            entry = status_cache.read(st.folder.path)
            status = guess(entry.status, st.settings) if entry is not None else None
            if status is None:
                return False
            st.status = status
        return True

    # ---- the whole session

    async def run(self, reader: Any) -> int:
        messages = framing.MessageReader(reader)
        reading = asyncio.ensure_future(
            transport.read_loop(
                messages,
                self.handle,
                self.port.send,
                self.hot_path,
                reader if isinstance(reader, transport.Intake) else None,
            )
        )
        placed = asyncio.ensure_future(self.placed.wait())
        await asyncio.wait({placed, reading}, return_when=asyncio.FIRST_COMPLETED)
        placed.cancel()
        server_mod = await self._import_server()
        if self.init_task is not None:
            await asyncio.wait({self.init_task, reading}, return_when=asyncio.FIRST_COMPLETED)
        ls: SeroLanguageServer = server_mod.SeroLanguageServer(
            wrapper=self.wrapper, folder=self.folder, manager=self.manager, proxy=self.proxy
        )
        ls.protocol.set_writer(self.writer, include_headers=True)
        for task in self._tasks:
            ls._tasks.add(task)
        replayed = 0
        if self.answered and self.buffered and self.buffered[0][0].get("id") == self.init_id:
            # pygls takes initialize first, and the rest once it has finished with it (its
            # shutdown would cancel an initialize still running)
            ls.protocol.silent_ids.add(self.init_id)
            msg, body = self.buffered.pop(0)
            ls.protocol.handle_raw(msg, body)
            replayed += 1
            try:
                async with asyncio.timeout(120):
                    await ls.protocol.silenced.wait()
            except TimeoutError:
                log.warning("start-up: the full server's initialize is still running")
        while self.buffered:
            msg, body = self.buffered.pop(0)
            ls.protocol.handle_raw(msg, body, routed=id(msg) in self.local_done)
            replayed += 1
        self.ls = ls
        log.info("start-up done: %d messages replayed to the full server", replayed)
        return await ls.run(reading, self.writer)


async def run_stdio(wrapper: ServerSpec | None = None, folder: str | None = None) -> int:
    reader, writer = await transport.stdio_streams()
    return await Boot(transport.BatchWriter(writer), wrapper=wrapper, folder=folder).run(reader)


def guess(cached: Any, settings: Settings) -> FolderStatus | None:
    """A cached status as a guess for the folder's settings now; None when it was resolved
    under other settings (another `runtime`, backend or container: it says nothing then)."""
    status = from_json(cached)
    if status is None or status.requested != settings.runtime:
        return None
    backend = settings.container_backend
    if backend != "auto" and status.mode == "container" and status.runtime.backend != backend:
        return None
    container = status.runtime.container
    if settings.container and (
        container is None or settings.container not in (container.id, container.name)
    ):
        return None
    return status
