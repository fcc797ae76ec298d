"""The start-up path places servers from the folder's cached status before it resolves
(lsp/boot.py): a wrong guess is corrected by a move, with the open document intact."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from lsprotocol import types

from sero_ls.uris import path_to_uri
from tests.support import podman as pm
from tests.support.lsp import Session, folder_status, session

PYLSP = {"pylsp": {"command": ["pylsp"], "languages": ["python"]}}
SETTINGS = {"containerBackend": "podman", "pollInterval": 0.5, "servers": PYLSP}
SOURCE = "first_missing = undefined_one\n"


def open_doc(s: Session, path: Path) -> str:
    uri = path_to_uri(str(path))
    s.client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=1, text=path.read_text()
            )
        )
    )
    return uri


async def server_mode(s: Session, folder: Path, mode: str) -> dict[str, Any]:
    def ok(note: dict[str, Any]) -> bool:
        st = folder_status(note, folder)
        return bool(
            st and st["servers"] and st["servers"][0]["mode"] == mode
            and st["servers"][0]["state"] == "running"
        )  # fmt: skip

    note = await s.status.wait_for(ok, timeout=90)
    st = folder_status(note, folder)
    assert st is not None
    return st


async def cache_status(tmp_path: Path, folder: Path, mode: str) -> None:
    """Resolve once, as any running server does: its status lands in the cache."""
    async with session([folder], tmp=tmp_path, settings=SETTINGS) as s:
        st = await server_mode(s, folder, mode)
        assert st["mode"] == mode


def starts(log: Path) -> list[str]:
    """Where the log says servers were started: 'container' (an exec) or 'host'."""
    out = []
    for line in log.read_text().splitlines():
        if re.search(r"\[pylsp@.*\] starting: ", line):
            out.append("container" if "'exec'" in line else "host")
    return out


async def edit_and_see(s: Session, uri: str) -> None:
    """The document the server has is the editor's: an edit shows in its diagnostics."""
    s.client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(types.Position(1, 0), types.Position(1, 0)),
                    text="second_missing = undefined_two\n",
                )
            ],
        )
    )
    diags = await s.wait_diagnostics(
        uri, lambda ds: any("undefined_two" in d.message for d in ds), timeout=60
    )
    messages = [d.message for d in diags]
    assert any("undefined_one" in m for m in messages), messages


async def test_cached_container_that_is_gone_ends_on_the_host(
    tmp_path: Path, tmp_workspace: Path, workspace_container: Any
) -> None:
    (tmp_workspace / "main.py").write_text(SOURCE)
    ctr = workspace_container(tmp_workspace)
    await cache_status(tmp_path, tmp_workspace, "container")
    pm.remove(ctr.name)
    log = tmp_path / "second.log"

    async with session(
        [tmp_workspace], tmp=tmp_path, settings=SETTINGS, args=("--log-file", str(log))
    ) as s:
        uri = open_doc(s, tmp_workspace / "main.py")
        st = await server_mode(s, tmp_workspace, "host")
        assert st["mode"] == "host"
        await edit_and_see(s, uri)

    assert starts(log)[:1] == ["container"], starts(log)  # the guess from the cache
    assert starts(log)[-1] == "host"


async def test_cached_host_with_a_container_now_moves_into_it(
    tmp_path: Path, tmp_workspace: Path, workspace_container: Any
) -> None:
    (tmp_workspace / "main.py").write_text(SOURCE)
    await cache_status(tmp_path, tmp_workspace, "host")
    workspace_container(tmp_workspace)
    log = tmp_path / "second.log"

    async with session(
        [tmp_workspace], tmp=tmp_path, settings=SETTINGS, args=("--log-file", str(log))
    ) as s:
        uri = open_doc(s, tmp_workspace / "main.py")
        st = await server_mode(s, tmp_workspace, "container")
        assert st["mode"] == "container"
        await edit_and_see(s, uri)

    assert starts(log)[:1] == ["host"], starts(log)  # the guess from the cache
    assert starts(log)[-1] == "container"
