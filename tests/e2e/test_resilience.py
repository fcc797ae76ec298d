"""Crash restart with replay, live runtime switching, and no orphans (real pylsp)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path
from typing import Any

import psutil
import pytest
from lsprotocol import types

from sero_ls.uris import path_to_uri
from tests.support import podman as pm
from tests.support.lsp import Session, folder_status, session

PYLSP = {"pylsp": {"command": ["pylsp"], "languages": ["python"]}}
BASE = "import os\n\n\ndef saved():\n    return 1\n"
UNSAVED = 'def unsaved_fn():\n    """only in the buffer"""\n\n\nunsaved_fn()\n'


def server(note: dict[str, Any], folder: Path) -> dict[str, Any] | None:
    st = folder_status(note, folder)
    return st["servers"][0] if st and st["servers"] else None


async def hover_text(s: Session, uri: str, line: int, ch: int) -> str:
    h = await s.client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=ch),
        )
    )
    return str(h.contents) if h else ""


async def open_with_unsaved_edit(s: Session, path: Path) -> str:
    uri = path_to_uri(str(path))
    s.client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=1, text=BASE
            )
        )
    )
    lines = BASE.count("\n")
    s.client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(
                        start=types.Position(line=lines, character=0),
                        end=types.Position(line=lines, character=0),
                    ),
                    text="\n\n" + UNSAVED,
                )
            ],
        )
    )
    return uri


UNSAVED_CALL = (BASE + "\n\n" + UNSAVED).splitlines().index("unsaved_fn()")


def forwarded_hovers(trace: Path) -> int:
    """How many hovers sero-ls has written to pylsp, from its message trace."""
    entries = [json.loads(line) for line in trace.read_text().splitlines()]
    return sum(
        e["to"] == "pylsp" and e["message"].get("method") == "textDocument/hover" for e in entries
    )


@pytest.mark.parametrize("where", ["host", "container"])
async def test_backend_killed_restarts_with_unsaved_text(
    tmp_path: Path, tmp_workspace: Path, request: pytest.FixtureRequest, where: str
) -> None:
    settings: dict[str, Any] = {"servers": PYLSP, "pollInterval": 0.5}
    ctr = None
    if where == "host":
        settings["runtime"] = "host"
    else:
        ctr = request.getfixturevalue("workspace_container")(tmp_workspace)
        settings["containerBackend"] = "podman"
    trace = tmp_path / "trace.jsonl"
    args = ("--trace", str(trace))
    async with session([tmp_workspace], tmp=tmp_path, settings=settings, args=args) as s:
        note = await s.status.wait_for(
            lambda n: (
                (server(n, tmp_workspace) or {}).get("state") == "running"
                and (server(n, tmp_workspace) or {}).get("mode") == where
            ),
            timeout=60,
        )
        pid = server(note, tmp_workspace)["pid"]
        uri = await open_with_unsaved_edit(s, tmp_workspace / "main.py")
        assert "only in the buffer" in await hover_text(s, uri, UNSAVED_CALL, 2)

        # freeze it so a request is surely in flight, then kill it
        victims = [psutil.Process(pid)]
        if ctr is not None:  # the language server itself runs inside the container
            inner = [p for p in pm.processes_in_container(ctr.name) if "pylsp" in p]
            assert inner, "pylsp is not running in the container"
        os.kill(pid, signal.SIGSTOP)
        hovers = forwarded_hovers(trace)
        in_flight = asyncio.ensure_future(hover_text(s, uri, UNSAVED_CALL, 2))
        # In flight: sero-ls has written it to the stopped server (its trace says so).
        async with asyncio.timeout(30):
            while forwarded_hovers(trace) == hovers:  # noqa: ASYNC110 (a file: no event)
                await asyncio.sleep(0.02)
        loop = asyncio.get_running_loop()
        killed_at = loop.time()
        for v in victims:
            v.kill()
        with pytest.raises(Exception, match="exited"):
            async with asyncio.timeout(5):
                await in_flight
        answered_in = loop.time() - killed_at
        assert answered_in < 1.0, f"the in-flight request waited {answered_in:.2f} s"

        note = await s.status.wait_for(
            lambda n: (
                (server(n, tmp_workspace) or {}).get("restarts") == 1
                and (server(n, tmp_workspace) or {}).get("state") == "running"
            ),
            timeout=60,
        )
        assert server(note, tmp_workspace)["pid"] != pid
        # the restarted server got the unsaved text, at its current version
        assert "only in the buffer" in await hover_text(s, uri, UNSAVED_CALL, 2)


async def test_repeated_crashes_give_up_with_a_retry(tmp_path: Path) -> None:
    ws = tmp_path / "w"
    ws.mkdir()
    settings = {"runtime": "host", "servers": PYLSP}
    async with session([ws], tmp=tmp_path, settings=settings) as s:
        killed: set[int] = set()

        def settled(n: dict[str, Any]) -> bool:
            srv = server(n, ws) or {}
            return srv.get("state") == "failed" or (
                srv.get("state") == "running" and srv.get("pid") not in killed
            )

        for _ in range(8):
            srv = server(await s.status.wait_for(settled, timeout=60), ws)
            if srv["state"] == "failed":
                break
            killed.add(srv["pid"])
            psutil.Process(srv["pid"]).kill()
        note = await s.status.wait_for(
            lambda n: (server(n, ws) or {}).get("state") == "failed", timeout=60
        )
        assert server(note, ws)["reason"] == "server-crashed"
        diags = await s.wait_diagnostics(
            path_to_uri(str(ws)), lambda d: any(x.code == "server-crashed" for x in d)
        )
        actions = await s.request_raw(
            "textDocument/codeAction",
            {
                "textDocument": {"uri": path_to_uri(str(ws))},
                "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}},
                "context": {"diagnostics": [s.client.protocol._converter.unstructure(diags[0])]},
            },
        )
        (retry,) = [a for a in actions if a["command"]["command"] == "sero.restartServers"]
        await s.command("sero.restartServers", *retry["command"]["arguments"])
        await s.status.wait_for(lambda n: (server(n, ws) or {}).get("state") == "running")
        await s.wait_diagnostics(path_to_uri(str(ws)), lambda d: d == [])


def edit(s: Session, uri: str, version: int, line: int, text: str) -> None:
    s.client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(
                        start=types.Position(line=line, character=0),
                        end=types.Position(line=line, character=0),
                    ),
                    text=text,
                )
            ],
        )
    )


def placed(folder: Path, mode: str, server_mode: str):
    def check(n: dict[str, Any]) -> bool:
        st = folder_status(n, folder)
        srv = server(n, folder) or {}
        return (
            bool(st)
            and st["mode"] == mode
            and srv.get("mode") == server_mode
            and srv.get("state") == "running"
        )

    return check


async def test_container_stop_and_start_move_servers_keeping_edits(
    tmp_path: Path, tmp_workspace: Path, workspace_container
) -> None:
    ctr = workspace_container(tmp_workspace)
    settings = {"servers": PYLSP, "containerBackend": "podman", "pollInterval": 0.5}
    async with session([tmp_workspace], tmp=tmp_path, settings=settings) as s:
        await s.status.wait_for(placed(tmp_workspace, "container", "container"), timeout=60)
        uri = await open_with_unsaved_edit(s, tmp_workspace / "main.py")
        assert "only in the buffer" in await hover_text(s, uri, UNSAVED_CALL, 2)

        mark = s.status.mark()
        pm.stop(ctr.name)
        # an edit made while the servers move
        edit(s, uri, 3, 0, 'def during_switch():\n    """typed while moving"""\n\n\n')
        await s.status.wait_for(placed(tmp_workspace, "host", "host"), timeout=60, after=mark)
        shift = 4
        assert "only in the buffer" in await hover_text(s, uri, UNSAVED_CALL + shift, 2)
        edit(s, uri, 4, 4, "during_switch()\n")
        assert "typed while moving" in await hover_text(s, uri, 4, 2)

        mark = s.status.mark()
        pm.start(ctr.name)
        await s.status.wait_for(
            placed(tmp_workspace, "container", "container"), timeout=60, after=mark
        )
        assert "typed while moving" in await hover_text(s, uri, 4, 2)
        assert "only in the buffer" in await hover_text(s, uri, UNSAVED_CALL + shift + 1, 2)

        # the toggle moves them the same way
        folder_uri = path_to_uri(str(tmp_workspace))
        mark = s.status.mark()
        await s.request("sero/setRuntime", {"uri": folder_uri, "runtime": "host"})
        note = await s.status.wait_for(
            placed(tmp_workspace, "host", "host"), timeout=60, after=mark
        )
        assert folder_status(note, tmp_workspace)["reason"] == "runtime-host-selected"
        assert "typed while moving" in await hover_text(s, uri, 4, 2)
        mark = s.status.mark()
        await s.request("sero/setRuntime", {"uri": folder_uri, "runtime": "auto"})
        await s.status.wait_for(
            placed(tmp_workspace, "container", "container"), timeout=60, after=mark
        )
