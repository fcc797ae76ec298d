"""The proxy is lossless: the real sero-ls process (wrapper and hub mode) in front of a
scripted language server, driven by a raw JSON-RPC client that sees every byte.

What pylsp never does is scripted here (tests/fixtures/scripted_server.py): vendor
fields and unknown methods both ways, server-to-client requests, cancellation,
out-of-order responses, a 10 MB didOpen, a burst of 10,000 incremental didChange,
shutdown/exit, a backend that floods its stderr, several folders, a missing backend.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from pygls.protocol import default_converter
from pytest_lsp import client_capabilities

from sero_ls.uris import path_to_uri
from tests.support.rawclient import RawClient

pytestmark = pytest.mark.timeout(90)

SCRIPTED = str(Path(__file__).resolve().parents[1] / "fixtures" / "scripted_server.py")
MODES = ["wrapper", "hub"]


def raw_caps(editor: str) -> dict[str, Any]:
    return default_converter().unstructure(client_capabilities(editor))


def scripted_argv(events: Path, *extra: str) -> list[str]:
    return [sys.executable, SCRIPTED, "--events", str(events), *extra]


class Proxy:
    """One sero-ls process under test and what the test needs to know about it."""

    def __init__(self, client: RawClient, mode: str, folders: list[Path], events: Path) -> None:
        self.client = client
        self.mode = mode
        self.folders = folders
        self.events = events
        self.init_result: dict[str, Any] = {}
        self.init_params: dict[str, Any] = {}

    def uri(self, name: str, folder: int = 0) -> str:
        return path_to_uri(str(self.folders[folder] / name))

    def open(self, uri: str, text: str, version: int = 1, **vendor: Any) -> None:
        td = {"uri": uri, "languageId": "python", "version": version, "text": text, **vendor}
        self.client.notify("textDocument/didOpen", {"textDocument": td})

    async def state(self, uri: str) -> dict[str, Any]:
        """The backend's view (the request is routed by the document in hub mode)."""
        result: dict[str, Any] = await self.client.request(
            "scripted/state", {"textDocument": {"uri": uri}}, timeout=60
        )
        return result

    def event_lines(self) -> list[dict[str, Any]]:
        if not self.events.exists():
            return []
        return [json.loads(line) for line in self.events.read_text().splitlines()]


def hub_settings(servers: dict[str, Any]) -> dict[str, Any]:
    return {"settings": {"runtime": "host", "servers": servers}}


@contextlib.asynccontextmanager
async def start(
    mode: str,
    tmp: Path,
    *,
    folders: int = 1,
    servers: dict[str, Any] | None = None,
    editor: str = "visual-studio-code",
    backend_args: tuple[str, ...] = (),
    initialized: bool = True,
) -> AsyncIterator[Proxy]:
    """sero-ls in ``mode`` with the scripted backend, initialized by a raw client."""
    dirs = []
    for i in range(folders):
        d = tmp / f"proj {i} é"  # a space and a non-ASCII letter: URIs stay byte-exact
        (d / ".sero").mkdir(parents=True)
        (d / ".sero" / "config.toml").write_text('runtime = "host"\n')
        dirs.append(d)
    events = tmp / "events.jsonl"
    env = {**os.environ, "SERO_LS_STATE_DIR": str(tmp / "state")}
    log = str(tmp / "sero-ls.log")
    if mode == "wrapper":
        argv = [sys.executable, "-m", "sero_ls", "proxy", "--log-file", log, "-v", "--"]
        argv += scripted_argv(events, *backend_args)
    else:
        argv = [sys.executable, "-m", "sero_ls", "serve", "--log-file", log, "-v"]
    async with RawClient.spawn(argv, env=env, cwd=str(tmp)) as client:
        proxy = Proxy(client, mode, dirs, events)
        params: dict[str, Any] = {
            "processId": os.getpid(),
            "clientInfo": {"name": "raw-test-client", "version": "0"},
            "rootUri": path_to_uri(str(dirs[0])),
            "workspaceFolders": [{"uri": path_to_uri(str(d)), "name": d.name} for d in dirs],
            "capabilities": raw_caps(editor),
            "xVendorInit": {"from": "client", "list": [1, 2, 3]},
        }
        if mode == "wrapper":
            params["initializationOptions"] = {"scriptedOption": ["a", {"b": None}]}
        else:
            servers = servers or {
                "scripted": {
                    "command": scripted_argv(events, *backend_args),
                    "languages": ["python"],
                }
            }
            params["initializationOptions"] = hub_settings(servers)
        proxy.init_params = params
        if initialized:
            proxy.init_result = await client.initialize(params, timeout=60)
        else:
            proxy.init_result = await client.request("initialize", params, timeout=60)
        try:
            yield proxy
        except BaseException:
            dump_log(Path(log))
            raise


def dump_log(path: Path) -> None:
    """On failure, the tail of sero-ls' log goes to the test's output."""
    if path.exists():
        sys.stderr.write(path.read_text(errors="replace")[-20000:])


async def wait_gone(pid: int, timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while True:
            try:
                if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                    return
            except psutil.NoSuchProcess:
                return
            await asyncio.sleep(0.05)


# ====================================================================== vendor fields, methods


@pytest.mark.parametrize("mode", MODES)
async def test_vendor_fields_and_unknown_methods_both_ways(tmp_path: Path, mode: str) -> None:
    async with start(mode, tmp_path) as p:
        c = p.client
        caps = p.init_result["capabilities"]
        assert caps["experimental"]["scriptedVendor"] == {"answer": 42}
        assert caps["hoverProvider"] is True
        if mode == "wrapper":  # the server's own initialize result, unknown keys included
            assert p.init_result["xVendorInitResult"]["pid"] > 0
            assert p.init_result["serverInfo"] == {"name": "scripted", "version": "1.0"}
        uri = p.uri("a.py")
        p.open(uri, "x = 1\n", xVendorDoc="kept")
        state = await p.state(uri)
        # the backend got the client's initialize params (wrapper: verbatim but processId)
        init = state["init"]
        if mode == "wrapper":
            assert init["xVendorInit"] == p.init_params["xVendorInit"]
            assert init["initializationOptions"] == p.init_params["initializationOptions"]
            assert init["rootUri"] == p.init_params["rootUri"]
        assert state["documents"][uri]["length"] == len("x = 1\n")

        # a known request with unknown keys in its params; the result's unknown keys
        hover_params = {
            "textDocument": {"uri": uri, "xVendorTd": 1},
            "position": {"line": 0, "character": 0},
            "xVendorParam": {"deep": [1, 2.5, None, True, "é\u2028"]},
        }
        hover = await c.request("textDocument/hover", hover_params)
        assert hover["echo"] == hover_params
        assert hover["xVendorResult"] == {"nested": [1, {"k": "v"}]}
        assert hover["contents"]["value"].startswith("hover from ")

        # an unknown request (routed by its document in hub mode)
        vparams = {"textDocument": {"uri": uri}, "payload": {"a": [1, {"b": "c"}]}}
        assert (await c.request("$/vendor/request", vparams))["echo"] == vparams
        if mode == "wrapper":  # no document: the one server takes it
            assert (await c.request("$/vendor/request", {"bare": 1}))["echo"] == {"bare": 1}

        # unknown notifications from the client reach the server, params intact
        nparams = {"textDocument": {"uri": uri}, "xs": list(range(5)), "s": "é"}
        c.notify("$/vendor/notify", nparams)
        c.notify("custom/notification", {"textDocument": {"uri": uri}, "k": {"v": None}})
        notes = (await p.state(uri))["notifications"]
        assert {"method": "$/vendor/notify", "params": nparams} in notes
        assert {
            "method": "custom/notification",
            "params": {"textDocument": {"uri": uri}, "k": {"v": None}},
        } in notes

        # unknown notifications (and known ones with unknown keys) from the server
        for method, params in [
            ("$/vendor/event", {"any": ["thing", {"x": 1}], "n": None}),
            ("window/logMessage", {"type": 3, "message": "m", "xVendorLog": 7}),
        ]:
            ack = await c.request(
                "scripted/trigger",
                {"textDocument": {"uri": uri}, "method": method, "params": params, "notify": True},
            )
            assert ack == {"sent": True}
            got = await c.notification(method, lambda prm, want=params: prm == want)
            assert got == {"jsonrpc": "2.0", "method": method, "params": params}


@pytest.mark.parametrize("mode", MODES)
async def test_server_requests_are_forwarded_and_answers_routed_back(
    tmp_path: Path, mode: str
) -> None:
    async with start(mode, tmp_path, editor="neovim") as p:
        c = p.client
        answers: dict[str, Any] = {
            "client/registerCapability": None,
            "workspace/configuration": [{"pylsp": {"plugins": {}}}, None],
            "window/workDoneProgress/create": None,
            "workspace/applyEdit": {"applied": True, "xVendorApplied": [1]},
            "$/vendor/serverRequest": {"pong": {"deep": [None, "é"]}},
        }
        for method, answer in answers.items():
            c.handlers[method] = lambda msg, answer=answer: answer
        uri = p.uri("b.py")
        p.open(uri, "y = 2\n")
        edit = {
            "changes": {uri: [{"range": rng(0, 0, 0, 1), "newText": "z"}]},
            "xVendorEdit": True,
        }
        sent = {
            "client/registerCapability": {
                "registrations": [
                    {
                        "id": "reg-1",
                        "method": "workspace/didChangeWatchedFiles",
                        "registerOptions": {"watchers": [{"globPattern": "**/*.py"}]},
                    }
                ]
            },
            "workspace/configuration": {
                "items": [{"section": "pylsp", "scopeUri": uri}, {"section": "other"}]
            },
            "window/workDoneProgress/create": {"token": "tok-1"},
            "workspace/applyEdit": {"label": "scripted", "edit": edit},
            "$/vendor/serverRequest": {"ping": [1, 2, 3]},
        }
        for method, params in sent.items():
            reply = await c.request(
                "scripted/trigger",
                {"textDocument": {"uri": uri}, "method": method, "params": params},
            )
            response = reply["response"]
            # the server got the client's answer, under the id the server used
            assert response["id"].startswith("scripted-")
            assert response.get("result") == answers[method], method
            assert "error" not in response
            req = next(r for r in reversed(c.server_requests) if r["method"] == method)
            if method == "client/registerCapability":
                reg = req["params"]["registrations"][0]
                assert reg["id"].endswith("reg-1")
                assert reg["method"] == "workspace/didChangeWatchedFiles"
                assert reg["registerOptions"] == sent[method]["registrations"][0]["registerOptions"]
            else:
                assert req["params"] == params, method
        # progress for the token the client created
        progress = {"token": "tok-1", "value": {"kind": "begin", "title": "t", "xV": 1}}
        await c.request(
            "scripted/trigger",
            {
                "textDocument": {"uri": uri},
                "method": "$/progress",
                "params": progress,
                "notify": True,
            },
        )
        await c.notification("$/progress", lambda prm: prm == progress)


@pytest.mark.parametrize("mode", MODES)
async def test_cancel_and_out_of_order_responses(tmp_path: Path, mode: str) -> None:
    async with start(mode, tmp_path) as p:
        c = p.client
        uri = p.uri("c.py")
        p.open(uri, "")
        doc = {"textDocument": {"uri": uri}}

        # $/cancelRequest reaches the server, whose RequestCancelled reaches the client
        slow_id, slow = c.request_nowait("scripted/slow", doc)
        c.notify("$/cancelRequest", {"id": slow_id})
        await c.drain()
        async with asyncio.timeout(20):
            answer = await slow
        assert answer["id"] == slow_id
        assert answer["error"]["code"] == -32800
        notes = (await p.state(uri))["notifications"]
        assert {"method": "$/cancelRequest", "params": {"id": slow_id}} in notes

        # the server answers request 2 before request 1: each answer finds its request
        ids = []
        futures = []
        for tag in ("one", "two", "three"):
            hid, hold = c.request_nowait("scripted/hold", {**doc, "tag": tag})
            ids.append(hid)
            futures.append(hold)
        rid, release = c.request_nowait("scripted/release", {**doc, "tag": "two"})
        await c.drain()
        async with asyncio.timeout(20):
            assert (await release)["result"] == {"released": "two"}
            assert (await futures[1])["result"] == {"tag": "two"}
        order = [m["id"] for k, m in c.received if k == "response" and m["id"] in (rid, ids[1])]
        assert order == [rid, ids[1]]
        for tag, fut in (("three", futures[2]), ("one", futures[0])):
            assert (await c.request("scripted/release", {**doc, "tag": tag})) == {"released": tag}
            async with asyncio.timeout(20):
                assert (await fut)["result"] == {"tag": tag}
        assert not any(f.exception() for f in futures)


# ====================================================================== volume


def rng(l1: int, c1: int, l2: int, c2: int) -> dict[str, Any]:
    return {"start": {"line": l1, "character": c1}, "end": {"line": l2, "character": c2}}


def burst_changes(n: int, lines: int) -> list[dict[str, Any]]:
    """Incremental edits: inserts, replacements, line splits and joins, multi-change messages."""
    out = []
    for i in range(n):
        k = (i * 7) % lines
        if i % 4 == 0:
            changes = [{"range": rng(k, 0, k, 0), "text": f"{i};"}]
        elif i % 4 == 1:
            changes = [{"range": rng(k, 0, k, 1), "text": "Z"}]
        elif i % 4 == 2:  # split a line, then join it back: two changes in one message
            changes = [
                {"range": rng(k, 1, k, 1), "text": "\n"},
                {"range": rng(k, 1, k + 1, 0), "text": ""},
            ]
        else:
            changes = [{"range": rng(k, 2, k, 4), "text": "é"}]
        out.append(changes)
    return out


def apply_lines(lines: list[str], changes: list[dict[str, Any]]) -> list[str]:
    """An independent line-list model of the edits (text on a line, no '\\n')."""
    for ch in changes:
        s, e = ch["range"]["start"], ch["range"]["end"]
        head = lines[s["line"]][: s["character"]]
        tail = lines[e["line"]][e["character"] :]
        lines[s["line"] : e["line"] + 1] = (head + ch["text"] + tail).split("\n")
    return lines


@pytest.mark.parametrize("mode", MODES)
async def test_ten_megabyte_open_and_ten_thousand_changes_in_order(
    tmp_path: Path, mode: str
) -> None:
    async with start(mode, tmp_path) as p:
        c = p.client
        big_uri = p.uri("big.py")
        big = "".join(f"line_{i:07d} = {'é' * 40} + {'x' * 40}\n" for i in range(102_400))
        assert len(big.encode()) > 10 * 2**20
        p.open(big_uri, big)
        state = (await p.state(big_uri))["documents"][big_uri]
        assert state["length"] == len(big)
        assert state["sha256"] == hashlib.sha256(big.encode()).hexdigest()

        uri = p.uri("burst.py")
        lines = [f"row {i} abcdef" for i in range(200)]
        p.open(uri, "\n".join(lines) + "\n")
        changes = burst_changes(10_000, 200)
        model = [*lines, ""]
        for i, ch in enumerate(changes):
            c.notify(
                "textDocument/didChange",
                {"textDocument": {"uri": uri, "version": i + 2}, "contentChanges": ch},
            )
            model = apply_lines(model, ch)
            if i % 500 == 0:
                await c.drain()
        await c.drain()
        final = "\n".join(model)
        doc = (await p.state(uri))["documents"][uri]
        versions = hashlib.sha256("".join(f"{v}," for v in range(1, 10_002)).encode())
        assert doc["changes"] == 10_000
        assert doc["version"] == 10_001
        assert doc["versionsHash"] == versions.hexdigest()
        assert doc["sha256"] == hashlib.sha256(final.encode()).hexdigest()


async def test_hub_gives_full_text_to_a_server_that_asks_for_it(tmp_path: Path) -> None:
    """The editor sends incremental changes; a full-sync server gets each version's text."""
    async with start("hub", tmp_path, backend_args=("--sync", "1")) as p:
        uri = p.uri("full.py")
        lines = [f"row {i} abcdef" for i in range(50)]
        p.open(uri, "\n".join(lines) + "\n")
        model = [*lines, ""]
        for i, ch in enumerate(burst_changes(1000, 50)):
            p.client.notify(
                "textDocument/didChange",
                {"textDocument": {"uri": uri, "version": i + 2}, "contentChanges": ch},
            )
            model = apply_lines(model, ch)
        doc = (await p.state(uri))["documents"][uri]
        assert doc["changes"] == 1000 and doc["version"] == 1001
        assert doc["rangedChanges"] == 0  # whole texts only
        assert doc["sha256"] == hashlib.sha256("\n".join(model).encode()).hexdigest()


# ====================================================================== lifecycle


@pytest.mark.parametrize("mode", MODES)
async def test_shutdown_exit_ends_proxy_and_backend(tmp_path: Path, mode: str) -> None:
    async with start(mode, tmp_path) as p:
        uri = p.uri("d.py")
        p.open(uri, "")
        backend_pid = (await p.state(uri))["pid"]
        assert psutil.pid_exists(backend_pid)
        status = await p.client.shutdown_exit()
        assert status == 0
        await wait_gone(backend_pid)
        kinds = [(e["kind"], e.get("afterShutdown")) for e in p.event_lines()]
        assert kinds[-2:] == [("shutdown", None), ("exit", True)]
        # the backend flooded its stderr (1 MB before reading stdin) and still initialized
        assert "scripted server: chatty stderr line" in (tmp_path / "sero-ls.log").read_text()


async def test_hub_two_folders_two_instances(tmp_path: Path) -> None:
    async with start("hub", tmp_path, folders=2) as p:
        uris = [p.uri("m.py", 0), p.uri("m.py", 1)]
        for uri in uris:
            p.open(uri, "m = 0\n")
        states = [await p.state(uri) for uri in uris]
        pids = [s["pid"] for s in states]
        assert pids[0] != pids[1]
        for i, s in enumerate(states):
            folder_uri = path_to_uri(str(p.folders[i]))
            assert s["init"]["rootUri"] == folder_uri
            assert s["init"]["workspaceFolders"] == [{"uri": folder_uri, "name": p.folders[i].name}]
            assert list(s["documents"]) == [uris[i]]  # each server sees only its folder's files
        for uri, pid in zip(uris, pids, strict=True):
            hover = await p.client.request(
                "textDocument/hover",
                {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}},
            )
            assert hover["contents"]["value"] == f"hover from {pid}"
        status = await p.client.request("sero/workspaceStatus", {})
        by_uri = {f["uri"]: f for f in status["folders"]}
        for i, pid in enumerate(pids):
            servers = by_uri[path_to_uri(str(p.folders[i]))]["servers"]
            assert [(s["id"], s["state"], s["pid"]) for s in servers] == [
                ("scripted", "running", pid)
            ]


async def test_hub_folder_added_gets_its_instance_and_removed_folder_stops_its(
    tmp_path: Path,
) -> None:
    async with start("hub", tmp_path) as p:
        c = p.client
        a_uri = p.uri("a.py")
        p.open(a_uri, "a = 1\n")
        a_pid = (await p.state(a_uri))["pid"]
        b = tmp_path / "added folder"
        (b / ".sero").mkdir(parents=True)
        (b / ".sero" / "config.toml").write_text('runtime = "host"\n')
        b_folder = {"uri": path_to_uri(str(b)), "name": b.name}
        a_folder = {"uri": path_to_uri(str(p.folders[0])), "name": p.folders[0].name}
        c.notify(
            "workspace/didChangeWorkspaceFolders",
            {"event": {"added": [b_folder], "removed": []}},
        )

        def b_running(msg: dict[str, Any]) -> bool:
            folders = (msg.get("params") or {}).get("folders") or []
            return any(
                f["uri"] == b_folder["uri"] and [s["state"] for s in f["servers"]] == ["running"]
                for f in folders
            )

        await c.wait_for(lambda k, m: m.get("method") == "sero/statusChanged" and b_running(m))
        b_uri = path_to_uri(str(b / "b.py"))
        p.open(b_uri, "b = 2\n")
        b_state = await p.state(b_uri)
        assert b_state["pid"] != a_pid
        assert b_state["init"]["workspaceFolders"] == [b_folder]
        assert list(b_state["documents"]) == [b_uri]

        c.notify(
            "workspace/didChangeWorkspaceFolders",
            {"event": {"added": [], "removed": [a_folder]}},
        )
        await wait_gone(a_pid)
        a_events = [e["kind"] for e in p.event_lines() if e["pid"] == a_pid]
        assert a_events[-2:] == ["shutdown", "exit"]
        assert (await p.state(b_uri))["pid"] == b_state["pid"]  # B's server untouched


async def test_hub_backend_that_cannot_start_is_reported_and_others_work(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    servers = {
        "ghost": {"command": [str(tmp_path / "no-such-ls")], "languages": ["python"]},
        "scripted": {"command": scripted_argv(events), "languages": ["python"]},
    }
    async with start("hub", tmp_path, servers=servers) as p:
        uri = p.uri("e.py")
        p.open(uri, "e = 1\n")
        hover = await p.client.request(
            "textDocument/hover",
            {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}},
        )
        assert hover["contents"]["value"].startswith("hover from ")
        status = await p.client.request("sero/workspaceStatus", {"uri": uri})
        servers_status = {s["id"]: s for s in status["folders"][0]["servers"]}
        ghost = servers_status["ghost"]
        assert ghost["state"] == "failed"
        assert ghost["reason"] == "server-not-found"
        assert "no-such-ls" in ghost["message"]
        assert servers_status["scripted"]["state"] == "running"


@pytest.mark.parametrize("mode", MODES)
async def test_big_messages_both_ways_and_backend_commands(tmp_path: Path, mode: str) -> None:
    async with start(mode, tmp_path) as p:
        uri = p.uri("f.py")
        p.open(uri, "")
        blob = "é" * (3 * 2**20) + '\u2028\x00"\\'
        params = {"textDocument": {"uri": uri}, "blob": blob}
        echo = (await p.client.request("$/vendor/request", params, timeout=60))["echo"]
        assert echo == params
        # the backend's own command goes to the backend (sero.* commands stay in sero-ls)
        cmd = {"command": "scripted.command", "arguments": [{"x": 1}, None], "xVendorCmd": 2}
        assert (await p.client.request("workspace/executeCommand", cmd))["echo"] == cmd


@pytest.mark.parametrize("mode", MODES)
async def test_editor_gone_ends_proxy_and_backend(tmp_path: Path, mode: str) -> None:
    async with start(mode, tmp_path) as p:
        uri = p.uri("g.py")
        p.open(uri, "")
        backend_pid = (await p.state(uri))["pid"]
        p.client.writer.close()  # the editor crashed: stdin closes, no shutdown, no exit
        async with asyncio.timeout(20):
            await p.client.proc.wait()
        await wait_gone(backend_pid)


# =================================================== gaps found and fixed (issue #3)


@pytest.mark.parametrize("mode", MODES)
async def test_client_notifications_sero_ls_also_handles_reach_the_backend(
    tmp_path: Path, mode: str
) -> None:
    """`$/setTrace` and `window/workDoneProgress/cancel` (for a token the backend created)
    are backend business too: the user cancels pylsp's progress, the editor turns tracing on."""
    async with start(mode, tmp_path) as p:
        c = p.client
        uri = p.uri("h.py")
        p.open(uri, "")
        doc = {"textDocument": {"uri": uri}}
        await c.request(
            "scripted/trigger",
            {**doc, "method": "window/workDoneProgress/create", "params": {"token": "tk"}},
        )
        c.notify("window/workDoneProgress/cancel", {"token": "tk"})
        c.notify("$/setTrace", {"value": "verbose"})
        methods = [n["method"] for n in (await p.state(uri))["notifications"]]
        assert "window/workDoneProgress/cancel" in methods
        assert "$/setTrace" in methods


@pytest.mark.parametrize("mode", MODES)
async def test_backend_cancel_of_its_request_names_the_id_the_client_saw(
    tmp_path: Path, mode: str
) -> None:
    async with start(mode, tmp_path) as p:
        c = p.client
        uri = p.uri("i.py")
        p.open(uri, "")
        answered = asyncio.Event()

        async def never(msg: dict[str, Any]) -> Any:
            await answered.wait()
            return {"applied": False}

        c.handlers["workspace/applyEdit"] = never
        await c.request(
            "scripted/trigger",
            {
                "textDocument": {"uri": uri},
                "method": "workspace/applyEdit",
                "params": {"edit": {"changes": {}}},
                "cancel": True,
            },
        )
        cancel = await c.notification("$/cancelRequest")
        answered.set()
        req = next(r for r in c.server_requests if r["method"] == "workspace/applyEdit")
        assert cancel["params"] == {"id": req["id"]}


async def test_wrapper_backend_is_initialized_after_the_client(tmp_path: Path) -> None:
    """In wrapper mode the backend's `initialized` is the client's: it may send requests
    (registerCapability, configuration) only after the client has its initialize result."""
    async with start("wrapper", tmp_path, initialized=False) as p:
        uri = p.uri("j.py")
        assert (await p.state(uri))["initialized"] is False
        p.client.notify("initialized", {})
        assert (await p.state(uri))["initialized"] is True


async def test_wrapper_forwards_workspace_folder_changes(tmp_path: Path) -> None:
    async with start("wrapper", tmp_path) as p:
        other = tmp_path / "other"
        other.mkdir()
        added = {"uri": path_to_uri(str(other)), "name": "other"}
        event = {"event": {"added": [added], "removed": []}}
        p.client.notify("workspace/didChangeWorkspaceFolders", event)
        notes = (await p.state(p.uri("k.py")))["notifications"]
        assert {"method": "workspace/didChangeWorkspaceFolders", "params": event} in notes


@pytest.mark.parametrize("mode", MODES)
async def test_document_less_vendor_request_reaches_the_only_server(
    tmp_path: Path, mode: str
) -> None:
    """A server-specific request that names no document (e.g. a vendor's status query):
    with exactly one server running there is no doubt where it goes, in the hub too."""
    async with start(mode, tmp_path) as p:
        echo = await p.client.request("$/vendor/request", {"plain": [1, "two"]})
        assert echo["echo"] == {"plain": [1, "two"]}
