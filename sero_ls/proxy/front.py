"""The proxy as sero-ls' protocol layer sees it: the router and the supervisor, composed.

``lsp/protocol.py`` hands every message it does not answer itself to ``Proxy`` (the
``Router`` protocol there); ``Proxy`` passes it to the router, and lifecycle notifications
(``initialized``, configuration, folders) to the supervisor as well.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Coroutine
from typing import Any

from sero_ls.lsp.framing import INTERNAL_ERROR
from sero_ls.proxy import advertise
from sero_ls.proxy.instance import Instance
from sero_ls.proxy.pathmap import SCHEME
from sero_ls.proxy.router import ClientPort, Router
from sero_ls.proxy.spec import ServerSpec
from sero_ls.proxy.supervisor import Supervisor, json_copy
from sero_ls.runtime.manager import RuntimeManager
from sero_ls.runtime.model import ServerEntry


class Proxy:
    def __init__(
        self,
        manager: RuntimeManager,
        client: ClientPort,
        *,
        wrapper: ServerSpec | None = None,
        spawn: Callable[[Coroutine[Any, Any, Any]], Any] | None = None,
    ) -> None:
        self.wrapper = wrapper
        self.supervisor = Supervisor(manager, self, wrapper=wrapper, spawn=spawn)
        self.router = Router(client, self.supervisor)
        self.forward_plain = self.router.forward_plain  # the hot path: no layer between

    # ---- supervisor -> router (the Events protocol)

    def server_message(self, inst: Instance, msg: dict[str, Any], body: bytes | None) -> None:
        self.router.server_message(inst, msg, body)

    def server_ready(self, inst: Instance) -> None:
        self.router.server_ready(inst)

    def server_gone(self, inst: Instance, why: str, code: int = INTERNAL_ERROR) -> None:
        self.router.server_gone(inst, why, code)

    def server_failed(self, inst: Instance) -> None:
        self.router.server_failed(inst)

    def servers_changed(self) -> None:
        self.router.routes_changed()

    # ---- what the protocol layer asks (lsp.protocol.Router)

    def observe_initialize(self, params: Any) -> None:
        self.supervisor.client_init = json_copy(params) if isinstance(params, dict) else {}
        self.router.observe_initialize(params)

    @property
    def client_init(self) -> dict[str, Any]:
        return self.supervisor.client_init

    def owns_response(self, msg_id: Any) -> bool:
        return self.router.owns_response(msg_id)

    def from_client(self, msg: dict[str, Any], body: bytes | None = None) -> bool:
        return self.router.from_client(msg, body)

    def also_local(self, msg: dict[str, Any]) -> None:
        """Notifications sero-ls handles that the servers need as well."""
        method = msg.get("method")
        if method == "initialized":
            self.supervisor.initialized()
        elif method == "workspace/didChangeConfiguration":
            for inst, out in self.supervisor.configuration_changed(msg.get("params")):
                self.router.to_servers(out, [inst])
        elif method == "workspace/didChangeWorkspaceFolders":
            if self.wrapper is not None:  # the wrapped server sees the editor's folders
                self.router.to_servers(msg)
        else:  # $/setTrace, window/workDoneProgress/cancel: the servers' business too
            self.router.to_servers(msg)

    def initialize_result(self, own: dict[str, Any]) -> dict[str, Any]:
        """The client's initialize result: the wrapped server's own (wrapper), or sero-ls'
        own features plus what the servers' merge policies deliver (hub)."""
        sero = {"version": own.get("serverInfo", {}).get("version"), "mode": "hub"}
        running = [i for i in self.supervisor.all() if i.init_result is not None]
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
        running.sort(key=lambda i: i.priority)
        merged = advertise.merge([i.capabilities for i in running], commands)
        for key, value in own_caps.items():
            merged.setdefault(key, value)
        # utf-16 end to end: the document store and the servers (which are not offered another)
        merged.pop("positionEncoding", None)
        # LSP 3.18: the client asks sero-ls for the text of container-only files.
        merged.setdefault("workspace", {})["textDocumentContent"] = {"schemes": [SCHEME]}
        merged.setdefault("experimental", {})
        if isinstance(merged["experimental"], dict):
            merged["experimental"]["sero"] = sero
        return {**own, "capabilities": merged}

    # ---- lifecycle, for the LSP layer

    async def sync_folders(self) -> None:
        self.router.routes_changed()
        await self.supervisor.sync_folders()
        self.router.routes_changed()

    async def runtime_changed(self) -> None:
        self.router.routes_changed()
        await self.supervisor.runtime_changed()

    async def restart_servers(
        self, folder_uri: str | None = None, server_id: str | None = None
    ) -> int:
        return await self.supervisor.restart_servers(folder_uri, server_id)

    async def shutdown(self) -> None:
        await self.supervisor.shutdown()

    def entries(self, folder_uri: str) -> list[ServerEntry]:
        return self.supervisor.entries(folder_uri)

    def all_instances(self) -> list[Instance]:
        return self.supervisor.all()

    def publish_own(self, uri: str, diagnostics: list[Any]) -> None:
        self.router.publish_own(uri, diagnostics)
