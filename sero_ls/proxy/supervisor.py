"""The language server processes: which run for each folder, where, and for how long.

The supervisor owns every server's lifecycle: placement (container or host), start and
``initialize``, restart with backoff after a crash, moves when a folder's runtime changes,
the host fallback when a command is missing in the container, and stopping. It never
routes a message: what a server says goes to the router (``Events``), and the router
learns through ``server_ready`` / ``server_gone`` when a server can take messages and when
its in-flight requests, diagnostics and registrations must go.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import shutil
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from sero_ls.lsp.framing import CONTENT_MODIFIED, INTERNAL_ERROR
from sero_ls.proxy import urimap
from sero_ls.proxy.connection import BackendError, Connection
from sero_ls.proxy.instance import Instance
from sero_ls.proxy.placement import container_of, place
from sero_ls.proxy.spec import ServerSpec, from_settings
from sero_ls.runtime.manager import RuntimeManager
from sero_ls.runtime.model import ServerEntry

log = logging.getLogger(__name__)

INIT_TIMEOUT = 30.0


class Events(Protocol):
    """What the supervisor tells the router."""

    def server_message(self, inst: Instance, msg: dict[str, Any], body: bytes | None) -> None:
        """A message from a server (its bytes as received, when it has them)."""

    def server_ready(self, inst: Instance) -> None:
        """The server answered initialize: replay the open documents, flush its queue."""

    def server_gone(self, inst: Instance, why: str, code: int = INTERNAL_ERROR) -> None:
        """The server's process ended or is being replaced: settle what waits on it (the
        requests it had get JSON-RPC error ``code``)."""

    def server_failed(self, inst: Instance) -> None:
        """The server will not run (gave up, missing command): answer what it queued."""

    def servers_changed(self) -> None:
        """Servers were added or removed: which server a document goes to is asked anew."""


def json_copy(value: Any) -> Any:
    """A deep copy of decoded JSON, as deep as the decoder took it (``copy.deepcopy`` needs
    two stack frames per level: a client's initialize params nested 500 deep ended sero-ls)."""
    return json.loads(json.dumps(value))


def missing_command(code: int | None, stderr: str) -> bool:
    """Whether an exec/start failed because the command does not exist there."""
    text = stderr.lower()
    return code in (126, 127) or any(
        hint in text
        for hint in ("executable file not found", "not found in $path", "no such file or directory")
    )


class Supervisor:
    def __init__(
        self,
        manager: RuntimeManager,
        events: Events,
        *,
        wrapper: ServerSpec | None = None,
        spawn: Callable[[Coroutine[Any, Any, Any]], Any] | None = None,
    ) -> None:
        self.manager = manager
        self.events = events
        self.wrapper = wrapper
        self.instances: dict[str, list[Instance]] = {}  # folder uri -> its servers, in order
        self.client_init: dict[str, Any] = {}
        self.client_initialized = False
        self.last_configuration: dict[str, Any] | None = None  # wrapper: replayed on restart
        self.stopping = False
        self._spawn = spawn or asyncio.ensure_future

    # ---------------------------------------------------------------- the directory

    @property
    def is_wrapper(self) -> bool:
        return self.wrapper is not None

    def all(self) -> list[Instance]:
        return [i for insts in self.instances.values() for i in insts]

    def of_folder(self, folder_uri: str) -> list[Instance]:
        return self.instances.get(folder_uri, [])

    def folder_of(self, uri: str) -> str | None:
        st = self.manager.folder_for(uri)
        return st.folder.uri if st else None

    def entries(self, folder_uri: str) -> list[ServerEntry]:
        return [i.entry() for i in self.of_folder(folder_uri)]

    def specs_for(self, folder_uri: str) -> list[ServerSpec]:
        if self.wrapper is not None:
            return [self.wrapper]
        st = self.manager.folders.get(folder_uri)
        return from_settings(st.settings.servers) if st else []

    # ---------------------------------------------------------------- which servers run

    async def sync_folders(self, deadline: float = INIT_TIMEOUT) -> None:
        """Start servers for folders that have none or whose `servers` setting changed (only
        the changed ones), stop those of removed folders and removed servers."""
        wanted = list(self.manager.folders)
        if self.wrapper is not None:
            wanted = wanted[:1]
        for uri in list(self.instances):
            if uri not in wanted:
                removed = self.instances.pop(uri)
                self.events.servers_changed()
                for inst in removed:
                    await self._stop(inst, "its folder was removed")
        jobs: list[Coroutine[Any, Any, None]] = []
        for uri in wanted:
            folder = self.manager.folders[uri].folder
            specs = self.specs_for(uri)
            current = self.instances.get(uri, [])
            if [i.spec for i in current] == specs:
                continue
            # keep the servers whose spec is unchanged (specs hold dicts: compared, not hashed)
            keep: list[Instance] = []
            for inst in current:
                if inst.spec in specs and all(k.spec != inst.spec for k in keep):
                    keep.append(inst)
                else:
                    await self._stop(inst, "it was removed from the settings")
            ordered = []
            for index, spec in enumerate(specs):
                found = next((k for k in keep if k.spec == spec), None)
                inst = found if found is not None else Instance(spec=spec, folder=folder)
                if found is None:
                    jobs.append(self._start(inst))
                inst.priority = spec.priority if spec.priority is not None else index
                ordered.append(inst)
            ordered.sort(key=lambda i: i.priority)
            self.instances[uri] = ordered
            self.events.servers_changed()
        if jobs:
            try:
                async with asyncio.timeout(deadline):
                    await asyncio.gather(*jobs)
            except TimeoutError:
                log.warning("language servers still starting after %g s", deadline)

    async def runtime_changed(self) -> None:
        """Move a folder's servers when its runtime changed (container <-> host, another
        container). Open documents are replayed with their current text."""
        for uri, insts in list(self.instances.items()):
            st = self.manager.folders.get(uri)
            if st is None or st.status is None:
                continue
            want = container_of(st.status)
            for inst in insts:
                if inst.state == "stopped":
                    continue  # (a failed server placed elsewhere gets its chance there)
                if inst.placement is None or inst.container_id == want:
                    continue
                if inst.force_host and want is not None:
                    continue
                log.warning(
                    "[%s] runtime changed (%s -> %s): moving the server",
                    inst.name,
                    inst.mode,
                    "container" if want else "host",
                )
                await self.restart(inst, moving=True)

    async def restart(self, inst: Instance, *, moving: bool = False) -> None:
        """Replace the server's process (a move, or the user's restart: not a crash)."""
        old = inst.conn
        inst.state = "restarting"
        # ContentModified: the request may be asked again, of the replacing process
        what = "moved" if moving else "restarted"
        self.events.server_gone(inst, f"{inst.name} is being {what}", CONTENT_MODIFIED)
        if old is not None:
            old.on_exit = None
            await old.stop(graceful=True, timeout=2.0)
        if not moving:
            inst.restarts += 1
            inst.crashes.clear()
        inst.force_host = False if moving else inst.force_host
        await self._start(inst)

    async def restart_servers(
        self, folder_uri: str | None = None, server_id: str | None = None
    ) -> int:
        """Restart (or start again after giving up) the matching servers; how many."""
        targets = [
            i
            for uri, insts in self.instances.items()
            if folder_uri is None or uri == folder_uri
            for i in insts
            if server_id is None or i.spec.id == server_id
        ]
        await asyncio.gather(*(self.restart(i) for i in targets))
        return len(targets)

    # ---------------------------------------------------------------- start

    async def _start(self, inst: Instance) -> None:
        async with inst.start_lock:
            if inst.state == "stopped" or self.stopping:
                return
            await self._start_locked(inst)

    async def _start_locked(self, inst: Instance) -> None:
        inst.state = "starting" if inst.restarts == 0 else "restarting"
        st = self.manager.folders.get(inst.folder.uri)
        inst.placement = place(
            inst.spec,
            inst.folder,
            st.status if st else None,
            probe_timeout=st.settings.probe_timeout if st else 5.0,
            force_host=inst.force_host,
        )
        inst.new_generation()
        p = inst.placement
        conn = Connection(
            inst.name,
            p.argv,
            cwd=p.cwd,
            env=p.env,
            on_message=functools.partial(self.events.server_message, inst),
            on_exit=lambda code: self._on_exit(inst, conn, code),
            watchdog=p.watchdog,
            inner_pid=p.mode == "container",
        )
        inst.conn = conn
        try:
            await conn.start()
        except OSError as exc:
            self._failed(
                inst, "server-not-found", f"cannot start {p.argv[0]!r}: {exc.strerror or exc}"
            )
            return
        inst.init_params = self._initialize_params(inst)
        try:
            result = await conn.request("initialize", inst.init_params, INIT_TIMEOUT)
        except BackendError as exc:
            await conn.stop(graceful=False)
            tail = " | ".join(conn.stderr_tail[-3:])
            code = conn.proc.returncode if conn.proc else None
            if p.mode == "container" and missing_command(code, tail):
                await self._fall_back_to_host(inst, tail)
                return
            reason = "server-not-found" if missing_command(code, tail) else "server-crashed"
            self._failed(
                inst, reason, f"initialize failed: {exc}{' (' + tail + ')' if tail else ''}"
            )
            return
        inst.init_result = result if isinstance(result, dict) else {}
        caps = inst.init_result.get("capabilities")
        inst.capabilities = caps if isinstance(caps, dict) else {}
        if self.wrapper is not None and not self.client_initialized:
            # The wrapped server hears `initialized` when the editor says it, i.e. after the
            # editor has the initialize result, as the protocol has it.
            inst.awaiting_initialized = True
        else:
            self._after_initialized(inst, conn)
        inst.state = "running"
        if not inst.force_host:
            inst.reason, inst.message = None, None
        self.events.server_ready(inst)
        log.info("[%s] running (pid %s, %s)", inst.name, conn.pid, inst.mode)
        await self.manager.notify_servers_changed(inst.folder.uri)

    def _failed(self, inst: Instance, reason: str, message: str) -> None:
        inst.state, inst.reason, inst.message = "failed", reason, message
        log.error("[%s] %s", inst.name, message)
        self.events.server_failed(inst)

    def _after_initialized(self, inst: Instance, conn: Connection) -> None:
        conn.notify("initialized", {})
        if self.wrapper is None and inst.spec.settings is not None:
            conn.notify("workspace/didChangeConfiguration", {"settings": inst.spec.settings})
        elif self.wrapper is not None and self.last_configuration is not None:
            params = self.last_configuration
            if inst.to_server is not None:
                params = urimap.map_params(
                    "workspace/didChangeConfiguration",
                    "to_server",
                    json_copy(params),
                    inst.to_server,
                )
            conn.notify("workspace/didChangeConfiguration", params)

    async def _fall_back_to_host(self, inst: Instance, why: str) -> None:
        """The command is not in the container: run it on the host, if the host has it."""
        host_cmd = inst.spec.host_argv[0] if inst.spec.host_argv else ""
        if not shutil.which(host_cmd):
            self._failed(
                inst,
                "server-not-found",
                f"{inst.spec.container_argv[0]!r} is not in container {inst.container_id} "
                f"and {host_cmd!r} is not on the host PATH ({why})",
            )
            return
        log.warning("[%s] not in the container (%s): running it on the host", inst.name, why)
        inst.reason = "server-missing-in-container"
        inst.message = (
            f"{inst.spec.container_argv[0]!r} is not in container {inst.container_id}: "
            "running on the host instead"
        )
        inst.force_host = True
        await self._start_locked(inst)

    def _initialize_params(self, inst: Instance) -> dict[str, Any]:
        params: dict[str, Any] = json_copy(self.client_init)
        # On the host the server watches sero-ls (which watches the editor); a server in a
        # container cannot see host PIDs at all.
        params["processId"] = None if inst.mode == "container" else os.getpid()
        if not inst.spec.passthrough:
            folder = inst.folder
            params["rootUri"] = folder.uri
            params["rootPath"] = folder.path
            params["workspaceFolders"] = [{"uri": folder.uri, "name": folder.name}]
            params["initializationOptions"] = inst.spec.initialization_options
            general = (params.get("capabilities") or {}).get("general")
            if isinstance(general, dict):
                general.pop("positionEncodings", None)  # utf-16 end to end (the hub's store too)
        if inst.to_server is not None:
            params = urimap.map_params("initialize", "to_server", params, inst.to_server)
        return params

    # ---------------------------------------------------------------- the editor's lifecycle

    def initialized(self) -> None:
        """The editor sent `initialized`: pass it to servers that were waiting for it."""
        self.client_initialized = True
        for inst in self.all():
            if inst.awaiting_initialized and inst.conn is not None:
                inst.awaiting_initialized = False
                self._after_initialized(inst, inst.conn)

    def configuration_changed(self, params: Any) -> list[tuple[Instance, dict[str, Any]]]:
        """The didChangeConfiguration each server gets (wrapper: the editor's own, also
        replayed after a restart; hub: the server's `settings`)."""
        out = []
        if self.wrapper is not None:
            self.last_configuration = params
        for inst in self.all():
            if self.wrapper is not None:
                out.append(
                    (
                        inst,
                        {
                            "jsonrpc": "2.0",
                            "method": "workspace/didChangeConfiguration",
                            "params": params,
                        },
                    )
                )
            elif inst.spec.settings is not None:
                out.append(
                    (
                        inst,
                        {
                            "jsonrpc": "2.0",
                            "method": "workspace/didChangeConfiguration",
                            "params": {"settings": inst.spec.settings},
                        },
                    )
                )
        return out

    # ---------------------------------------------------------------- exits, restarts

    def _on_exit(self, inst: Instance, conn: Connection, code: int | None) -> None:
        """A server ended: settle what waits on it at once (the editor never waits), and
        restart it if it was running (a crash), with backoff."""
        if inst.conn is not conn:
            return  # an older process of this server
        was_running = inst.state == "running"
        tail = " | ".join(conn.stderr_tail[-3:])
        self.events.server_gone(inst, f"{inst.name} exited (status {code})")
        if not was_running or self.stopping:
            if inst.state not in ("starting", "restarting"):
                self.events.server_failed(inst)
            return
        inst.message = f"exited with status {code}" + (f": {tail}" if tail else "")
        inst.reason = "server-crashed"
        log.warning("[%s] crashed: %s", inst.name, inst.message)
        delay = inst.next_restart_delay()
        if delay is None:
            inst.state = "failed"
            inst.message += f"; gave up after {len(inst.crashes)} crashes in a short time"
            self.events.server_failed(inst)
        else:
            inst.state = "restarting"
            self._spawn(self._recover(inst, inst.generation, delay))
        self._spawn(self.manager.notify_servers_changed(inst.folder.uri))

    async def _recover(self, inst: Instance, generation: int, delay: float) -> None:
        """Restart a crashed server; in a container, look at the container first: when it
        stopped or vanished, the server moves (once) instead of crashing inside it again."""
        if inst.mode == "container":
            st = self.manager.folders.get(inst.folder.uri)
            timeout = (st.settings.probe_timeout if st else 5.0) * 2 + 1
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self.manager.refresh([inst.folder.uri], reload=False)
            if inst.generation != generation:
                return  # the runtime change moved it already
        await asyncio.sleep(delay)  # backoff between crash restarts
        if inst.generation != generation or inst.state != "restarting" or self.stopping:
            return
        inst.restarts += 1
        await self._start(inst)

    # ---------------------------------------------------------------- stop

    async def _stop(self, inst: Instance, why: str) -> None:
        log.info("[%s] stopping: %s", inst.name, why)
        inst.state = "stopped"
        self.events.server_gone(inst, f"{inst.name} stopped: {why}")
        if inst.conn is not None:
            inst.conn.on_exit = None
            await inst.conn.stop()

    async def shutdown(self) -> None:
        self.stopping = True
        await asyncio.gather(
            *(self._stop(i, "sero-ls is shutting down") for i in self.all()),
            return_exceptions=True,
        )
