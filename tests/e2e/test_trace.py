"""The message trace (`--trace FILE`, the `trace` setting) of a real session: a hover through
the hub to pylsp in a real Podman container, and through the wrapper on the host."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types

from sero_ls.uris import path_to_uri
from tests.e2e.test_container_proxy import (
    SOURCE,
    container_settings,
    open_doc,
    pos,
    wait_container_mode,
)
from tests.support.lsp import Session, session

PYLSP = "/usr/bin/pylsp"
pytestmark = [
    pytest.mark.skipif(shutil.which(PYLSP) is None, reason="Debian's python3-pylsp is missing"),
    pytest.mark.filterwarnings("ignore:Unknown progress token"),
]


def read_trace(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def hover_legs(s: Session, trace: Path, uri: str, server: str) -> list[dict[str, Any]]:
    """Hover on greet("x") (line 9) and return the four trace entries that carry it."""
    hover = await s.client.text_document_hover_async(
        types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri), position=pos(9, 2))
    )
    assert hover is not None and "Say hello" in str(hover.contents)
    # The answer reached the client, so every leg is written (each line is flushed).
    entries = read_trace(trace)
    [request] = [
        e
        for e in entries
        if e["from"] == "client" and e["message"].get("method") == "textDocument/hover"
    ]
    msg_id = request["message"]["id"]
    legs = [
        next(e for e in entries if (e["from"], e["to"]) == leg and e["message"].get("id") == msg_id)
        for leg in (
            ("client", "sero-ls"),
            ("sero-ls", server),
            (server, "sero-ls"),
            ("sero-ls", "client"),
        )
    ]
    times = [e["time"] for e in legs]
    assert times == sorted(times), legs
    assert "Say hello" in json.dumps(legs[2]["message"]["result"])
    assert legs[3]["message"]["result"] == legs[2]["message"]["result"]
    return legs


@pytest.mark.podman
async def test_hub_trace_shows_a_hover_on_four_legs_with_container_paths(
    tmp_path: Path, tmp_workspace: Path, workspace_container
) -> None:
    (tmp_workspace / "main.py").write_text(SOURCE)
    ctr = workspace_container(tmp_workspace)
    trace = tmp_path / "trace.jsonl"
    async with session(
        [tmp_workspace], tmp=tmp_path, settings=container_settings(), args=("--trace", str(trace))
    ) as s:
        await wait_container_mode(s, tmp_workspace)
        uri = await open_doc(s, tmp_workspace / "main.py")
        legs = await hover_legs(s, trace, uri, "pylsp")
        logs = await s.request_raw("sero/logs", {})
    to_client, to_server = legs[0], legs[1]
    assert to_client["message"]["params"]["textDocument"]["uri"] == uri
    in_container = path_to_uri(f"{ctr.dest}/main.py")
    assert to_server["message"]["params"]["textDocument"]["uri"] == in_container
    assert to_server["folder"] == tmp_workspace.name and legs[2]["folder"] == tmp_workspace.name
    # The server's initialize went into the container with the container's root too.
    entries = read_trace(trace)
    init = next(
        e for e in entries if e["to"] == "pylsp" and e["message"].get("method") == "initialize"
    )
    assert init["message"]["params"]["rootUri"] == path_to_uri(ctr.dest)
    # sero-ls' own messages (its initialize result, sero/statusChanged) are there as well.
    assert any(e["message"].get("method") == "sero/statusChanged" for e in entries)
    assert {"name": "sero-ls-trace", "path": str(trace)} in [
        {"name": e["name"], "path": e["path"]} for e in logs["logs"]
    ]


async def test_wrapper_trace_names_the_wrapped_command(tmp_path: Path) -> None:
    ws = tmp_path / "proj"
    ws.mkdir()
    (ws / "main.py").write_text(SOURCE)
    trace = tmp_path / "wrapper.jsonl"
    args = ("proxy", "--trace", str(trace), "--", PYLSP)
    async with session([ws], tmp=tmp_path, args=args) as s:
        uri = await open_doc(s, ws / "main.py")
        legs = await hover_legs(s, trace, uri, "pylsp")
    assert legs[1]["message"]["params"]["textDocument"]["uri"] == uri  # the host: no mapping


async def test_trace_setting_writes_envelopes_to_a_listed_file(tmp_path: Path) -> None:
    """`trace = "messages"` (no --trace): a per-process file in the log folder, offered by
    sero/logs (VS Code's Open Logs); messages without their params or results."""
    ws = tmp_path / "proj"
    ws.mkdir()
    logs_dir = tmp_path / "logs"
    settings = {"runtime": "host", "trace": "messages"}
    async with session(
        [ws], tmp=tmp_path, settings=settings, env={"SERO_LS_LOG_DIR": str(logs_dir)}
    ) as s:
        logs = await s.request_raw("sero/logs", {})
        [entry] = [e for e in logs["logs"] if e["name"] == "sero-ls-trace"]
        path = Path(entry["path"])
        assert path.parent == logs_dir and path.name.startswith("sero-ls-trace-")
        # Each line is written before the message it records: the answer is in the file.
        entries = read_trace(path)
    [ask] = [e for e in entries if e["message"].get("method") == "sero/logs"]
    assert (ask["from"], ask["to"]) == ("client", "sero-ls")
    answers = [e for e in entries if e["from"] == "sero-ls" and "method" not in e["message"]]
    assert ask["message"]["id"] in [e["message"].get("id") for e in answers]
    assert all(set(e["message"]) <= {"jsonrpc", "id", "method", "error"} for e in entries)


async def test_an_unwritable_trace_folder_costs_only_the_trace(tmp_path: Path) -> None:
    ws = tmp_path / "proj"
    ws.mkdir()
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    settings = {"runtime": "host", "trace": "verbose"}
    env = {"SERO_LS_LOG_DIR": str(not_a_folder)}
    async with session([ws], tmp=tmp_path, settings=settings, env=env) as s:
        logs = await s.request_raw("sero/logs", {})
        status = await s.request_raw("sero/workspaceStatus", {})
    assert "sero-ls-trace" not in [e["name"] for e in logs["logs"]]
    assert status["folders"][0]["mode"] == "host"
