"""File events across the container boundary (bind mounts on macOS carry no inotify
events into the container): the editor's didChangeWatchedFiles reach the server with
container URIs, and the server's watcher registrations reach the editor in host terms."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from sero_ls.uris import path_to_uri
from tests.support.lsp import folder_status, session

SCRIPTED = Path(__file__).resolve().parents[1] / "fixtures" / "scripted_server.py"


async def test_watched_files_and_watcher_registrations_are_mapped(
    tmp_path: Path, tmp_workspace: Path, workspace_container
) -> None:
    ctr = workspace_container(tmp_workspace)
    servers = {
        "scripted": {
            "command": [sys.executable, str(SCRIPTED)],
            "containerCommand": ["python3", str(SCRIPTED)],
            "languages": ["python"],
        }
    }
    settings = {"containerBackend": "podman", "servers": servers}
    async with session([tmp_workspace], tmp=tmp_path, settings=settings) as s:
        registrations: list[Any] = []
        registered = asyncio.Event()

        @s.client.feature("client/registerCapability")
        def on_register(params: Any) -> None:
            registrations.append(params)
            registered.set()

        await s.status.wait_for(
            lambda n: (
                (folder_status(n, tmp_workspace) or {}).get("servers", [{}])[0].get("state")
                == "running"
            ),
            timeout=60,
        )
        doc = path_to_uri(str(tmp_workspace / "a.py"))
        here = {"textDocument": {"uri": doc}}
        watchers = [
            {"globPattern": "/workspace/**/*.py"},
            {"globPattern": {"baseUri": "file:///workspace/src", "pattern": "**/*.toml"}},
            {"globPattern": "**/*.cfg"},
        ]
        await s.request_raw(
            "scripted/trigger",
            {
                **here,
                # answered at once (the server then cancels its request): pygls' own client
                # cannot read a result that nests the client's raw JSON-RPC response
                "cancel": True,
                "method": "client/registerCapability",
                "params": {
                    "registrations": [
                        {
                            "id": "w1",
                            "method": "workspace/didChangeWatchedFiles",
                            "registerOptions": {"watchers": watchers},
                        }
                    ]
                },
            },
        )
        async with asyncio.timeout(20):
            await registered.wait()
        (reg,) = registrations
        got = s.client.protocol._converter.unstructure(reg)["registrations"][0]
        globs = [w["globPattern"] for w in got["registerOptions"]["watchers"]]
        assert globs[0] == f"{tmp_workspace}/**/*.py"
        assert globs[1]["baseUri"] == path_to_uri(str(tmp_workspace / "src"))
        assert globs[1]["pattern"] == "**/*.toml"
        assert globs[2] == "**/*.cfg"

        changed = path_to_uri(str(tmp_workspace / "pkg" / "mod é.py"))
        s.notify_raw("workspace/didChangeWatchedFiles", {"changes": [{"uri": changed, "type": 2}]})
        state = await s.request_raw("scripted/state", here)
        events = [
            n for n in state["notifications"] if n["method"] == "workspace/didChangeWatchedFiles"
        ]
        assert events, state["notifications"]
        assert [c["uri"] for c in events[-1]["params"]["changes"]] == [
            "file:///workspace/pkg/mod%20%C3%A9.py"
        ]
        assert (
            ctr.name in state["init"]["rootUri"] or state["init"]["rootUri"] == "file:///workspace"
        )
