"""The router in process, with scripted fake servers and a fake editor: one test per row
of the merge-policy table (../shared/multi-server.md), the diagnostics store, command and
resolve routing, partial results, queued messages after a move, and partial failures."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import orjson
import pytest

from sero_ls.proxy.instance import Instance
from sero_ls.proxy.placement import Placement
from sero_ls.proxy.router import Router
from sero_ls.proxy.spec import ServerSpec
from sero_ls.runtime.resolve import Folder

FOLDER = Folder(uri="file:///w", path="/w", name="w")
DOC = "file:///w/a.py"


class FakeConn:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.frames: list[bytes] = []  # what the hot path wrote (Router.forward_plain)
        self.exited = asyncio.Event()
        self.pid = 1
        self.name = "fake"
        self.writer: FakeConn | None = self

    def write_frame(self, body: bytes) -> None:
        self.frames.append(body)
        self.sent.append(json.loads(body))

    def send(self, msg: dict[str, Any]) -> bool:
        self.sent.append(json.loads(json.dumps(msg)))
        return True

    def send_raw_body(self, body: bytes) -> bool:
        self.sent.append(json.loads(body))
        return True

    def requests(self, method: str) -> list[dict[str, Any]]:
        return [m for m in self.sent if m.get("method") == method]


class FakeClient:
    def __init__(self) -> None:
        self.got: list[dict[str, Any]] = []

    def send(self, msg: dict[str, Any]) -> None:
        self.got.append(json.loads(json.dumps(msg)))

    def send_body(self, body: bytes) -> None:
        self.got.append(json.loads(body))

    def answer(self, msg_id: Any) -> dict[str, Any]:
        found = [m for m in self.got if m.get("id") == msg_id and "method" not in m]
        assert len(found) == 1, (msg_id, self.got)
        return found[0]

    def published(self, uri: str) -> list[Any]:
        pubs = [
            m["params"]
            for m in self.got
            if m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri
        ]
        assert pubs, self.got
        return pubs[-1]["diagnostics"]  # type: ignore[no-any-return]


class FakeDirectory:
    def __init__(self, servers: list[Instance], wrapper: bool = False) -> None:
        self.servers = servers
        self.wrapper = wrapper

    @property
    def is_wrapper(self) -> bool:
        return self.wrapper

    def all(self) -> list[Instance]:
        return list(self.servers)

    def of_folder(self, folder_uri: str) -> list[Instance]:
        return [s for s in self.servers if s.folder.uri == folder_uri]

    def folder_of(self, uri: str) -> str | None:
        return FOLDER.uri if uri.startswith(FOLDER.uri + "/") or uri == FOLDER.uri else None


def server(
    sid: str, caps: dict[str, Any], priority: int = 0, disabled: tuple[str, ...] = ()
) -> Instance:
    spec = ServerSpec(
        id=sid,
        languages=("python",),
        host_argv=(sid,),
        container_argv=(sid,),
        disabled_features=disabled,
    )
    inst = Instance(spec=spec, folder=FOLDER, priority=priority)
    inst.conn = FakeConn()  # type: ignore[assignment]
    inst.capabilities = caps
    inst.state = "running"
    inst.new_generation()
    return inst


def conn(inst: Instance) -> FakeConn:
    assert isinstance(inst.conn, FakeConn)
    return inst.conn


def hub(*servers: Instance, wrapper: bool = False) -> tuple[Router, FakeClient]:
    client = FakeClient()
    router = Router(client, FakeDirectory(list(servers), wrapper))
    router.observe_initialize(
        {"capabilities": {"textDocument": {"definition": {"linkSupport": True}}}}
    )
    return router, client


def open_doc(router: Router, uri: str = DOC, text: str = "import os\n") -> None:
    router.from_client(
        {
            "jsonrpc": "2.0",
            "method": "textDocument/didOpen",
            "params": {
                "textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}
            },
        }
    )


def request(router: Router, msg_id: Any, method: str, params: Any) -> bool:
    return router.from_client({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})


def answer(
    router: Router, inst: Instance, msg_id: Any, result: Any = None, error: Any = None
) -> None:
    msg: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id}
    if error is not None:
        msg["error"] = error
    else:
        msg["result"] = result
    router.server_message(inst, msg, None)


def register(router: Router, inst: Instance, *registrations: Any, msg_id: Any = "r1") -> None:
    """The server asks the editor to register capabilities (client/registerCapability)."""
    params = {"registrations": list(registrations)}
    msg = {"jsonrpc": "2.0", "id": msg_id, "method": "client/registerCapability", "params": params}
    router.server_message(inst, msg, None)


def publish(router: Router, inst: Instance, uri: str, diags: list[Any]) -> None:
    msg = {
        "jsonrpc": "2.0",
        "method": "textDocument/publishDiagnostics",
        "params": {"uri": uri, "diagnostics": diags},
    }
    router.server_message(inst, msg, json.dumps(msg).encode())


def diag(message: str, line: int = 0, source: str = "x") -> dict[str, Any]:
    return {
        "range": {"start": {"line": line, "character": 0}, "end": {"line": line, "character": 3}},
        "message": message,
        "source": source,
    }


POS = {"textDocument": {"uri": DOC}, "position": {"line": 0, "character": 1}}

# ---------------------------------------------------------------- diagnostics store


def test_two_servers_diagnostics_are_a_union_and_each_replaces_only_its_own() -> None:
    ruff, pyright = server("ruff", {}), server("pyright", {}, priority=1)
    router, client = hub(ruff, pyright)
    publish(router, ruff, DOC, [diag("F401 unused", source="Ruff")])
    publish(router, pyright, DOC, [diag("type error", 1, "Pyright")])
    assert [d["message"] for d in client.published(DOC)] == ["F401 unused", "type error"]
    publish(router, pyright, DOC, [])
    assert [d["message"] for d in client.published(DOC)] == ["F401 unused"]


@pytest.mark.parametrize("how", ["gone", "failed"])
def test_a_gone_servers_diagnostics_are_withdrawn(how: str) -> None:
    ruff, pyright = server("ruff", {}), server("pyright", {}, priority=1)
    router, client = hub(ruff, pyright)
    publish(router, ruff, DOC, [diag("F401 unused")])
    publish(router, pyright, DOC, [diag("type error", 1)])
    if how == "gone":
        router.server_gone(ruff, "ruff stopped")
    else:
        ruff.state = "failed"
        router.server_failed(ruff)
    assert [d["message"] for d in client.published(DOC)] == ["type error"]
    router.server_gone(pyright, "pyright moved")
    assert client.published(DOC) == []


def test_a_lone_server_publishes_exactly_what_it_sent() -> None:
    only = server("pylsp", {})
    router, client = hub(only)
    publish(router, only, DOC, [diag("E1", source="pyflakes") | {"data": {"v": 1}, "version": 3}])
    assert client.got[-1]["params"]["diagnostics"][0]["data"] == {"v": 1}


def test_sero_own_diagnostics_merge_with_the_servers_and_stay_out_of_a_wrapper() -> None:
    only = server("pylsp", {})
    router, client = hub(only)
    publish(router, only, DOC, [diag("server")])
    router.publish_own(DOC, [diag("sero says", source="sero")])
    assert [d["message"] for d in client.published(DOC)] == ["server", "sero says"]

    wrapped = server("pylsp", {})
    wrouter, wclient = hub(wrapped, wrapper=True)
    wrouter.observe_initialize({"capabilities": {}})
    wrouter.own_diagnostics = False
    wrouter.publish_own("file:///w", [diag("container-missing", source="sero")])
    assert wclient.got == []
    opted, oclient = hub(server("pylsp", {}), wrapper=True)
    opted.observe_initialize(
        {"capabilities": {"experimental": {"sero": {"statusNotifications": True}}}}
    )
    opted.publish_own("file:///w", [diag("container-missing", source="sero")])
    assert oclient.published("file:///w")[0]["message"] == "container-missing"


# ---------------------------------------------------------------- merge all


def test_hover_from_every_server_joined_in_priority_order() -> None:
    a, b = server("a", {"hoverProvider": True}), server("b", {"hoverProvider": True}, 1)
    router, client = hub(a, b)
    open_doc(router)
    request(router, 1, "textDocument/hover", POS)
    answer(router, b, 1, {"contents": "from b"})
    assert not [m for m in client.got if m.get("id") == 1]  # waits for every server
    answer(
        router,
        a,
        1,
        {
            "contents": {"kind": "markdown", "value": "from a"},
            "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 2}},
        },
    )
    result = client.answer(1)["result"]
    assert result["contents"]["value"] == "from a\n\n---\n\nfrom b"
    assert result["range"]["end"]["character"] == 2


def test_completion_merged_with_defaults_applied_and_resolve_routed_to_its_producer() -> None:
    caps = {"completionProvider": {"resolveProvider": True, "triggerCharacters": ["."]}}
    a, b = server("a", caps), server("b", caps, 1)
    router, client = hub(a, b)
    open_doc(router)
    request(router, 2, "textDocument/completion", POS)
    answer(
        router,
        a,
        2,
        {
            "isIncomplete": False,
            "items": [{"label": "alpha"}],
            "itemDefaults": {"data": {"from": "a"}, "insertTextFormat": 2},
        },
    )
    answer(router, b, 2, {"isIncomplete": True, "items": [{"label": "beta", "data": 7}]})
    result = client.answer(2)["result"]
    assert result["isIncomplete"] is True
    assert [i["label"] for i in result["items"]] == ["alpha", "beta"]
    alpha = result["items"][0]
    assert alpha["insertTextFormat"] == 2
    request(router, 3, "completionItem/resolve", result["items"][1])
    sent = conn(b).requests("completionItem/resolve")[-1]["params"]
    assert sent == {"label": "beta", "data": 7}  # b's own data back, untagged
    assert not conn(a).requests("completionItem/resolve")
    answer(router, b, 3, {"label": "beta", "data": 7, "detail": "resolved"})
    resolved = client.answer(3)["result"]
    assert resolved["detail"] == "resolved"
    request(router, 4, "completionItem/resolve", alpha)
    assert conn(a).requests("completionItem/resolve")[-1]["params"]["data"] == {"from": "a"}


def test_completion_retrigger_asks_only_incomplete_servers() -> None:
    caps = {"completionProvider": {}}
    a, b = server("a", caps), server("b", caps, 1)
    router, client = hub(a, b)
    open_doc(router)
    request(router, 1, "textDocument/completion", POS)
    answer(router, a, 1, {"isIncomplete": False, "items": [{"label": "x"}]})
    answer(router, b, 1, {"isIncomplete": True, "items": [{"label": "y"}]})
    again = {**POS, "context": {"triggerKind": 3}}
    request(router, 2, "textDocument/completion", again)
    assert len(conn(a).requests("textDocument/completion")) == 1
    assert len(conn(b).requests("textDocument/completion")) == 2
    answer(router, b, 2, {"isIncomplete": False, "items": [{"label": "yy"}]})
    assert [i["label"] for i in client.answer(2)["result"]["items"]] == ["x", "yy"]


def test_trigger_character_asks_only_servers_that_declared_it() -> None:
    a = server("a", {"completionProvider": {"triggerCharacters": ["."]}})
    b = server("b", {"completionProvider": {"triggerCharacters": ["@"]}}, 1)
    router, _client = hub(a, b)
    open_doc(router)
    request(
        router,
        1,
        "textDocument/completion",
        {**POS, "context": {"triggerKind": 2, "triggerCharacter": "."}},
    )
    assert conn(a).requests("textDocument/completion")
    assert not conn(b).requests("textDocument/completion")


def test_code_actions_each_server_gets_its_own_diagnostics_and_resolve_goes_back() -> None:
    caps = {"codeActionProvider": {"codeActionKinds": ["quickfix"], "resolveProvider": True}}
    ruff, pyright = server("ruff", caps), server("pyright", caps, 1)
    router, client = hub(ruff, pyright)
    open_doc(router)
    f401, typ = diag("F401", source="Ruff") | {"data": {"fix": 1}}, diag("type", 0, "Pyright")
    publish(router, ruff, DOC, [f401])
    publish(router, pyright, DOC, [typ])
    params = {
        "textDocument": {"uri": DOC},
        "range": f401["range"],
        "context": {"diagnostics": [f401, typ]},
    }
    request(router, 5, "textDocument/codeAction", params)
    got_ruff = conn(ruff).requests("textDocument/codeAction")[-1]["params"]["context"][
        "diagnostics"
    ]
    got_pyright = conn(pyright).requests("textDocument/codeAction")[-1]["params"]["context"]
    assert got_ruff == [f401] and got_pyright["diagnostics"] == [typ]
    answer(router, ruff, 5, [{"title": "Remove unused import", "data": "r1"}, {"title": "Fix all"}])
    answer(router, pyright, 5, [])
    actions = client.answer(5)["result"]
    assert [a["title"] for a in actions] == ["Remove unused import", "Fix all"]
    request(router, 6, "codeAction/resolve", actions[0])
    assert conn(ruff).requests("codeAction/resolve")[-1]["params"] == {
        "title": "Remove unused import",
        "data": "r1",
    }
    assert not conn(pyright).requests("codeAction/resolve")


def test_code_action_only_skips_servers_whose_kinds_cannot_match() -> None:
    a = server("a", {"codeActionProvider": {"codeActionKinds": ["source.organizeImports"]}})
    b = server("b", {"codeActionProvider": {"codeActionKinds": ["quickfix"]}}, 1)
    router, _ = hub(a, b)
    open_doc(router)
    request(
        router,
        1,
        "textDocument/codeAction",
        {
            "textDocument": {"uri": DOC},
            "range": diag("")["range"],
            "context": {"diagnostics": [], "only": ["source"]},
        },
    )
    assert conn(a).requests("textDocument/codeAction")
    assert not conn(b).requests("textDocument/codeAction")


def test_definitions_merged_in_one_shape_without_duplicates() -> None:
    caps = {"definitionProvider": True}
    a, b = server("a", caps), server("b", caps, 1)
    router, client = hub(a, b)
    open_doc(router)
    rng = {"start": {"line": 1, "character": 0}, "end": {"line": 1, "character": 4}}
    request(router, 7, "textDocument/definition", POS)
    answer(router, a, 7, {"uri": "file:///w/b.py", "range": rng})
    answer(
        router,
        b,
        7,
        [{"targetUri": "file:///w/c.py", "targetRange": rng, "targetSelectionRange": rng}],
    )
    result = client.answer(7)["result"]
    assert [r["targetUri"] for r in result] == ["file:///w/b.py", "file:///w/c.py"]


def test_workspace_symbols_survive_one_failing_server() -> None:
    caps = {"workspaceSymbolProvider": True}
    a, b = server("a", caps), server("b", caps, 1)
    router, client = hub(a, b)
    request(router, 8, "workspace/symbol", {"query": "x"})
    answer(router, a, 8, error={"code": -32603, "message": "boom"})
    answer(router, b, 8, [{"name": "x", "kind": 12, "location": {"uri": DOC}}])
    assert [s["name"] for s in client.answer(8)["result"]] == ["x"]


def test_a_server_gone_mid_request_is_left_out_of_the_merge() -> None:
    caps = {"referencesProvider": True}
    a, b = server("a", caps), server("b", caps, 1)
    router, client = hub(a, b)
    open_doc(router)
    request(router, 9, "textDocument/references", {**POS, "context": {"includeDeclaration": True}})
    answer(router, b, 9, [{"uri": DOC, "range": diag("")["range"]}])
    router.server_gone(a, "a exited (status 1)")
    assert client.answer(9)["result"] == [{"uri": DOC, "range": diag("")["range"]}]


def test_every_server_failing_gives_the_first_error() -> None:
    caps = {"hoverProvider": True}
    a, b = server("a", caps), server("b", caps, 1)
    router, client = hub(a, b)
    open_doc(router)
    request(router, 10, "textDocument/hover", POS)
    answer(router, a, 10, error={"code": -32001, "message": "a says no"})
    answer(router, b, 10, error={"code": -32002, "message": "b says no"})
    assert client.answer(10)["error"]["message"] == "a says no"


def test_document_links_of_lower_priority_that_overlap_are_dropped() -> None:
    caps = {"documentLinkProvider": {}}
    a, b = server("a", caps), server("b", caps, 1)
    router, client = hub(a, b)
    open_doc(router)
    r1 = {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 5}}
    r2 = {"start": {"line": 0, "character": 3}, "end": {"line": 0, "character": 8}}
    r3 = {"start": {"line": 2, "character": 0}, "end": {"line": 2, "character": 1}}
    request(router, 11, "textDocument/documentLink", {"textDocument": {"uri": DOC}})
    answer(router, a, 11, [{"range": r1, "target": "file:///a"}])
    answer(
        router, b, 11, [{"range": r2, "target": "file:///b"}, {"range": r3, "target": "file:///c"}]
    )
    assert [li["target"] for li in client.answer(11)["result"]] == ["file:///a", "file:///c"]


def test_pull_diagnostics_merged_with_result_ids_per_server() -> None:
    caps = {"diagnosticProvider": {"interFileDependencies": False, "workspaceDiagnostics": False}}
    a, b = server("a", caps), server("b", caps, 1)
    router, client = hub(a, b)
    open_doc(router)
    request(router, 12, "textDocument/diagnostic", {"textDocument": {"uri": DOC}})
    answer(router, a, 12, {"kind": "full", "resultId": "a1", "items": [diag("from a")]})
    answer(router, b, 12, {"kind": "full", "resultId": "b1", "items": [diag("from b")]})
    first = client.answer(12)["result"]
    assert [d["message"] for d in first["items"]] == ["from a", "from b"]
    request(
        router,
        13,
        "textDocument/diagnostic",
        {"textDocument": {"uri": DOC}, "previousResultId": first["resultId"]},
    )
    assert conn(a).requests("textDocument/diagnostic")[-1]["params"]["previousResultId"] == "a1"
    assert conn(b).requests("textDocument/diagnostic")[-1]["params"]["previousResultId"] == "b1"
    answer(router, a, 13, {"kind": "unchanged", "resultId": "a1"})
    answer(router, b, 13, {"kind": "full", "resultId": "b2", "items": []})
    second = client.answer(13)["result"]
    assert second["kind"] == "full" and [d["message"] for d in second["items"]] == ["from a"]


# ---------------------------------------------------------------- first non-null, owner


def test_signature_help_is_the_first_non_null_in_priority_order() -> None:
    caps = {"signatureHelpProvider": {"triggerCharacters": ["("]}}
    a, b = server("a", caps), server("b", caps, 1)
    router, client = hub(a, b)
    open_doc(router)
    request(router, 14, "textDocument/signatureHelp", POS)
    answer(router, b, 14, {"signatures": [{"label": "f(b)"}]})
    answer(router, a, 14, None)
    assert client.answer(14)["result"]["signatures"][0]["label"] == "f(b)"


def test_document_highlight_null_when_all_null() -> None:
    caps = {"documentHighlightProvider": True}
    a, b = server("a", caps), server("b", caps, 1)
    router, client = hub(a, b)
    open_doc(router)
    request(router, 15, "textDocument/documentHighlight", POS)
    answer(router, a, 15, None)
    answer(router, b, 15, None)
    assert client.answer(15)["result"] is None


def test_formatting_has_one_owner_and_a_setting_can_exclude_a_server() -> None:
    caps = {"documentFormattingProvider": True}
    a, b = server("a", caps), server("b", caps, 1)
    router, _ = hub(a, b)
    open_doc(router)
    request(router, 16, "textDocument/formatting", {"textDocument": {"uri": DOC}, "options": {}})
    assert conn(a).requests("textDocument/formatting") and not conn(b).requests(
        "textDocument/formatting"
    )
    a2, b2 = server("a", caps, disabled=("formatting",)), server("b", caps, 1)
    router2, _ = hub(a2, b2)
    open_doc(router2)
    request(router2, 17, "textDocument/formatting", {"textDocument": {"uri": DOC}, "options": {}})
    assert not conn(a2).requests("textDocument/formatting")
    assert conn(b2).requests("textDocument/formatting")


def test_call_hierarchy_follow_ups_go_to_the_producer() -> None:
    caps = {"callHierarchyProvider": True}
    a, b = server("a", caps), server("b", caps, 1)
    router, client = hub(a, b)
    open_doc(router)
    request(router, 18, "textDocument/prepareCallHierarchy", POS)
    answer(router, a, 18, None)
    answer(router, b, 18, [{"name": "f", "kind": 12, "uri": DOC, "data": "bdata"}])
    item = client.answer(18)["result"][0]
    request(router, 19, "callHierarchy/incomingCalls", {"item": item})
    assert conn(b).requests("callHierarchy/incomingCalls")[-1]["params"]["item"]["data"] == "bdata"
    assert not conn(a).requests("callHierarchy/incomingCalls")


# ---------------------------------------------------------------- commands, progress, moves


def test_commands_route_by_static_and_dynamically_registered_ids() -> None:
    a = server("a", {"executeCommandProvider": {"commands": ["a.fix"]}})
    b = server("b", {}, 1)
    router, _client = hub(a, b)
    register(
        router,
        b,
        {
            "id": "x",
            "method": "workspace/executeCommand",
            "registerOptions": {"commands": ["b.dyn"]},
        },
    )
    for n, (cmd, owner) in enumerate((("a.fix", a), ("b.dyn", b))):
        assert request(
            router, 20 + n, "workspace/executeCommand", {"command": cmd, "arguments": []}
        )
        assert conn(owner).requests("workspace/executeCommand")[-1]["params"]["command"] == cmd
    assert not request(router, 30, "workspace/executeCommand", {"command": "nobody.has"})


def test_registration_withdrawal_answers_are_recognised() -> None:
    a = server("a", {})
    router, client = hub(a)
    register(
        router,
        a,
        {
            "id": "w",
            "method": "workspace/didChangeWatchedFiles",
            "registerOptions": {"watchers": []},
        },
    )
    router.server_gone(a, "a exited (status 1)")
    withdrawal = [m for m in client.got if m.get("method") == "client/unregisterCapability"][-1]
    assert router.owns_response(withdrawal["id"])
    assert router.from_client({"jsonrpc": "2.0", "id": withdrawal["id"], "result": None})


def _container_placement(root: str) -> Placement:
    def to_server(value: str, kind: str = "uri") -> str:
        return value.replace("file:///w", f"file://{root}")

    def to_client(value: str, kind: str = "uri") -> str:
        return value.replace(f"file://{root}", "file:///w")

    return Placement(
        mode="container",
        argv=[],
        env={},
        cwd=None,
        watchdog=lambda pid: [],
        container_id="c1",
        to_server=to_server,
        to_client=to_client,
    )


def test_partial_results_are_mapped_to_the_client() -> None:
    a = server("a", {"referencesProvider": True})
    a.placement = _container_placement("/workspace")
    router, client = hub(a)
    open_doc(router)
    request(
        router,
        40,
        "textDocument/references",
        {**POS, "partialResultToken": "p1", "context": {"includeDeclaration": False}},
    )
    assert conn(a).requests("textDocument/references")[-1]["params"]["textDocument"]["uri"] == (
        "file:///workspace/a.py"
    )
    router.server_message(
        a,
        {
            "jsonrpc": "2.0",
            "method": "$/progress",
            "params": {
                "token": "p1",
                "value": [{"uri": "file:///workspace/b.py", "range": diag("")["range"]}],
            },
        },
        None,
    )
    progress = [m for m in client.got if m.get("method") == "$/progress"][-1]
    assert progress["params"]["value"][0]["uri"] == "file:///w/b.py"


def test_messages_queued_during_a_move_are_mapped_for_the_new_place() -> None:
    a = server("a", {"hoverProvider": True})
    a.placement = _container_placement("/workspace")
    router, client = hub(a)
    open_doc(router)
    a.state = "restarting"  # moving container -> host
    request(router, 41, "textDocument/hover", POS)
    assert not conn(a).requests("textDocument/hover")  # queued
    a.placement = None  # now on the host: the identity
    a.state = "running"
    router.server_ready(a)
    sent = conn(a).requests("textDocument/hover")[-1]
    assert sent["params"]["textDocument"]["uri"] == DOC
    reopened = conn(a).requests("textDocument/didOpen")[-1]
    assert reopened["params"]["textDocument"]["uri"] == DOC
    answer(router, a, 41, {"contents": "ok"})
    assert client.answer(41)["result"] == {"contents": "ok"}


def test_a_server_that_gives_up_answers_its_queued_requests_once() -> None:
    a = server("a", {"hoverProvider": True})
    router, client = hub(a)
    open_doc(router)
    a.state = "restarting"
    request(router, 42, "textDocument/hover", POS)
    a.state, a.message = "failed", "gave up after 6 crashes"
    router.server_failed(a)
    assert "gave up" in client.answer(42)["error"]["message"]
    assert not router.inflight


def test_server_progress_tokens_are_made_unique_with_several_servers() -> None:
    a, b = server("a", {}), server("b", {}, 1)
    router, client = hub(a, b)
    for inst in (a, b):
        router.server_message(
            inst,
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "window/workDoneProgress/create",
                "params": {"token": 1},
            },
            None,
        )
    tokens = [
        m["params"]["token"]
        for m in client.got
        if m.get("method") == "window/workDoneProgress/create"
    ]
    assert len(set(tokens)) == 2
    router.server_message(
        a,
        {
            "jsonrpc": "2.0",
            "method": "$/progress",
            "params": {"token": 1, "value": {"kind": "begin", "title": "t"}},
        },
        None,
    )
    assert client.got[-1]["params"]["token"] == tokens[0]
    router.server_gone(a, "a exited")
    ends = [
        m
        for m in client.got
        if m.get("method") == "$/progress" and m["params"]["value"] == {"kind": "end"}
    ]
    assert [e["params"]["token"] for e in ends] == [tokens[0]]


# ---------------------------------------------------------------- wrapper mode


def test_wrapper_forwards_requests_for_capabilities_the_server_did_not_declare() -> None:
    a = server("pylsp", {"hoverProvider": True})
    router, client = hub(a, wrapper=True)
    open_doc(router)
    request(router, 50, "textDocument/semanticTokens/full", {"textDocument": {"uri": DOC}})
    assert conn(a).requests("textDocument/semanticTokens/full")
    answer(router, a, 50, error={"code": -32601, "message": "Method Not Found"})
    assert client.answer(50)["error"]["code"] == -32601


def test_wrapper_registration_ids_pass_unchanged() -> None:
    a = server("pylsp", {})
    router, client = hub(a, wrapper=True)
    register(router, a, {"id": "reg-1", "method": "textDocument/formatting"}, msg_id=7)
    assert client.got[-1]["params"]["registrations"][0]["id"] == "reg-1"


def test_wrapper_forwards_commands_the_server_did_not_declare() -> None:
    a = server("pylsp", {})
    router, _ = hub(a, wrapper=True)
    assert request(router, 51, "workspace/executeCommand", {"command": "pylsp.undeclared"})
    assert conn(a).requests("workspace/executeCommand")
    assert not request(router, 52, "workspace/executeCommand", {"command": "sero.refreshStatus"})


# ---------------------------------------------------------------- the hot path


def note(method: str = "$/vendor/note", uri: str = DOC) -> tuple[dict[str, Any], bytes]:
    """A plain notification as it came: its bytes (odd spacing, an unknown field) and
    its reading."""
    params = f'{{"textDocument": {{"uri": "{uri}"}}, "vendorField": [1, 2]}}'
    body = f'{{"jsonrpc": "2.0", "method": "{method}", "params": {params}}}'.encode()
    return json.loads(body), body


def learned(*servers: Instance) -> tuple[Router, FakeClient]:
    """A router that forwarded one plain notification about DOC through the full path."""
    router, client = hub(*servers)
    open_doc(router)
    msg, body = note()
    assert router.from_client(msg, body)
    for inst in servers:
        conn(inst).sent.clear()
    return router, client


def test_plain_notifications_take_the_hot_path_once_the_full_path_learned_the_route() -> None:
    a, b = server("a", {}), server("b", {}, 1)
    router, _ = hub(b, a)
    open_doc(router)
    msg, body = note()
    assert not router.forward_plain(msg, body)  # the route is not known yet
    assert not conn(a).frames and not conn(a).requests("$/vendor/note")
    assert router.from_client(msg, body)  # the full path: the client's bytes, unchanged
    assert conn(a).requests("$/vendor/note") == conn(b).requests("$/vendor/note") == [msg]
    assert router.forward_plain(msg, body)
    assert conn(a).frames == conn(b).frames == [body]  # the same bytes, to both
    # a notification naming no document goes to every server, learned the same way
    plain, plain_body = (
        {"jsonrpc": "2.0", "method": "$/vendor/all"},
        b'{"jsonrpc":"2.0","method":"$/vendor/all"}',
    )
    assert not router.forward_plain(plain, plain_body)
    router.from_client(plain, plain_body)
    assert router.forward_plain(plain, plain_body)
    assert conn(a).frames == conn(b).frames == [body, plain_body]


@pytest.mark.parametrize(
    "method",
    [
        "textDocument/didOpen",
        "textDocument/didChange",
        "textDocument/didClose",
        "$/cancelRequest",
        "workspace/didChangeWatchedFiles",
        "initialized",
        "exit",
        "$/setTrace",
        "workspace/didChangeConfiguration",
        "sero/anything",
    ],
)
def test_the_hot_path_leaves_what_the_full_path_must_see(method: str) -> None:
    a = server("a", {})
    router, _ = learned(a)
    msg, body = note(method)
    assert not router.forward_plain(msg, body)
    assert not conn(a).sent


@pytest.mark.parametrize(
    "change",
    [
        {"id": 7},  # a request
        {"jsonrpc": "1.0"},
        {"method": 3},
    ],
)
def test_the_hot_path_leaves_requests_and_invalid_messages(change: dict[str, Any]) -> None:
    a = server("a", {})
    router, _ = learned(a)
    msg, body = note()
    assert not router.forward_plain({**msg, **change}, body)
    assert not conn(a).sent


@pytest.mark.parametrize("event", ["gone", "servers changed", "ready", "registration"])
def test_a_learned_route_is_forgotten_when_the_servers_change(event: str) -> None:
    a = server("a", {})
    router, _ = learned(a)
    if event == "gone":
        a.state = "restarting"
        router.server_gone(a, "moving")
    elif event == "servers changed":
        router.routes_changed()
    elif event == "ready":
        router.server_ready(a)
        conn(a).sent.clear()
    else:
        register(router, a, {"id": "x", "method": "workspace/symbol"})
        conn(a).sent.clear()
    msg, body = note()
    assert not router.forward_plain(msg, body)
    assert not conn(a).sent


def test_a_reopened_document_is_routed_for_its_new_language() -> None:
    a = server("a", {})
    router, _ = learned(a)
    router.from_client(
        {
            "jsonrpc": "2.0",
            "method": "textDocument/didClose",
            "params": {"textDocument": {"uri": DOC}},
        }
    )
    router.from_client(
        {
            "jsonrpc": "2.0",
            "method": "textDocument/didOpen",
            "params": {
                "textDocument": {"uri": DOC, "languageId": "markdown", "version": 1, "text": ""}
            },
        }
    )
    conn(a).sent.clear()
    msg, body = note()
    assert not router.forward_plain(msg, body)  # a python server no longer serves it
    router.from_client(msg, body)
    assert not conn(a).sent


def test_a_server_that_maps_uris_never_takes_the_hot_path() -> None:
    a = server("a", {})
    a.placement = _container_placement("/workspace")
    router, _ = learned(a)
    msg, body = note("textDocument/didSave")
    router.from_client(msg, body)
    assert conn(a).sent[-1]["params"]["textDocument"]["uri"] == "file:///workspace/a.py"
    assert not router.forward_plain(msg, body)
    assert not conn(a).frames


def test_a_process_that_just_ended_gets_what_the_full_path_gives_it() -> None:
    a, b = server("a", {}), server("b", {}, 1)
    router, _ = learned(a, b)
    conn(a).writer = None  # its process ended; the supervisor has not said so yet
    conn(a).exited.set()
    msg, body = note()
    assert router.forward_plain(msg, body)
    assert not conn(a).sent  # the full path drops it too: the server is not running
    assert conn(b).frames == [body]


def test_a_notification_queued_from_the_hot_path_keeps_its_exact_numbers() -> None:
    a = server("a", {})
    router, _ = learned(a)
    conn(a).writer = None  # the process ended: the server restarts (maybe elsewhere)
    a.state = "restarting"
    big = 123456789012345678901234567890
    params = b'{"textDocument":{"uri":"%s"},"n":%d}' % (DOC.encode(), big)
    body = b'{"jsonrpc":"2.0","method":"$/vendor/note","params":%s}' % params
    assert router.forward_plain(orjson.loads(body), body)  # orjson read n as a float
    queued, queued_body = a.queue[-1]
    assert queued["params"]["n"] == big and type(queued["params"]["n"]) is int
    assert queued_body == body
