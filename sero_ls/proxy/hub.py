"""The proxy: routes the editor's messages to language servers and back, losslessly.

Hub mode runs the servers of the `servers` setting per workspace folder and
routes by the document's folder and language; wrapper mode (`sero-ls proxy --
CMD`) is the same machinery with one server that takes every document and the
client's own initialize params. Forwarded messages stay raw dicts; only URI
fields are rewritten (through the meta-model table) when a server runs in a
container. Writes are synchronous, so per-server message order is kept.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import itertools
import json
import logging
import os
import shutil
from typing import TYPE_CHECKING, Any

import attrs

from sero_ls.lsp import framing
from sero_ls.proxy import capabilities as caps_mod
from sero_ls.proxy import urimap
from sero_ls.proxy.connection import TELL_PID, WATCHDOG, BackendError, Connection
from sero_ls.proxy.documents import DocumentError, DocumentStore
from sero_ls.proxy.instance import Instance
from sero_ls.proxy.pathmap import SCHEME, PathMapper, parse_container_uri
from sero_ls.proxy.spec import ServerSpec, from_settings, guess_language
from sero_ls.runtime.backends import make_backend
from sero_ls.runtime.model import ServerEntry

if TYPE_CHECKING:
    from sero_ls.lsp.server import SeroLanguageServer

log = logging.getLogger(__name__)

INIT_TIMEOUT = 30.0
# Requests without a document that go to every server, results merged.
FAN_OUT = {"workspace/symbol"}
# "resolve" requests go to the server that produced the item.
PRODUCER = {
    "completionItem/resolve": "textDocument/completion",
    "codeAction/resolve": "textDocument/codeAction",
    "codeLens/resolve": "textDocument/codeLens",
    "documentLink/resolve": "textDocument/documentLink",
    "inlayHint/resolve": "textDocument/inlayHint",
    "workspaceSymbol/resolve": "workspace/symbol",
}
PRODUCES = set(PRODUCER.values())


@attrs.define
class Pending:
    client_id: Any
    method: str
    inst: Instance
    fan: FanOut | None = None


@attrs.define
class FanOut:
    client_id: Any
    method: str
    waiting: int
    results: list[Any] = attrs.field(factory=list)
    errors: list[dict[str, Any]] = attrs.field(factory=list)


class Hub:
    def __init__(self, ls: SeroLanguageServer, *, wrapper: ServerSpec | None = None) -> None:
        self.ls = ls
        self.wrapper = wrapper
        self.docs = DocumentStore()
        self.instances: dict[str, list[Instance]] = {}  # folder uri -> its servers
        self.client_init: dict[str, Any] = {}
        self._pending: dict[tuple[str, Any], Pending] = {}
        self._server_requests: dict[str, tuple[Instance, Any, str]] = {}
        self._producer: dict[str, Instance] = {}
        self._ids = itertools.count(1)
        self.last_configuration: dict[str, Any] | None = None  # wrapper mode: replayed on restart
        self.client_initialized = False
        # uri -> (language, its servers); cleared whenever folders, servers or places change
        self._routes: dict[str, tuple[str | None, list[Instance]]] = {}

    # ================================================================ lifecycle

    def observe_initialize(self, params: dict[str, Any]) -> None:
        self.client_init = json_copy(params) if isinstance(params, dict) else {}

    def specs_for(self, folder_uri: str) -> list[ServerSpec]:
        if self.wrapper is not None:
            return [self.wrapper]
        st = self.ls.manager.folders.get(folder_uri)
        return from_settings(st.settings.servers) if st else []

    async def sync_folders(self, deadline: float = INIT_TIMEOUT) -> None:
        """Start servers for folders that have none, stop those of removed folders."""
        self._routes.clear()
        wanted = list(self.ls.manager.folders)
        if self.wrapper is not None:
            wanted = wanted[:1]
        for uri in list(self.instances):
            if uri not in wanted:
                for inst in self.instances.pop(uri):
                    await self._stop(inst)
        jobs = []
        for uri in wanted:
            folder = self.ls.manager.folders[uri].folder
            specs = self.specs_for(uri)
            current = self.instances.get(uri)
            if current is not None:
                if [i.spec for i in current] == specs:
                    continue
                # the `servers` setting changed: keep unchanged servers, replace the rest
                keep = [i for i in current if i.spec in specs]
                for inst in current:
                    if inst not in keep:
                        await self._stop(inst)
                kept_specs = [i.spec for i in keep]
                new = [Instance(spec=s, folder=folder) for s in specs if s not in kept_specs]
                self.instances[uri] = keep + new
                jobs += [self._start(i) for i in new]
                continue
            self.instances[uri] = [Instance(spec=s, folder=folder) for s in specs]
            jobs += [self._start(i) for i in self.instances[uri]]
        if jobs:
            try:
                async with asyncio.timeout(deadline):
                    await asyncio.gather(*jobs)
            except TimeoutError:
                log.warning("language servers still starting after %g s", deadline)

    async def status_changed(self) -> None:
        """Move a folder's servers when its runtime changed (container <-> host, another
        container). Open documents are replayed with their current text."""
        self._routes.clear()
        for uri, insts in list(self.instances.items()):
            st = self.ls.manager.folders.get(uri)
            if st is None or st.status is None:
                continue
            status = st.status
            want_container = status.mode == "container" and status.runtime.container is not None
            want_id = (
                status.runtime.container.id if want_container and status.runtime.container else None
            )
            for inst in insts:
                if inst.state == "stopped":
                    continue
                if inst.container_id == want_id or (inst.force_host and want_container):
                    continue
                if inst.mode == "host" and not want_container and inst.container_id is None:
                    continue
                log.warning(
                    "[%s] runtime changed (%s -> %s): moving the server",
                    inst.name, inst.mode, "container" if want_container else "host",
                )  # fmt: skip
                await self.restart(inst, reason_switch=True)

    async def restart(self, inst: Instance, *, reason_switch: bool = False) -> None:
        old = inst.conn
        inst.state = "restarting"
        inst.open_docs.clear()
        self._withdraw_registrations(inst)
        if old is not None:
            old.on_exit = None
            for key, p in list(self._pending.items()):
                if p.inst is inst:
                    del self._pending[key]
                    self._answer_error(p, framing.CONTENT_MODIFIED, f"{inst.name} is being moved")
            await old.stop(graceful=True, timeout=2.0)
        if not reason_switch:
            inst.restarts += 1
            inst.crashes.clear()
        inst.force_host = False if reason_switch else inst.force_host
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

    def _withdraw_registrations(self, inst: Instance) -> None:
        if not inst.registrations:
            return
        regs = [{"id": rid, "method": m} for rid, m in inst.registrations.items()]
        inst.registrations.clear()
        client_id = f"sero-fwd:{next(self._ids)}"
        self._to_client(
            {
                "jsonrpc": "2.0",
                "id": client_id,
                "method": "client/unregisterCapability",
                "params": {"unregisterations": regs},
            }
        )

    def all_instances(self) -> list[Instance]:
        return [i for insts in self.instances.values() for i in insts]

    def server_entries(self, folder_uri: str) -> list[ServerEntry]:
        return [i.entry() for i in self.instances.get(folder_uri, [])]

    def _placement(self, inst: Instance) -> tuple[list[str], dict[str, str], str | None]:
        """Where and how to run a server: exec in the folder's container, or on the host.

        Sets the instance's mode, container and URI mappers; returns (argv, env, cwd)."""
        self._routes.clear()
        spec = inst.spec
        st = self.ls.manager.folders.get(inst.folder.uri)
        status = st.status if st else None
        inst.to_server = inst.to_client = None
        inst.container_id = None
        host_cwd = inst.folder.path if os.path.isdir(inst.folder.path) else None
        if (
            status is not None
            and status.mode == "container"
            and status.runtime.container is not None
            and status.runtime.backend
            and status.runtime.cli
            and not inst.force_host
        ):
            backend = make_backend(
                status.runtime.backend, status.runtime.cli,
                st.settings.probe_timeout if st else 5.0, status.runtime.context,
            )  # fmt: skip
            cid = status.runtime.container.id
            mapper = PathMapper(cid, status.runtime.mounts)
            cwd = mapper.host_to_container_path(inst.folder.path)
            inst.mode, inst.container_id = "container", cid
            inst.to_server, inst.to_client = mapper.to_container, mapper.to_host
            inst.backend = backend
            user, env = status.runtime.container.exec_user, status.runtime.container.exec_env
            argv = backend.exec_argv(
                cid, [*TELL_PID, *spec.container_argv], cwd=cwd, env={**env, **spec.env}, user=user
            )
            inst.watchdog = lambda pid: backend.exec_argv(cid, [*WATCHDOG, str(pid)], user=user)
            return argv, dict(os.environ), host_cwd
        inst.mode = "host"
        inst.backend = None
        inst.watchdog = lambda pid: [*WATCHDOG, str(pid)]
        return list(spec.host_argv), {**os.environ, **spec.env}, host_cwd

    async def _start(self, inst: Instance) -> None:
        inst.state = "starting" if inst.restarts == 0 else "restarting"
        argv, env, cwd = self._placement(inst)
        conn = Connection(
            inst.name,
            argv,
            cwd=cwd,
            env=env,
            on_message=functools.partial(self._from_server, inst),
            on_exit=functools.partial(self._on_exit, inst),
            watchdog=inst.watchdog,
            inner_pid=inst.mode == "container",
        )
        inst.conn = conn
        try:
            await conn.start()
        except OSError as exc:
            inst.state, inst.reason = "failed", "server-not-found"
            inst.message = f"cannot start {argv[0]!r}: {exc.strerror or exc}"
            log.error("[%s] %s", inst.name, inst.message)
            self._fail_queue(inst)
            return
        inst.init_params = self._initialize_params(inst)
        try:
            result = await conn.request("initialize", inst.init_params, INIT_TIMEOUT)
        except BackendError as exc:
            await conn.stop(graceful=False)
            tail = " | ".join(conn.stderr_tail[-3:])
            code = conn.proc.returncode if conn.proc else None
            if inst.mode == "container" and missing_command(code, tail):
                await self._fall_back_to_host(inst, tail)
                return
            inst.state, inst.reason = "failed", "server-crashed"
            if inst.mode == "host" and missing_command(code, tail):
                inst.reason = "server-not-found"
            inst.message = f"initialize failed: {exc}{' (' + tail + ')' if tail else ''}"
            log.error("[%s] %s", inst.name, inst.message)
            self._fail_queue(inst)
            return
        inst.init_result = result if isinstance(result, dict) else {}
        caps = inst.init_result.get("capabilities")
        inst.capabilities = caps if isinstance(caps, dict) else {}
        if self.wrapper is not None and not self.client_initialized:
            # The wrapped server hears `initialized` when the editor says it (also_local),
            # i.e. after the editor has the initialize result, as the protocol has it.
            inst.awaiting_initialized = True
        else:
            self._after_initialized(inst, conn)
        if not inst.force_host:
            inst.state, inst.reason, inst.message = "running", None, None
        else:
            inst.state = "running"
        for doc in self.docs:
            if self._serves(inst, doc.uri):
                self._open_in(inst, doc.uri)
        inst.flush()
        log.info("[%s] running (pid %s)", inst.name, conn.pid)
        await self.ls.manager.notify_servers_changed(inst.folder.uri)

    def _after_initialized(self, inst: Instance, conn: Connection) -> None:
        conn.notify("initialized", {})
        if self.wrapper is None and inst.spec.settings is not None:
            conn.notify("workspace/didChangeConfiguration", {"settings": inst.spec.settings})
        elif self.wrapper is not None and self.last_configuration is not None:
            self._send(inst, self.last_configuration)

    async def _fall_back_to_host(self, inst: Instance, why: str) -> None:
        """The command is not in the container: run it on the host, if the host has it."""
        host_cmd = inst.spec.host_argv[0] if inst.spec.host_argv else ""
        if not shutil.which(host_cmd):
            inst.state, inst.reason = "failed", "server-not-found"
            inst.message = (
                f"{inst.spec.container_argv[0]!r} is not in container {inst.container_id} "
                f"and {host_cmd!r} is not on the host PATH ({why})"
            )
            log.error("[%s] %s", inst.name, inst.message)
            self._fail_queue(inst)
            return
        log.warning("[%s] not in the container (%s): running it on the host", inst.name, why)
        inst.force_host = True
        inst.reason = "server-missing-in-container"
        inst.message = (
            f"{inst.spec.container_argv[0]!r} is not in container {inst.container_id}: "
            "running on the host instead"
        )
        await self._start(inst)

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

    def _on_exit(self, inst: Instance, code: int | None) -> None:
        """A server ended: fail its in-flight requests at once (the editor never waits),
        and restart it if it was running (crash), with backoff."""
        for key, p in list(self._pending.items()):
            if p.inst is inst:
                del self._pending[key]
                self._answer_error(p, framing.INTERNAL_ERROR, f"{inst.name} exited (status {code})")
        for cid, (owner, _, _) in list(self._server_requests.items()):
            if owner is inst:
                del self._server_requests[cid]
        if inst.state == "running" and not self.ls.protocol._shutdown:
            if inst.mode == "container":
                self.ls.manager.wake()  # perhaps the container went away: look now
            tail = " | ".join(inst.conn.stderr_tail[-3:]) if inst.conn else ""
            inst.message = f"exited with status {code}" + (f": {tail}" if tail else "")
            inst.reason = "server-crashed"
            log.warning("[%s] crashed: %s", inst.name, inst.message)
            self._withdraw_registrations(inst)
            inst.open_docs.clear()
            delay = inst.next_restart_delay()
            if delay is None:
                inst.state = "failed"
                inst.message += f"; gave up after {len(inst.crashes)} crashes in a short time"
                self._fail_queue(inst)
            else:
                inst.state = "restarting"
                self.ls.spawn(self._restart_after(inst, delay))
            self.ls.spawn(self.ls.manager.notify_servers_changed(inst.folder.uri))
            return
        self._fail_queue(inst)

    async def _restart_after(self, inst: Instance, delay: float) -> None:
        await asyncio.sleep(delay)  # backoff between crash restarts
        if inst.state != "restarting" or self.ls.protocol._shutdown:
            return
        inst.restarts += 1
        await self._start(inst)

    def _fail_queue(self, inst: Instance) -> None:
        queued, inst.queue = inst.queue, []
        for msg in queued:
            if "id" in msg and "method" in msg:
                self._reply_error(msg["id"], f"{inst.name} is not running: {inst.message}")

    async def _stop(self, inst: Instance) -> None:
        inst.state = "stopped"
        if inst.conn is not None:
            await inst.conn.stop()

    def initialize_result(self, own: dict[str, Any]) -> dict[str, Any]:
        """The client's initialize result: sero-ls' own features plus the servers'."""
        sero = {"version": own.get("serverInfo", {}).get("version"), "mode": "hub"}
        running = [i for i in self.all_instances() if i.init_result is not None]
        if self.wrapper is not None:
            if not running:
                own.setdefault("capabilities", {}).setdefault("experimental", {})["sero"] = sero
                return own
            result = copy.deepcopy(running[0].init_result or {})
            result.setdefault("capabilities", {})
            ws = result["capabilities"].setdefault("workspace", {})
            if isinstance(ws, dict) and running[0].mode == "container":
                ws.setdefault("textDocumentContent", {"schemes": [SCHEME]})
            exp = result["capabilities"].setdefault("experimental", {})
            if isinstance(exp, dict):
                exp["sero"] = {**sero, "mode": "proxy"}
            return result
        own_caps = own.get("capabilities") or {}
        commands = (own_caps.get("executeCommandProvider") or {}).get("commands") or []
        merged = caps_mod.merge([i.capabilities for i in running], commands)
        for key, value in own_caps.items():
            merged.setdefault(key, value)
        # LSP 3.18: the client asks sero-ls for the text of container-only files.
        merged.setdefault("workspace", {})["textDocumentContent"] = {"schemes": [SCHEME]}
        merged.setdefault("experimental", {})
        if isinstance(merged["experimental"], dict):
            merged["experimental"]["sero"] = sero
        return {**own, "capabilities": merged}

    async def shutdown(self) -> None:
        await asyncio.gather(*(self._stop(i) for i in self.all_instances()), return_exceptions=True)

    # ================================================================ routing helpers

    def _language(self, uri: str) -> str | None:
        doc = self.docs.get(uri)
        return doc.language_id if doc else guess_language(uri)

    def _serves(self, inst: Instance, uri: str) -> bool:
        container = parse_container_uri(uri)
        if container is not None:
            return inst.container_id == container[0] and (
                self.wrapper is not None or inst.spec.handles(self._language(uri))
            )
        if self.wrapper is not None:
            return True
        st = self.ls.manager.folder_for(uri)
        return (
            st is not None
            and st.folder.uri == inst.folder.uri
            and inst.spec.handles(self._language(uri))
        )

    def instances_for(self, uri: str) -> list[Instance]:
        """The servers for a document (cached: the hot path of every forwarded message)."""
        lang = self._language(uri)
        hit = self._routes.get(uri)
        if hit is not None and hit[0] == lang:
            return hit[1]
        found = self._instances_for(uri, lang)
        if len(self._routes) > 10_000:
            self._routes.clear()
        self._routes[uri] = (lang, found)
        return found

    def _instances_for(self, uri: str, lang: str | None) -> list[Instance]:
        if uri.startswith(SCHEME + ":"):  # a container-only file: back to its container
            return [i for i in self.all_instances() if self._serves(i, uri)]
        if self.wrapper is not None:
            return self.all_instances()
        st = self.ls.manager.folder_for(uri)
        if st is None:
            return []
        return [i for i in self.instances.get(st.folder.uri, []) if i.spec.handles(lang)]

    def _open_in(self, inst: Instance, uri: str) -> None:
        params = self.docs.did_open_params(uri)
        self._send(inst, {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": params})
        inst.open_docs.add(uri)

    def _send(self, inst: Instance, msg: dict[str, Any]) -> bool:
        if inst.to_server is not None:
            msg = copy.deepcopy(msg) if "method" in msg else msg
            method = msg.get("method")
            if method:
                msg["params"] = urimap.map_params(
                    method, "to_server", msg.get("params"), inst.to_server
                )
        if inst.running:
            assert inst.conn is not None
            raw = self.ls.protocol.raw_body
            if inst.to_server is None and raw is not None and raw[0] is msg:
                return inst.conn.send_raw_body(raw[1])  # unchanged: the client's own bytes
            return inst.conn.send(msg)
        return inst.send(msg)

    def _to_client(self, msg: dict[str, Any]) -> None:
        self.ls.protocol.send_raw(msg)

    def _to_client_as_received(self, inst: Instance, msg: dict[str, Any]) -> None:
        """An unchanged message from a server: its own bytes, not a re-encoding."""
        raw = inst.conn.raw_body if inst.conn is not None else None
        if raw is not None and raw[0] is msg:
            self.ls.protocol.send_raw_body(raw[1])
        else:
            self._to_client(msg)

    def _reply_error(self, client_id: Any, text: str, code: int = framing.INTERNAL_ERROR) -> None:
        self._to_client(framing.error_response(client_id, code, text))

    def _answer_error(self, p: Pending, code: int, text: str) -> None:
        if p.fan is not None:
            self._fan_done(p.fan, None, {"code": code, "message": text})
        else:
            self._reply_error(p.client_id, text, code)

    # ================================================================ client -> servers

    def owns_response(self, msg_id: Any) -> bool:
        return isinstance(msg_id, str) and msg_id in self._server_requests

    def from_client(self, msg: dict[str, Any]) -> bool:
        method = msg.get("method")
        if method is None:
            return self._client_response(msg)
        params = msg.get("params")
        if "id" in msg:
            return self._client_request(msg, method, params)
        self._client_notification(msg, method, params)
        return True

    def _client_response(self, msg: dict[str, Any]) -> bool:
        msg_id = msg.get("id")
        entry = self._server_requests.pop(msg_id, None) if isinstance(msg_id, str) else None
        if entry is None:
            return False
        inst, backend_id, method = entry
        out = dict(msg)
        out["id"] = backend_id
        if "result" in out and inst.to_server is not None:
            out["result"] = urimap.map_result(method, "to_server", out["result"], inst.to_server)
        if inst.running:
            assert inst.conn is not None
            inst.conn.send(out)
        return True

    def _client_request(self, msg: dict[str, Any], method: str, params: Any) -> bool:
        msg_id = msg["id"]
        if method == "workspace/textDocumentContent" and str(document_uri(params)).startswith(
            SCHEME + ":"
        ):
            return False  # sero-ls serves container-only files itself
        if method == "workspace/executeCommand":
            command = params.get("command") if isinstance(params, dict) else None
            owner = self._command_owner(command)
            if owner is None:
                return False  # sero's own commands, or "not defined" from pygls
            return self._forward(owner, msg, method)
        if method in FAN_OUT:
            targets = [i for i in self.all_instances() if caps_mod.supports(i.capabilities, method)]
            if not targets:
                self._to_client({"jsonrpc": "2.0", "id": msg_id, "result": []})
                return True
            fan = FanOut(msg_id, method, len(targets))
            for inst in targets:
                self._forward(inst, msg, method, fan)
            return True
        if method in PRODUCER:
            producer = self._producer.get(PRODUCER[method])
            if producer is None or not producer.running:
                self._reply_error(msg_id, f"no language server can resolve this ({method})")
                return True
            return self._forward(producer, msg, method)
        uri = document_uri(params)
        if uri is None:
            if method.startswith("sero/"):
                return False
            candidates = self.all_instances()
            if self.wrapper is None:  # a server-specific request: only one server can mean it
                candidates = [i for i in candidates if i.running]
            if len(candidates) == 1:
                return self._forward(candidates[0], msg, method)
            return False  # no document: sero-ls answers (or MethodNotFound)
        candidates = self.instances_for(uri)
        if method == "textDocument/codeAction" and not candidates:
            return False  # sero's own quick fixes on its diagnostics
        for inst in candidates:
            if inst.state in ("running", "starting", "restarting") and caps_mod.supports(
                inst.capabilities if inst.running else {}, method
            ):
                return self._forward(inst, msg, method)
        if candidates:
            failed = [f"{i.name}: {i.message}" for i in candidates if i.state == "failed"]
            if failed and not any(i.running for i in candidates):
                self._reply_error(msg_id, "language server not running: " + "; ".join(failed))
                return True
        if method.startswith("textDocument/") or method in caps_mod.METHOD_CAPABILITY:
            self._to_client({"jsonrpc": "2.0", "id": msg_id, "result": None})
            return True
        return False

    def _forward(
        self, inst: Instance, msg: dict[str, Any], method: str, fan: FanOut | None = None
    ) -> bool:
        p = Pending(msg["id"], method, inst, fan)
        self._pending[(inst.key, msg["id"])] = p
        if not self._send(inst, msg):
            self._pending.pop((inst.key, msg["id"]), None)
            self._answer_error(
                p, framing.INTERNAL_ERROR, f"{inst.name} is not running: {inst.message}"
            )
        return True

    def _command_owner(self, command: Any) -> Instance | None:
        if not isinstance(command, str) or command.startswith("sero."):
            return None
        for inst in self.all_instances():
            provider = inst.capabilities.get("executeCommandProvider") or {}
            if command in (provider.get("commands") or []):
                return inst
            if command in inst.registrations.values():
                return inst
        return None

    def _client_notification(self, msg: dict[str, Any], method: str, params: Any) -> None:
        if method == "$/cancelRequest":
            target = params.get("id") if isinstance(params, dict) else None
            for (_, cid), p in list(self._pending.items()):
                if cid == target:
                    self._send(p.inst, msg)
            return
        if method == "textDocument/didOpen":
            try:
                doc = self.docs.open(params)
            except DocumentError as exc:
                log.warning("bad didOpen: %s", exc)
                return
            for inst in self.instances_for(doc.uri):
                inst.open_docs.add(doc.uri)
                self._send(inst, msg)
            return
        if method == "textDocument/didChange":
            self._did_change(msg, params)
            return
        if method == "textDocument/didClose":
            uri = document_uri(params)
            targets = self.instances_for(uri) if uri else []
            try:
                self.docs.close(params)
            except DocumentError as exc:
                log.warning("bad didClose: %s", exc)
            for inst in targets:
                if uri in inst.open_docs:
                    inst.open_docs.discard(uri)
                    self._send(inst, msg)
            return
        if method == "workspace/didChangeWatchedFiles":
            self._watched_files(msg, params)
            return
        uri = document_uri(params)
        targets = self.instances_for(uri) if uri else self.all_instances()
        for inst in targets:
            self._send(inst, msg)

    def _did_change(self, msg: dict[str, Any], params: Any) -> None:
        try:
            doc = self.docs.change(params)
        except DocumentError as exc:
            log.warning("bad didChange (%s): the servers get the full text", exc)
            uri = document_uri(params)
            known = self.docs.get(uri) if uri else None
            if known is None:
                return
            doc, msg = known, self._full_change(known.uri)
        full: dict[str, Any] | None = None
        for inst in self.instances_for(doc.uri):
            if doc.uri not in inst.open_docs:
                continue
            kind = caps_mod.sync_kind(inst.capabilities) if inst.running else caps_mod.INCREMENTAL
            if kind == caps_mod.INCREMENTAL or self.wrapper is not None:
                self._send(inst, msg)
            elif kind == caps_mod.FULL:
                full = full or self._full_change(doc.uri)
                self._send(inst, full)

    def _full_change(self, uri: str) -> dict[str, Any]:
        doc = self.docs.get(uri)
        assert doc is not None
        return {
            "jsonrpc": "2.0",
            "method": "textDocument/didChange",
            "params": {
                "textDocument": {"uri": uri, "version": doc.version},
                "contentChanges": [{"text": doc.text}],
            },
        }

    def _watched_files(self, msg: dict[str, Any], params: Any) -> None:
        changes = params.get("changes") if isinstance(params, dict) else None
        if not isinstance(changes, list):
            return
        by_inst: dict[int, tuple[Instance, list[Any]]] = {}
        for change in changes:
            uri = change.get("uri") if isinstance(change, dict) else None
            if not isinstance(uri, str):
                continue
            st = self.ls.manager.folder_for(uri)
            targets = (
                self.all_instances()
                if self.wrapper is not None
                else self.instances.get(st.folder.uri, [])
                if st
                else []
            )
            for inst in targets:
                by_inst.setdefault(id(inst), (inst, []))[1].append(change)
        for inst, subset in by_inst.values():
            self._send(inst, {**msg, "params": {**params, "changes": subset}})

    def also_local(self, msg: dict[str, Any]) -> None:
        """Notifications sero-ls handles that the servers need as well."""
        method = msg.get("method")
        params = msg.get("params")
        if method == "initialized":
            self.client_initialized = True
            for inst in self.all_instances():
                if inst.awaiting_initialized and inst.conn is not None:
                    inst.awaiting_initialized = False
                    self._after_initialized(inst, inst.conn)
        elif method == "workspace/didChangeConfiguration":
            self.configuration_changed(params)
        elif method == "workspace/didChangeWorkspaceFolders":
            if self.wrapper is not None:  # the wrapped server sees the editor's folders
                for inst in self.all_instances():
                    self._send(inst, msg)
        else:  # $/setTrace, window/workDoneProgress/cancel: the servers' business too
            for inst in self.all_instances():
                self._send(inst, msg)

    def configuration_changed(self, params: Any) -> None:
        if self.wrapper is not None:
            self.last_configuration = {
                "jsonrpc": "2.0",
                "method": "workspace/didChangeConfiguration",
                "params": params,
            }
        for inst in self.all_instances():
            if self.wrapper is not None:
                self._send(
                    inst,
                    {
                        "jsonrpc": "2.0",
                        "method": "workspace/didChangeConfiguration",
                        "params": params,
                    },
                )
            elif inst.spec.settings is not None:
                self._send(
                    inst,
                    {
                        "jsonrpc": "2.0",
                        "method": "workspace/didChangeConfiguration",
                        "params": {"settings": inst.spec.settings},
                    },
                )

    # ================================================================ servers -> client

    def _from_server(self, inst: Instance, msg: dict[str, Any]) -> None:
        method = msg.get("method")
        if method is None:
            self._server_response(inst, msg)
        elif "id" in msg:
            self._server_request(inst, msg, method)
        elif method == "$/cancelRequest":
            self._server_cancel(inst, msg)
        elif inst.to_client is None:
            self._to_client_as_received(inst, msg)
        else:
            msg["params"] = urimap.map_params(
                method, "to_client", msg.get("params"), inst.to_client
            )
            self._to_client(msg)

    def _server_cancel(self, inst: Instance, msg: dict[str, Any]) -> None:
        """A server cancels one of its requests: name it by the id the client knows."""
        params = msg.get("params")
        target = params.get("id") if isinstance(params, dict) else None
        for client_id, (owner, backend_id, _) in self._server_requests.items():
            if owner is inst and backend_id == target:
                self._to_client({**msg, "params": {**params, "id": client_id}})  # type: ignore[dict-item]
                return
        log.info("[%s] cancel of an unknown or answered request %r dropped", inst.name, target)

    def _server_response(self, inst: Instance, msg: dict[str, Any]) -> None:
        p = self._pending.pop((inst.key, msg.get("id")), None)
        if p is None:
            log.warning("[%s] response to unknown request %r dropped", inst.name, msg.get("id"))
            return
        if "result" in msg and inst.to_client is not None:
            msg["result"] = urimap.map_result(p.method, "to_client", msg["result"], inst.to_client)
        if p.method in PRODUCES:
            self._producer[p.method] = inst
        if p.fan is not None:
            self._fan_done(p.fan, msg.get("result"), msg.get("error"))
            return
        if inst.to_client is None and msg.get("id") == p.client_id:
            self._to_client_as_received(inst, msg)
            return
        msg["id"] = p.client_id
        self._to_client(msg)

    def _fan_done(self, fan: FanOut, result: Any, error: dict[str, Any] | None) -> None:
        fan.waiting -= 1
        if error is not None:
            fan.errors.append(error)
        elif isinstance(result, list):
            fan.results.extend(result)
        if fan.waiting > 0:
            return
        if fan.results or not fan.errors:
            self._to_client({"jsonrpc": "2.0", "id": fan.client_id, "result": fan.results})
        else:
            self._to_client({"jsonrpc": "2.0", "id": fan.client_id, "error": fan.errors[0]})

    def _server_request(self, inst: Instance, msg: dict[str, Any], method: str) -> None:
        params = msg.get("params")
        if method == "workspace/workspaceFolders" and self.wrapper is None:
            folder = {"uri": inst.folder.uri, "name": inst.folder.name}
            result = (
                urimap.map_result(method, "to_server", [folder], inst.to_server)
                if inst.to_server
                else [folder]
            )
            assert inst.conn is not None
            inst.conn.send({"jsonrpc": "2.0", "id": msg["id"], "result": result})
            return
        if (
            method == "workspace/configuration"
            and self.wrapper is None
            and inst.spec.settings is not None
        ):
            items = params.get("items") if isinstance(params, dict) else None
            answer = [
                section_of(inst.spec.settings, (it or {}).get("section")) for it in items or []
            ]
            assert inst.conn is not None
            inst.conn.send({"jsonrpc": "2.0", "id": msg["id"], "result": answer})
            return
        if method in ("client/registerCapability", "client/unregisterCapability"):
            params = self._rewrite_registrations(inst, method, params)
        elif inst.to_client is not None:
            params = urimap.map_params(method, "to_client", params, inst.to_client)
        client_id = f"sero-fwd:{next(self._ids)}"
        self._server_requests[client_id] = (inst, msg["id"], method)
        self._to_client({"jsonrpc": "2.0", "id": client_id, "method": method, "params": params})

    def _rewrite_registrations(self, inst: Instance, method: str, params: Any) -> Any:
        """Registration ids unique per server; in the hub, scoped to the server's folder."""
        if not isinstance(params, dict):
            return params
        if inst.to_client is not None and method == "client/registerCapability":
            params = urimap.map_params(method, "to_client", params, inst.to_client)
        key = "registrations" if method == "client/registerCapability" else "unregisterations"
        for reg in params.get(key) or []:
            if not isinstance(reg, dict):
                continue
            reg["id"] = f"{inst.key}|{reg.get('id')}"
            if method == "client/registerCapability":
                inst.registrations[reg["id"]] = str(reg.get("method"))
                if self.wrapper is None:
                    scope_registration(reg, inst)
            else:
                inst.registrations.pop(reg["id"], None)
        return params


def scope_registration(reg: dict[str, Any], inst: Instance) -> None:
    """Give a registration's document selector the server's folder and languages."""
    options = reg.get("registerOptions")
    if not isinstance(options, dict) or "documentSelector" not in options:
        return
    pattern = inst.folder.path.rstrip("/") + "/**"
    selector = options.get("documentSelector")
    if selector is None:
        langs: list[str | None] = [lang for lang in inst.spec.languages if lang != "*"] or [None]
        options["documentSelector"] = [
            {k: v for k, v in (("language", lang), ("scheme", "file"), ("pattern", pattern)) if v}
            for lang in langs
        ]
        return
    if isinstance(selector, list):
        for f in selector:
            if isinstance(f, dict) and "notebook" not in f and "pattern" not in f:
                f["pattern"] = pattern


def json_copy(value: Any) -> Any:
    """A deep copy of decoded JSON, as deep as the decoder took it: ``copy.deepcopy`` needs
    two stack frames per level and raised RecursionError at half the depth (a client's
    initialize params nested 500 deep ended sero-ls)."""
    return json.loads(json.dumps(value))


def section_of(settings: Any, section: Any) -> Any:
    if not section or not isinstance(section, str):
        return settings
    value = settings
    for part in section.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def document_uri(params: Any) -> str | None:
    """The document a request or notification is about, where it names one."""
    if not isinstance(params, dict):
        return None
    for holder in (params.get("textDocument"), params.get("item"), params):
        if isinstance(holder, dict):
            uri = holder.get("uri")
            if isinstance(uri, str):
                return uri
    return None


def missing_command(code: int | None, stderr: str) -> bool:
    """Whether an exec/start failed because the command does not exist there."""
    text = stderr.lower()
    return code in (126, 127) or any(
        hint in text
        for hint in ("executable file not found", "not found in $path", "no such file or directory")
    )
