"""The router: the editor's messages to the language servers and theirs back, losslessly.

Messages stay the raw dicts they arrived as (and go out as the bytes they came as when
nothing about them changes); only URI-typed fields are rewritten, with the placement a
server has when the message is written to it (a message queued during a move is mapped
when it is flushed, for the new place). Per-server order is kept: writes are queued in order.

* Requests go out by policy (``policies``): one server, several with their answers merged,
  or the producer of the object being resolved. One in-flight table holds every forwarded
  request, and one path settles it (answer, error, server gone, time out).
* Diagnostics go through the ``DiagnosticsStore``: the editor always sees the union of the
  live servers' latest sets.
* In wrapper mode (one server, the editor's own config) every request reaches the server
  and its answers come back as they are: the router adds nothing.

The router knows its surroundings only through ``ClientPort`` (the editor) and
``Directory`` (the servers), so it runs in a unit test with fakes.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import logging
from typing import Any, Protocol

import attrs

from sero_ls import trace
from sero_ls.lsp import framing
from sero_ls.lsp.methods import LOCAL_METHODS, OWN_PREFIX
from sero_ls.proxy import advertise, policies, urimap
from sero_ls.proxy.diagstore import DiagnosticsStore
from sero_ls.proxy.documents import DocumentError, DocumentStore
from sero_ls.proxy.instance import Instance
from sero_ls.proxy.pathmap import SCHEME, parse_container_uri
from sero_ls.proxy.spec import guess_language

log = logging.getLogger(__name__)

# A server that has not answered its part of a merged request by then is left out.
GATHER_TIMEOUT = 15.0
SERO = "sero"  # sero-ls' own diagnostics, a producer like the servers
PUBLISH = "textDocument/publishDiagnostics"

# Notifications that keep a document in sync: never queued for a starting server, because
# the document store replays the current text when it becomes ready.
DOC_SYNC = {
    "textDocument/didOpen",
    "textDocument/didChange",
    "textDocument/didClose",
    "textDocument/didSave",
    "textDocument/willSave",
}

# Client notifications the hot path (forward_plain) leaves to the full path: sero-ls' own
# and those the router does more with than pass them on (see _client_notification).
NOT_PLAIN = LOCAL_METHODS | {
    "$/cancelRequest",
    "textDocument/didOpen",
    "textDocument/didChange",
    "textDocument/didClose",
    "workspace/didChangeWatchedFiles",
}
ROUTES_MAX = 10_000  # URIs whose routes are kept; more and the caches start over


class ClientPort(Protocol):
    """The editor's end of the connection."""

    def send(self, msg: dict[str, Any]) -> None: ...

    def send_body(self, body: bytes) -> None: ...


class Directory(Protocol):
    """The servers (kept by the supervisor), in priority order."""

    @property
    def is_wrapper(self) -> bool: ...

    def all(self) -> list[Instance]: ...

    def of_folder(self, folder_uri: str) -> list[Instance]: ...

    def folder_of(self, uri: str) -> str | None: ...


@attrs.define(eq=False)
class Gather:
    """One editor request answered by several servers."""

    client_id: Any
    method: str
    order: list[Instance]
    uri: str = ""
    answers: dict[str, Any] = attrs.field(factory=dict)  # inst.key -> result
    errors: list[dict[str, Any]] = attrs.field(factory=list)
    waiting: set[str] = attrs.field(factory=set)
    timer: asyncio.TimerHandle | None = None
    done: bool = False
    previous: Any = None  # pull diagnostics: the editor's previousResultId


@attrs.define(eq=False)
class Pending:
    client_id: Any
    method: str
    inst: Instance
    gather: Gather | None = None
    tagged: bool = False  # tag what comes back with its producer (several servers per folder)
    sent: bool = False  # written to the process (else still queued)


@attrs.define(eq=False)
class ServerRequest:
    """A request the editor is asked on a server's behalf (or sero-ls' own, inst None)."""

    inst: Instance | None
    backend_id: Any
    method: str


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


def section_of(settings: Any, section: Any) -> Any:
    if not section or not isinstance(section, str):
        return settings
    value = settings
    for part in section.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


class Router:
    def __init__(self, client: ClientPort, servers: Directory) -> None:
        self.client = client
        self.servers = servers
        self.docs = DocumentStore()
        self.diags = DiagnosticsStore(order=self._producer_order)
        self.inflight: dict[tuple[str, Any], Pending] = {}
        self.server_requests: dict[str, ServerRequest] = {}
        self.link_support = True
        # sero-ls' own diagnostics reach the editor (the hub; a wrapper only when asked)
        self.own_diagnostics = not servers.is_wrapper
        self._ids = itertools.count(1)
        self._routes: dict[str, tuple[str | None, list[Instance]]] = {}
        # URI (None: no document) -> the servers a plain notification about it goes to,
        # when each runs and takes the client's bytes as they are (forward_plain). Cleared
        # with _routes, and per URI when the document opens or closes (its language).
        self._plain: dict[str | None, list[Instance]] = {}
        self._tokens: dict[str, tuple[Instance, Any]] = {}  # hub token -> (server, its token)
        self._open_tokens: dict[str, set[str]] = {}  # inst.key -> hub tokens not ended
        self._partial: dict[str, tuple[Instance, str]] = {}  # client partial token -> server
        self._colors: dict[str, list[tuple[Any, Instance]]] = {}
        self._completions: dict[str, dict[str, Any]] = {}  # uri -> inst.key -> last answer
        self._pulls: dict[str, dict[str, tuple[Any, list[Any]]]] = {}  # uri -> key -> (id, items)

    @property
    def wrapper(self) -> bool:
        return self.servers.is_wrapper

    def observe_initialize(self, params: Any) -> None:
        caps = params.get("capabilities") if isinstance(params, dict) else None
        td = caps.get("textDocument") if isinstance(caps, dict) else None
        definition = td.get("definition") if isinstance(td, dict) else None
        self.link_support = bool(isinstance(definition, dict) and definition.get("linkSupport"))
        exp = caps.get("experimental") if isinstance(caps, dict) else None
        sero = exp.get("sero") if isinstance(exp, dict) else None
        if isinstance(sero, dict) and sero.get("statusNotifications"):
            self.own_diagnostics = True

    def routes_changed(self) -> None:
        self._routes.clear()
        self._plain.clear()

    # ================================================================ the servers' side

    def _producer_order(self, producer: str) -> tuple[int, str]:
        if producer == SERO:
            return (10**9, producer)
        for inst in self.servers.all():
            if inst.key == producer:
                return (inst.priority, producer)
        return (10**8, producer)

    def server_ready(self, inst: Instance) -> None:
        self.routes_changed()
        for doc in self.docs:
            if self._serves(inst, doc.uri):
                self._open_in(inst, doc.uri)
        queued, inst.queue = inst.queue, []
        for msg, body in queued:
            self._deliver(inst, msg, body)
            p = self.inflight.get((inst.key, msg.get("id"))) if "id" in msg else None
            if p is not None:
                p.sent = True

    def server_gone(self, inst: Instance, why: str, code: int = framing.INTERNAL_ERROR) -> None:
        """Settle what the process had: requests sent to it get error ``code`` (a merge goes
        on without it), its diagnostics, registrations and progress are withdrawn."""
        self.routes_changed()
        inst.open_docs.clear()
        for key, p in list(self.inflight.items()):
            if p.inst is inst and p.sent:
                del self.inflight[key]
                self._settle(p, error={"code": code, "message": why})
        for cid, req in list(self.server_requests.items()):
            if req.inst is inst:
                del self.server_requests[cid]
        for publish in self.diags.withdraw(inst.key):
            self._publish(publish)
        for uri in list(self._pulls):
            self._pulls[uri].pop(inst.key, None)
        self._withdraw_registrations(inst)
        for token in self._open_tokens.pop(inst.key, set()):
            self.client.send(
                {
                    "jsonrpc": "2.0",
                    "method": "$/progress",
                    "params": {"token": token, "value": {"kind": "end"}},
                }
            )
            self._tokens.pop(token, None)

    def server_failed(self, inst: Instance) -> None:
        """The server will not run: what waited for it, queued or not, is answered now."""
        error = not_running(inst)
        self.server_gone(inst, error["message"])
        queued, inst.queue = inst.queue, []
        for msg, _ in queued:
            key = (inst.key, msg.get("id"))
            p = self.inflight.pop(key, None) if "id" in msg else None
            if p is not None:
                self._settle(p, error=error)

    def _withdraw_registrations(self, inst: Instance) -> None:
        if not inst.registrations:
            return
        regs = [{"id": rid, "method": r.get("method")} for rid, r in inst.registrations.items()]
        inst.registrations.clear()
        self._ask_client(None, None, "client/unregisterCapability", {"unregisterations": regs})

    def server_message(self, inst: Instance, msg: dict[str, Any], body: bytes | None) -> None:
        method = msg.get("method")
        if method is None:
            self._server_response(inst, msg, body)
        elif "id" in msg:
            self._server_request(inst, msg, method)
        elif method == PUBLISH:
            self._server_diagnostics(inst, msg, body)
        elif method == "$/cancelRequest":
            self._server_cancel(inst, msg)
        elif method == "$/progress":
            self._server_progress(inst, msg, body)
        elif inst.to_client is None:
            self._to_client(msg, body)
        else:
            msg["params"] = urimap.map_params(
                method, "to_client", msg.get("params"), inst.to_client
            )
            self.client.send(msg)

    def _to_client(self, msg: dict[str, Any], body: bytes | None) -> None:
        """An unchanged message: its own bytes when it has them, else encoded."""
        if body is not None:
            self.client.send_body(body)
        else:
            self.client.send(msg)

    def _server_diagnostics(self, inst: Instance, msg: dict[str, Any], body: bytes | None) -> None:
        params = msg.get("params")
        if not isinstance(params, dict) or not isinstance(params.get("uri"), str):
            log.warning("[%s] publishDiagnostics without a uri dropped", inst.name)
            return
        if inst.spec.disabled(policies.feature_of(PUBLISH)):
            return
        mapped = inst.to_client is not None
        if mapped:
            params = urimap.map_params(PUBLISH, "to_client", params, inst.to_client)  # type: ignore[arg-type]
        uri = params["uri"]
        diags = params.get("diagnostics")
        alone = self.diags.only_producer(uri, inst.key)
        self.diags.set(uri, inst.key, diags if isinstance(diags, list) else [])
        if alone:  # side by side, this is the whole picture: send it as the server did
            if mapped:
                self.client.send({**msg, "params": params})
            else:
                self._to_client(msg, body)
            return
        self._publish(self.diags.merged(uri))

    def _publish(self, params: dict[str, Any]) -> None:
        self.client.send({"jsonrpc": "2.0", "method": PUBLISH, "params": params})

    def publish_own(self, uri: str, diagnostics: list[Any]) -> None:
        """sero-ls' own diagnostics for ``uri`` (runtime, settings, trust), merged with the
        servers'. A wrapper keeps them to itself unless the editor asked for them."""
        self.diags.set(uri, SERO, diagnostics)
        if self.own_diagnostics:
            self._publish(self.diags.merged(uri))

    def own_diagnostic_producer(self, uri: str, diagnostic: Any) -> bool:
        return self.diags.producer_of(uri, diagnostic) == SERO

    def _server_progress(self, inst: Instance, msg: dict[str, Any], body: bytes | None) -> None:
        params = msg.get("params")
        token = params.get("token") if isinstance(params, dict) else None
        if not self.wrapper and isinstance(params, dict):
            hub_token = self._hub_token(inst, token)
            if hub_token in self._tokens:
                value = params.get("value")
                if isinstance(value, dict) and value.get("kind") == "end":
                    self._open_tokens.get(inst.key, set()).discard(hub_token)
                self.client.send({**msg, "params": {**params, "token": hub_token}})
                return
        partial = self._partial.get(json.dumps(token)) if token is not None else None
        if partial is not None and partial[0] is inst and inst.to_client is not None:
            assert isinstance(params, dict)
            params["value"] = urimap.map_partial_result(
                partial[1], "to_client", params.get("value"), inst.to_client
            )
            self.client.send(msg)
            return
        if inst.to_client is None:
            self._to_client(msg, body)
        else:
            msg["params"] = urimap.map_params("$/progress", "to_client", params, inst.to_client)
            self.client.send(msg)

    def _hub_token(self, inst: Instance, token: Any) -> str:
        return f"{inst.tag}#{json.dumps(token)}"

    def _server_cancel(self, inst: Instance, msg: dict[str, Any]) -> None:
        """A server cancels one of its requests: name it by the id the client knows."""
        params = msg.get("params")
        target = params.get("id") if isinstance(params, dict) else None
        for client_id, req in self.server_requests.items():
            if req.inst is inst and req.backend_id == target:
                self.client.send({**msg, "params": {**params, "id": client_id}})  # type: ignore[dict-item]
                return
        log.info("[%s] cancel of an unknown or answered request %r dropped", inst.name, target)

    def _server_response(self, inst: Instance, msg: dict[str, Any], body: bytes | None) -> None:
        p = self.inflight.pop((inst.key, msg.get("id")), None)
        if p is None:
            log.warning("[%s] response to unknown request %r dropped", inst.name, msg.get("id"))
            return
        changed = False
        if "result" in msg and inst.to_client is not None:
            msg["result"] = urimap.map_result(p.method, "to_client", msg["result"], inst.to_client)
            changed = True
        if p.gather is not None:
            self._gather_part(p.gather, inst, msg.get("result"), msg.get("error"))
            return
        if p.tagged and "result" in msg:
            msg["result"] = self._tag_result(p.method, msg["result"], inst)
            changed = True
        if p.method == "textDocument/documentColor":
            self._remember_colors(inst, msg.get("result"), None)
        if not changed and msg.get("id") == p.client_id:
            self._to_client(msg, body)
            return
        msg["id"] = p.client_id
        self.client.send(msg)

    def _tag_result(self, method: str, result: Any, inst: Instance) -> Any:
        if method in policies.PRODUCER:  # a resolved object keeps its tag
            if isinstance(result, dict):
                return policies.tag(result, inst.tag)
            return result
        return policies.tag_single(method, result, inst.tag)

    def _server_request(self, inst: Instance, msg: dict[str, Any], method: str) -> None:
        params = msg.get("params")
        if method == "workspace/workspaceFolders" and not self.wrapper:
            folder = {"uri": inst.folder.uri, "name": inst.folder.name}
            result = (
                urimap.map_result(method, "to_server", [folder], inst.to_server)
                if inst.to_server
                else [folder]
            )
            self._answer_server(inst, msg["id"], result)
            return
        if (
            method == "workspace/configuration"
            and not self.wrapper
            and inst.spec.settings is not None
        ):
            items = params.get("items") if isinstance(params, dict) else None
            answer = [
                section_of(inst.spec.settings, (it or {}).get("section"))
                if isinstance(it, dict)
                else None
                for it in items or []
            ]
            self._answer_server(inst, msg["id"], answer)
            return
        if method in ("client/registerCapability", "client/unregisterCapability"):
            params = self._rewrite_registrations(inst, method, params)
        elif method == "window/workDoneProgress/create" and len(self.servers.all()) > 1:
            params = self._new_token(inst, params)
        elif inst.to_client is not None:
            params = urimap.map_params(method, "to_client", params, inst.to_client)
        self._ask_client(inst, msg["id"], method, params)

    def _answer_server(self, inst: Instance, msg_id: Any, result: Any) -> None:
        if inst.conn is not None:
            inst.conn.send({"jsonrpc": "2.0", "id": msg_id, "result": result})

    def _ask_client(self, inst: Instance | None, backend_id: Any, method: str, params: Any) -> None:
        client_id = f"sero-fwd:{next(self._ids)}"
        self.server_requests[client_id] = ServerRequest(inst, backend_id, method)
        self.client.send({"jsonrpc": "2.0", "id": client_id, "method": method, "params": params})

    def _new_token(self, inst: Instance, params: Any) -> Any:
        """Server-made progress tokens are unique per server only: the editor gets a token
        unique in the hub, mapped back on cancel and ended if the server goes."""
        if not isinstance(params, dict) or "token" not in params:
            return params
        hub_token = self._hub_token(inst, params["token"])
        self._tokens[hub_token] = (inst, params["token"])
        self._open_tokens.setdefault(inst.key, set()).add(hub_token)
        return {**params, "token": hub_token}

    def _rewrite_registrations(self, inst: Instance, method: str, params: Any) -> Any:
        """In the hub: registration ids unique per server, document selectors scoped to the
        server's folder. In a wrapper: as the server sent them (URIs mapped)."""
        if not isinstance(params, dict):
            return params
        if inst.to_client is not None and method == "client/registerCapability":
            params = urimap.map_params(method, "to_client", params, inst.to_client)
        key = "registrations" if method == "client/registerCapability" else "unregisterations"
        for reg in params.get(key) or []:
            if not isinstance(reg, dict):
                continue
            if not self.wrapper:
                reg["id"] = f"{inst.key}|{reg.get('id')}"
            if method == "client/registerCapability":
                inst.registrations[str(reg["id"])] = copy.deepcopy(reg)
                if not self.wrapper:
                    scope_registration(reg, inst)
            else:
                inst.registrations.pop(str(reg.get("id")), None)
        self.routes_changed()
        return params

    # ================================================================ the editor's side

    def owns_response(self, msg_id: Any) -> bool:
        return isinstance(msg_id, str) and msg_id in self.server_requests

    def from_client(self, msg: dict[str, Any], body: bytes | None = None) -> bool:
        """Take one editor message; False when sero-ls itself must answer it."""
        method = msg.get("method")
        if method is None:
            return self._client_response(msg)
        params = msg.get("params")
        if "id" in msg:
            return self._client_request(msg, method, params, body)
        self._client_notification(msg, method, params, body)
        return True

    def forward_plain(self, msg: dict[str, Any], body: bytes) -> bool:
        """The hot path for a client notification sero-ls only passes on (a vendor or ``$/``
        method, didSave, ...: not one of NOT_PLAIN nor ``sero/``): its bytes, as they came,
        to the servers of its document. False, having sent nothing, when the full path must
        take it: the message is not that, its route is not known yet, or a server is not
        running or needs its URIs mapped (the full path caches the route when it can).

        Same servers, same order, same bytes as the full path (``SeroProtocol.handle_raw``
        and ``_client_notification``); only the checks that cannot have changed since the
        route was cached are skipped. ``msg`` may be orjson's reading (see
        ``framing.quick_decode``): only its method and URI are read."""
        method = msg.get("method")
        if (
            method.__class__ is not str
            or method in NOT_PLAIN
            or method.startswith(OWN_PREFIX)
            or "id" in msg
            or msg.get("jsonrpc") != "2.0"
        ):
            return False
        params = msg.get("params")
        uri = None
        if params.__class__ is dict:
            doc = params.get("textDocument")
            uri = doc.get("uri") if doc.__class__ is dict else None
            if uri.__class__ is not str:
                uri = document_uri(params)
        targets = self._plain.get(uri)
        if targets is None:
            return False
        for inst in targets:
            conn = inst.conn
            if conn is None or conn.writer is None:
                # the process ended just now: as the full path (which may queue it, and
                # encode it again for another place: from the exact reading, not orjson's)
                exact, _ = framing.decode_message(body)
                self._deliver(inst, exact or msg, body)
                continue
            conn.writer.write_frame(body)
            if trace.on:
                trace.record("sero-ls", conn.name, body)
        return True

    def _remember_plain(self, uri: str | None, targets: list[Instance]) -> None:
        """Cache a plain notification's route when every server takes it unchanged now."""
        if all(i.running and i.to_server is None for i in targets):
            if len(self._plain) > ROUTES_MAX:
                self._plain.clear()
            self._plain[uri] = targets

    def _client_response(self, msg: dict[str, Any]) -> bool:
        msg_id = msg.get("id")
        req = self.server_requests.pop(msg_id, None) if isinstance(msg_id, str) else None
        if req is None:
            return False
        if req.inst is None or not req.inst.running:
            return True  # sero-ls' own (registration withdrawals), or the server is gone
        out = dict(msg)
        out["id"] = req.backend_id
        if "result" in out and req.inst.to_server is not None:
            out["result"] = urimap.map_result(
                req.method, "to_server", out["result"], req.inst.to_server
            )
        assert req.inst.conn is not None
        req.inst.conn.send(out)
        return True

    # ---- requests

    def _client_request(
        self, msg: dict[str, Any], method: str, params: Any, body: bytes | None
    ) -> bool:
        if method == "workspace/textDocumentContent" and str(document_uri(params)).startswith(
            SCHEME + ":"
        ):
            return False  # sero-ls serves container-only files itself
        if method == "workspace/executeCommand":
            command = params.get("command") if isinstance(params, dict) else None
            owner = self._command_owner(command)
            if (
                owner is None
                and self.wrapper
                and isinstance(command, str)
                and not (command.startswith("sero."))
            ):
                return self._wrapper_request(msg, method, body)  # the server's to answer
            if owner is None:
                return False  # sero's own commands, or "not defined" from pygls
            return self._forward(owner, msg, method, body)
        if self.wrapper:
            return self._wrapper_request(msg, method, body)
        if method in policies.PRODUCER:
            return self._resolve(msg, method, params, body)
        if method == "textDocument/colorPresentation":
            return self._color_presentation(msg, method, params, body)
        uri = document_uri(params)
        if uri is None:
            return self._folderless_request(msg, method, body)
        candidates = [i for i in self.instances_for(uri) if i.alive or i.state == "failed"]
        if method == "textDocument/codeAction" and not candidates:
            return False  # sero's own quick fixes on its diagnostics
        able = [i for i in candidates if i.alive and self._supports(i, method, params)]
        if not able:
            failed = [f"{i.name}: {i.message}" for i in candidates if i.state == "failed"]
            if failed:
                self._reply_error(msg["id"], "language server not running: " + "; ".join(failed))
                return True
            if not (method.startswith("textDocument/") or method in advertise.METHOD_CAPABILITY):
                return False  # a method nobody here knows: MethodNotFound from sero-ls
            self.client.send({"jsonrpc": "2.0", "id": msg["id"], "result": None})
            return True
        several = len([i for i in self.instances_for(uri) if i.alive]) > 1
        if method == "textDocument/diagnostic" and several:
            return self._pull(msg, uri, able)
        kind = policies.kind_of(method)
        if kind == "owner" or len(able) == 1:
            return self._forward(able[0], msg, method, body, tagged=several)
        if method == "textDocument/completion" and self._incomplete_retrigger(params):
            return self._completion_retrigger(msg, uri, able)
        return self._gather(msg, method, able, uri)

    def _wrapper_request(self, msg: dict[str, Any], method: str, body: bytes | None) -> bool:
        """Wrapper mode: the one server gets every request (even one for a capability it did
        not declare: its own answer, error included, is what the editor must see)."""
        servers = self.servers.all()
        if not servers:
            return False
        inst = servers[0]
        if not inst.alive:
            self._reply_error(
                msg["id"], f"language server not running: {inst.name}: {inst.message}"
            )
            return True
        return self._forward(inst, msg, method, body)

    def _folderless_request(self, msg: dict[str, Any], method: str, body: bytes | None) -> bool:
        if method.startswith("sero/"):
            return False
        if method in ("workspace/symbol", "workspace/diagnostic"):
            targets = [i for i in self.servers.all() if i.alive and self._supports(i, method, None)]
            if not targets:
                self.client.send(
                    {
                        "jsonrpc": "2.0",
                        "id": msg["id"],
                        "result": [] if method == "workspace/symbol" else {"items": []},
                    }
                )
                return True
            if len(targets) == 1 and method == "workspace/symbol":
                return self._forward(
                    targets[0], msg, method, body, tagged=len(self.servers.all()) > 1
                )
            return self._gather(msg, method, targets, "")
        running = [i for i in self.servers.all() if i.running]
        if len(running) == 1:  # a server-specific request: only one server can mean it
            return self._forward(running[0], msg, method, body)
        return False  # no document: sero-ls answers (or MethodNotFound)

    def _supports(self, inst: Instance, method: str, params: Any) -> bool:
        if inst.spec.disabled(policies.feature_of(method)):
            return False
        if not inst.running:
            return True  # not known yet: it gets the request when it is ready
        caps = inst.capabilities
        if not (advertise.supports(caps, method) or inst.registered(method)):
            return False
        context = params.get("context") if isinstance(params, dict) else None
        if method == "textDocument/completion" and isinstance(context, dict):
            char = context.get("triggerCharacter")
            if context.get("triggerKind") == 2 and isinstance(char, str):
                provider = caps.get("completionProvider")
                chars = provider.get("triggerCharacters") if isinstance(provider, dict) else None
                return bool(chars) and char in chars  # type: ignore[operator]
        if method == "textDocument/codeAction" and isinstance(context, dict):
            only = context.get("only")
            provider = caps.get("codeActionProvider")
            kinds = provider.get("codeActionKinds") if isinstance(provider, dict) else None
            if isinstance(only, list) and isinstance(kinds, list) and only:
                return any(
                    str(k) == str(o) or str(k).startswith(f"{o}.") or str(o).startswith(f"{k}.")
                    for k in kinds
                    for o in only
                )
        if method == "textDocument/onTypeFormatting" and isinstance(params, dict):
            provider = caps.get("documentOnTypeFormattingProvider")
            if isinstance(provider, dict):
                chars = [
                    provider.get("firstTriggerCharacter"),
                    *(provider.get("moreTriggerCharacter") or []),
                ]
                return params.get("ch") in chars
        return True

    def _forward(
        self,
        inst: Instance,
        msg: dict[str, Any],
        method: str,
        body: bytes | None = None,
        *,
        gather: Gather | None = None,
        tagged: bool = False,
    ) -> bool:
        p = Pending(msg["id"], method, inst, gather, tagged)
        self.inflight[(inst.key, msg["id"])] = p
        params = msg.get("params")
        token = params.get("partialResultToken") if isinstance(params, dict) else None
        if token is not None and gather is None:
            self._partial[json.dumps(token)] = (inst, method)
        sent = self._deliver(inst, msg, body)
        if sent is None:
            return True  # queued until the server is ready
        if not sent:
            self.inflight.pop((inst.key, msg["id"]), None)
            self._settle(p, error=not_running(inst))
            return True
        p.sent = True
        return True

    def _settle(self, p: Pending, result: Any = None, error: dict[str, Any] | None = None) -> None:
        """The one place an in-flight request ends (answer, error, gone, timed out)."""
        if p.gather is not None:
            self._gather_part(p.gather, p.inst, result, error)
        elif error is not None:
            self.client.send({"jsonrpc": "2.0", "id": p.client_id, "error": error})
        else:
            self.client.send({"jsonrpc": "2.0", "id": p.client_id, "result": result})

    def _reply_error(self, client_id: Any, text: str, code: int = framing.INTERNAL_ERROR) -> None:
        self.client.send(framing.error_response(client_id, code, text))

    # ---- merged requests

    def _gather(self, msg: dict[str, Any], method: str, targets: list[Instance], uri: str) -> bool:
        g = Gather(msg["id"], method, targets, uri=uri)
        g.waiting = {i.key for i in targets}
        with_token = msg
        params = msg.get("params")
        if isinstance(params, dict) and (
            "partialResultToken" in params or "workDoneToken" in params
        ):
            # one editor token cannot serve several servers: the merged answer comes whole
            params = {k: v for k, v in params.items() if k != "partialResultToken"}
            with_token = {**msg, "params": params}
            without = {k: v for k, v in params.items() if k != "workDoneToken"}
            msg = {**msg, "params": without}
        self._arm(g)
        for n, inst in enumerate(targets):
            out = with_token if n == 0 else msg
            if method == "textDocument/codeAction":
                out = self._own_diagnostics_only(out, uri, inst)
            self._forward(inst, out, method, gather=g)
        return True

    def _arm(self, g: Gather) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop: a unit test drives the router synchronously
        g.timer = loop.call_later(GATHER_TIMEOUT, self._gather_timeout, g)

    def _own_diagnostics_only(
        self, msg: dict[str, Any], uri: str, inst: Instance
    ) -> dict[str, Any]:
        """A code action request carries the diagnostics of every server: each server gets
        only its own (what Neovim does, and what servers match on)."""
        params = msg.get("params")
        context = params.get("context") if isinstance(params, dict) else None
        diags = context.get("diagnostics") if isinstance(context, dict) else None
        if not isinstance(diags, list):
            return msg
        mine = []
        for d in diags:
            producer = self.diags.producer_of(uri, d)
            if producer is None or producer == inst.key:
                mine.append(d)
        assert isinstance(params, dict) and isinstance(context, dict)
        return {**msg, "params": {**params, "context": {**context, "diagnostics": mine}}}

    def _gather_part(self, g: Gather, inst: Instance, result: Any, error: Any) -> None:
        if g.done or inst.key not in g.waiting:
            return
        g.waiting.discard(inst.key)
        if error is not None:
            log.info("[%s] left out of %s: %s", inst.name, g.method, error)
            g.errors.append(
                error
                if isinstance(error, dict)
                else {"code": framing.INTERNAL_ERROR, "message": str(error)}
            )
        else:
            g.answers[inst.key] = result
        if not g.waiting:
            self._gather_done(g)

    def _gather_timeout(self, g: Gather) -> None:
        if g.done:
            return
        for inst in g.order:
            if inst.key in g.waiting:
                log.warning(
                    "[%s] no answer to %s within %g s: left out",
                    inst.name,
                    g.method,
                    GATHER_TIMEOUT,
                )
                self.inflight.pop((inst.key, g.client_id), None)
                if inst.running and inst.conn is not None:
                    inst.conn.send(
                        {
                            "jsonrpc": "2.0",
                            "method": "$/cancelRequest",
                            "params": {"id": g.client_id},
                        }
                    )
        g.waiting.clear()
        self._gather_done(g)

    def _gather_done(self, g: Gather) -> None:
        g.done = True
        if g.timer is not None:
            g.timer.cancel()
        answers = [(i.tag, g.answers[i.key]) for i in g.order if i.key in g.answers]
        if not answers and g.errors:
            self.client.send({"jsonrpc": "2.0", "id": g.client_id, "error": g.errors[0]})
            return
        by_tag = {i.tag: i for i in g.order}
        if g.method == "textDocument/completion":
            self._completions[g.uri] = {by_tag[t].key: r for t, r in answers}
        if g.method == "textDocument/documentColor":
            for t, r in answers:
                self._remember_colors(by_tag[t], r, g.uri)
        if g.method == "textDocument/diagnostic":
            result = self._pull_done(g)
        elif g.method == "workspace/diagnostic":
            result = {
                "items": [
                    item for _, r in answers if isinstance(r, dict) for item in r.get("items") or []
                ]
            }
        else:
            result = policies.merge(g.method, answers, uri=g.uri, link_support=self.link_support)
        self.client.send({"jsonrpc": "2.0", "id": g.client_id, "result": result})

    # ---- completion: ask again only the servers whose list was incomplete

    @staticmethod
    def _incomplete_retrigger(params: Any) -> bool:
        context = params.get("context") if isinstance(params, dict) else None
        return isinstance(context, dict) and context.get("triggerKind") == 3

    def _completion_retrigger(self, msg: dict[str, Any], uri: str, able: list[Instance]) -> bool:
        cached = self._completions.get(uri) or {}
        again = [i for i in able if i.key not in cached or _incomplete(cached[i.key])]
        if not again:
            again = able
        g = Gather(msg["id"], "textDocument/completion", able, uri=uri)
        for inst in able:
            if inst not in again:
                g.answers[inst.key] = cached[inst.key]
        g.waiting = {i.key for i in again}
        self._arm(g)
        for inst in again:
            self._forward(inst, msg, "textDocument/completion", gather=g)
        return True

    # ---- pull diagnostics: per server, with result ids that stay per server

    def _pull(self, msg: dict[str, Any], uri: str, able: list[Instance]) -> bool:
        params = msg.get("params") if isinstance(msg.get("params"), dict) else {}
        assert isinstance(params, dict)
        previous = _decode_ids(params.get("previousResultId"))
        cache = self._pulls.setdefault(uri, {})
        g = Gather(msg["id"], "textDocument/diagnostic", able, uri=uri)
        g.waiting = {i.key for i in able}
        g.previous = params.get("previousResultId")
        self._arm(g)
        for inst in able:
            sub = {
                k: v
                for k, v in params.items()
                if k not in ("previousResultId", "partialResultToken")
            }
            prev = previous.get(inst.tag)
            if prev is not None and inst.key in cache:
                sub["previousResultId"] = prev
            self._forward(inst, {**msg, "params": sub}, "textDocument/diagnostic", gather=g)
        return True

    def _pull_done(self, g: Gather) -> Any:
        """One report from every pull server's own: a composite result id (each server's id
        inside), `unchanged` only when the editor already has exactly this."""
        cache = self._pulls.setdefault(g.uri, {})
        items: list[Any] = []
        ids: dict[str, Any] = {}
        for inst in g.order:
            report = g.answers.get(inst.key)
            if isinstance(report, dict) and report.get("kind") == "full":
                cache[inst.key] = (report.get("resultId"), list(report.get("items") or []))
            elif not (isinstance(report, dict) and report.get("kind") == "unchanged"):
                continue
            rid, its = cache.get(inst.key, (None, []))
            items += its
            ids[inst.tag] = rid
        composite = json.dumps(ids, sort_keys=True)
        if g.previous == composite:
            return {"kind": "unchanged", "resultId": composite}
        return {"kind": "full", "resultId": composite, "items": items}

    # ---- resolve: to the producer

    def _resolve(self, msg: dict[str, Any], method: str, params: Any, body: bytes | None) -> bool:
        holder = policies.PRODUCER[method]
        obj = params.get("item") if holder == "item" and isinstance(params, dict) else params
        producer_tag, plain = policies.untag(obj)
        if producer_tag is not None:
            inst = next((i for i in self.servers.all() if i.tag == producer_tag), None)
            if inst is None or not inst.alive:
                # the producer restarted since: the object is stale, give it back as it is
                self.client.send(
                    {
                        "jsonrpc": "2.0",
                        "id": msg["id"],
                        "result": obj if holder == "params" else None,
                    }
                )
                return True
            new_params = plain if holder == "params" else {**params, "item": plain}
            return self._forward(inst, {**msg, "params": new_params}, method, tagged=True)
        able = [i for i in self.servers.all() if i.alive and self._supports(i, method, params)]
        if not able:
            self._reply_error(msg["id"], f"no language server can resolve this ({method})")
            return True
        return self._forward(able[0], msg, method, body)

    def _remember_colors(self, inst: Instance, result: Any, uri: str | None) -> None:
        if not isinstance(result, list):
            return
        for info in result:
            if isinstance(info, dict) and uri:
                self._colors.setdefault(uri, []).append((info.get("range"), inst))

    def _color_presentation(
        self, msg: dict[str, Any], method: str, params: Any, body: bytes | None
    ) -> bool:
        uri = document_uri(params) or ""
        rng = params.get("range") if isinstance(params, dict) else None
        for r, inst in reversed(self._colors.get(uri, [])):
            if r == rng and inst.alive:
                return self._forward(inst, msg, method, body)
        able = [i for i in self.instances_for(uri) if i.alive and self._supports(i, method, params)]
        if not able:
            self.client.send({"jsonrpc": "2.0", "id": msg["id"], "result": []})
            return True
        return self._forward(able[0], msg, method, body)

    def _command_owner(self, command: Any) -> Instance | None:
        """Who runs a command: the first server, in priority order, that declared it
        (statically, or by registering workspace/executeCommand)."""
        if not isinstance(command, str) or command.startswith("sero."):
            return None
        owners = [i for i in self.servers.all() if command in i.commands()]
        if len(owners) > 1:
            log.info(
                "command %s is declared by %s: %s runs it",
                command,
                ", ".join(i.name for i in owners),
                owners[0].name,
            )
        return owners[0] if owners else None

    # ---- notifications

    def _client_notification(
        self, msg: dict[str, Any], method: str, params: Any, body: bytes | None
    ) -> None:
        if method == "$/cancelRequest":
            target = params.get("id") if isinstance(params, dict) else None
            for (_, cid), p in list(self.inflight.items()):
                if cid == target and p.sent:
                    self._deliver(p.inst, msg, body)
            return
        if method == "textDocument/didOpen":
            try:
                doc = self.docs.open(params)
            except DocumentError as exc:
                log.warning("bad didOpen: %s", exc)
                return
            self._completions.pop(doc.uri, None)
            self._plain.pop(doc.uri, None)  # its language may be another now
            for inst in self.instances_for(doc.uri):
                inst.open_docs.add(doc.uri)
                self._deliver(inst, msg, body)
            return
        if method == "textDocument/didChange":
            self._did_change(msg, params, body)
            return
        if method == "textDocument/didClose":
            uri = document_uri(params)
            targets = self.instances_for(uri) if uri else []
            try:
                self.docs.close(params)
            except DocumentError as exc:
                log.warning("bad didClose: %s", exc)
            self._plain.pop(uri, None)  # its language is a guess from now on
            for inst in targets:
                if uri in inst.open_docs:
                    inst.open_docs.discard(uri)
                    self._deliver(inst, msg, body)
            return
        if method == "workspace/didChangeWatchedFiles":
            self._watched_files(msg, params)
            return
        uri = document_uri(params)
        targets = self.instances_for(uri) if uri else self.servers.all()
        for inst in targets:
            self._deliver(inst, msg, body)
        if body is not None:
            self._remember_plain(uri, targets)

    def _did_change(self, msg: dict[str, Any], params: Any, body: bytes | None) -> None:
        try:
            doc = self.docs.change(params)
        except DocumentError as exc:
            log.warning("bad didChange (%s): the servers get the full text", exc)
            uri = document_uri(params)
            known = self.docs.get(uri) if uri else None
            if known is None:
                return
            doc, msg, body = known, self._full_change(known.uri), None
        full: dict[str, Any] | None = None
        for inst in self.instances_for(doc.uri):
            if doc.uri not in inst.open_docs:
                continue
            kind = advertise.sync_kind(inst.capabilities) if inst.running else advertise.INCREMENTAL
            if kind == advertise.INCREMENTAL or self.wrapper:
                self._deliver(inst, msg, body)
            elif kind == advertise.FULL:
                full = full or self._full_change(doc.uri)
                self._deliver(inst, full)

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
            if self.wrapper:
                targets = self.servers.all()
            else:
                folder = self.servers.folder_of(uri)
                targets = self.servers.of_folder(folder) if folder else []
            for inst in targets:
                by_inst.setdefault(id(inst), (inst, []))[1].append(change)
        for inst, subset in by_inst.values():
            self._deliver(inst, {**msg, "params": {**params, "changes": subset}})

    def to_servers(self, msg: dict[str, Any], servers: list[Instance] | None = None) -> None:
        """A notification sero-ls handles itself that the servers need too."""
        method = msg.get("method")
        params = msg.get("params")
        if method == "window/workDoneProgress/cancel" and self._tokens:
            token = params.get("token") if isinstance(params, dict) else None
            owner = self._tokens.get(token) if isinstance(token, str) else None
            if owner is not None:
                self._deliver(owner[0], {**msg, "params": {**params, "token": owner[1]}})  # type: ignore[dict-item]
                return
        for inst in self.servers.all() if servers is None else servers:
            self._deliver(inst, msg)

    # ================================================================ delivery

    def _deliver(
        self, inst: Instance, msg: dict[str, Any], body: bytes | None = None
    ) -> bool | None:
        """Write a message to a server, URIs mapped for where it runs now. True: written;
        None: queued until the server is ready; False: it cannot take messages."""
        if inst.running:
            assert inst.conn is not None
            mapper = inst.to_server
            if mapper is None:
                if body is not None:
                    return inst.conn.send_raw_body(body)  # unchanged: the client's own bytes
                return inst.conn.send(msg)
            method = msg.get("method")
            out = copy.copy(msg)
            if method:
                out["params"] = urimap.map_params(
                    method, "to_server", copy.deepcopy(msg.get("params")), mapper
                )
            return inst.conn.send(out)
        if inst.state in ("starting", "restarting"):
            if msg.get("method") not in DOC_SYNC:
                inst.queue.append((msg, body))
            return None
        return False

    def _open_in(self, inst: Instance, uri: str) -> None:
        params = self.docs.did_open_params(uri)
        self._deliver(inst, {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": params})
        inst.open_docs.add(uri)

    # ================================================================ which servers

    def _language(self, uri: str) -> str | None:
        doc = self.docs.get(uri)
        return doc.language_id if doc else guess_language(uri)

    def _serves(self, inst: Instance, uri: str) -> bool:
        container = parse_container_uri(uri)
        if container is not None:
            return inst.container_id == container[0] and (
                self.wrapper or inst.spec.handles(self._language(uri))
            )
        if self.wrapper:
            return True
        return self.servers.folder_of(uri) == inst.folder.uri and inst.spec.handles(
            self._language(uri)
        )

    def instances_for(self, uri: str) -> list[Instance]:
        """The servers for a document, in priority order (cached: the hot path)."""
        lang = self._language(uri)
        hit = self._routes.get(uri)
        if hit is not None and hit[0] == lang:
            return hit[1]
        found = self._instances_for(uri, lang)
        if len(self._routes) > ROUTES_MAX:
            self._routes.clear()
        self._routes[uri] = (lang, found)
        return found

    def _instances_for(self, uri: str, lang: str | None) -> list[Instance]:
        if uri.startswith(SCHEME + ":"):  # a container-only file: back to its container
            return [i for i in self.servers.all() if self._serves(i, uri)]
        if self.wrapper:
            return self.servers.all()
        folder = self.servers.folder_of(uri)
        if folder is None:
            return []
        return [i for i in self.servers.of_folder(folder) if i.spec.handles(lang)]


def not_running(inst: Instance) -> dict[str, Any]:
    """The error of a request a server cannot take (it failed, gave up or stopped)."""
    return {
        "code": framing.INTERNAL_ERROR,
        "message": f"{inst.name} is not running: {inst.message}",
    }


def _incomplete(result: Any) -> bool:
    return isinstance(result, dict) and bool(result.get("isIncomplete"))


def _decode_ids(value: Any) -> dict[str, Any]:
    if not isinstance(value, str):
        return {}
    try:
        ids = json.loads(value)
    except ValueError:
        return {}
    return ids if isinstance(ids, dict) else {}


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
