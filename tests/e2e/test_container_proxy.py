"""Language servers in real Podman containers through sero-ls: exec, URI mapping,
container-only files, host fallback, several containers in one session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types

from sero_ls.uris import path_to_uri
from tests.support import podman as pm
from tests.support.apple import both_apple_releases
from tests.support.lsp import Session, folder_status, session

SOURCE = '''import os
import helper_mod


def greet(name):
    """Say hello."""
    return "hello " + name


greet("x")
os.path.join("a", "b")
helper_mod.answer()
unused_var = undefined_name
'''
HELPER = 'def answer():\n    """The answer, written only inside the container."""\n    return 42\n'

PYLSP = {"pylsp": {"command": ["pylsp"], "languages": ["python"]}}


def container_settings(**extra: Any) -> dict[str, Any]:
    return {"containerBackend": "podman", "pollInterval": 0.5, "servers": PYLSP, **extra}


async def open_doc(s: Session, path: Path, text: str | None = None) -> str:
    uri = path_to_uri(str(path))
    s.client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri,
                language_id="python",
                version=1,
                text=text or path.read_text(),
            )
        )
    )
    return uri


def pos(line: int, ch: int) -> types.Position:
    return types.Position(line=line, character=ch)


async def wait_container_mode(s: Session, folder: Path) -> dict[str, Any]:
    def ok(note: dict[str, Any]) -> bool:
        st = folder_status(note, folder)
        return bool(
            st
            and st["mode"] == "container"
            and st["servers"]
            and st["servers"][0]["state"] == "running"
        )

    note = await s.status.wait_for(ok, timeout=60)
    st = folder_status(note, folder)
    assert st is not None
    return st


@pytest.fixture
def container_ws(tmp_workspace: Path, workspace_container):
    (tmp_workspace / "main.py").write_text(SOURCE)
    ctr = workspace_container(tmp_workspace)
    # a module that exists only inside the container, on the server's import path
    pm.write_file_in_container(ctr.name, "/usr/lib/python3/dist-packages/helper_mod.py", HELPER)
    assert not (tmp_workspace / "helper_mod.py").exists()
    return tmp_workspace, ctr


async def test_pylsp_in_container_maps_every_uri(tmp_path: Path, container_ws) -> None:
    ws, ctr = container_ws
    async with session([ws], tmp=tmp_path, settings=container_settings()) as s:
        st = await wait_container_mode(s, ws)
        assert st["servers"][0]["mode"] == "container"
        uri = await open_doc(s, ws / "main.py")
        td = types.TextDocumentIdentifier(uri=uri)

        # diagnostics come back on the client's own URI (pyflakes: undefined name)
        diags = await s.wait_diagnostics(
            uri, lambda d: any("undefined_name" in x.message for x in d), timeout=30
        )
        assert diags

        hover = await s.client.text_document_hover_async(
            types.HoverParams(text_document=td, position=pos(9, 2))
        )
        assert hover is not None and "Say hello" in str(hover.contents)

        defs = await s.client.text_document_definition_async(
            types.DefinitionParams(text_document=td, position=pos(9, 2))
        )
        assert [d.uri for d in defs] == [uri] and defs[0].range.start.line == 4

        refs = await s.client.text_document_references_async(
            types.ReferenceParams(
                text_document=td,
                position=pos(4, 5),
                context=types.ReferenceContext(include_declaration=True),
            )
        )
        assert {r.uri for r in refs} == {uri} and len(refs) == 2

        edit = await s.client.text_document_rename_async(
            types.RenameParams(text_document=td, position=pos(4, 5), new_name="salute")
        )
        assert edit is not None
        changed = set((edit.changes or {}).keys()) | {
            c.text_document.uri for c in edit.document_changes or [] if hasattr(c, "text_document")
        }
        assert changed == {uri}

        # os.path lives in the container, outside every mount: a sero-container:// URI
        defs = await s.client.text_document_definition_async(
            types.DefinitionParams(text_document=td, position=pos(10, 4))
        )
        assert defs, "no definition for os.path"
        assert all(
            d.uri.startswith(f"sero-container://{ctr.name}/usr/lib/python3.11/") for d in defs
        )
        target = defs[0]
        content = await s.request("sero/containerFile", {"uri": target.uri})
        assert "def join(" in content["text"] or "import posixpath" in content["text"]
        same = await s.request_raw("workspace/textDocumentContent", {"uri": target.uri})
        assert same["text"] == content["text"]

        # navigation continues inside that file: hover and definition are routed to the container
        lib_uri = target.uri
        s.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=lib_uri, language_id="python", version=1, text=content["text"]
                )
            )
        )
        line = next(
            i for i, t in enumerate(content["text"].splitlines()) if t.startswith("import ")
        )
        col = content["text"].splitlines()[line].index("import ") + len("import ") + 1
        lib_hover = await s.client.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=lib_uri), position=pos(line, col)
            )
        )
        assert lib_hover is not None

        # the container-only module is reached and served
        defs = await s.client.text_document_definition_async(
            types.DefinitionParams(text_document=td, position=pos(11, 13))
        )
        (helper,) = defs
        assert (
            helper.uri == f"sero-container://{ctr.name}/usr/lib/python3/dist-packages/helper_mod.py"
        )
        text = (await s.request("sero/containerFile", {"uri": helper.uri}))["text"]
        assert "written only inside the container" in text

        # a missing container file is a clear error
        with pytest.raises(Exception, match=r"No such file|cannot read"):
            await s.request("sero/containerFile", {"uri": f"sero-container://{ctr.name}/nope.py"})


async def test_missing_in_container_falls_back_to_host(tmp_path: Path, container_ws) -> None:
    ws, _ = container_ws
    servers = {
        "pylsp": {
            "command": ["pylsp"],
            "containerCommand": ["pylsp-not-in-this-container"],
            "languages": ["python"],
        }
    }
    async with session([ws], tmp=tmp_path, settings=container_settings(servers=servers)) as s:

        def fell_back(note: dict[str, Any]) -> bool:
            st = folder_status(note, ws)
            return bool(st and st["servers"] and st["servers"][0]["state"] == "running")

        note = await s.status.wait_for(fell_back, timeout=60)
        st = folder_status(note, ws)
        assert st["mode"] == "container"  # the folder keeps container mode
        (srv,) = st["servers"]
        assert (srv["mode"], srv["reason"]) == ("host", "server-missing-in-container")
        uri = await open_doc(s, ws / "main.py")
        hover = await s.client.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=uri), position=pos(9, 2)
            )
        )
        assert hover is not None and "Say hello" in str(hover.contents)

    servers["pylsp"]["command"] = ["pylsp-nowhere"]
    async with session([ws], tmp=tmp_path, settings=container_settings(servers=servers)) as s:

        def failed(note: dict[str, Any]) -> bool:
            st = folder_status(note, ws)
            return bool(st and st["servers"] and st["servers"][0]["state"] == "failed")

        note = await s.status.wait_for(failed, timeout=60)
        (srv,) = folder_status(note, ws)["servers"]
        assert srv["reason"] == "server-not-found"
        # nothing else breaks: status still answers
        assert (await s.request("sero/workspaceStatus", {}))["folders"][0]["mode"] == "container"


async def test_two_containers_and_a_host_folder(tmp_path: Path, workspace_container) -> None:
    folders = []
    for name in ("alpha é", "beta"):
        f = tmp_path / name
        f.mkdir()
        (f / "mod.py").write_text(f"def where():\n    '''{name} lives here'''\n\n\nwhere()\n")
        workspace_container(f)
        folders.append(f)
    host = tmp_path / "on host"
    host.mkdir()
    (host / "mod.py").write_text("def where():\n    '''host lives here'''\n\n\nwhere()\n")
    (host / ".sero").mkdir()
    (host / ".sero" / "config.toml").write_text('runtime = "host"\n')
    async with session([*folders, host], tmp=tmp_path, settings=container_settings()) as s:
        for f in folders:
            await wait_container_mode(s, f)
        status = await s.request("sero/workspaceStatus", {})
        pids = {f["name"]: f["servers"][0]["pid"] for f in status["folders"]}
        assert len(set(pids.values())) == 3
        for f, expect in [(folders[0], "alpha é"), (folders[1], "beta"), (host, "host")]:
            uri = await open_doc(s, f / "mod.py")
            hover = await s.client.text_document_hover_async(
                types.HoverParams(
                    text_document=types.TextDocumentIdentifier(uri=uri), position=pos(4, 1)
                )
            )
            assert hover is not None and f"{expect} lives here" in str(hover.contents)
            defs = await s.client.text_document_definition_async(
                types.DefinitionParams(
                    text_document=types.TextDocumentIdentifier(uri=uri), position=pos(4, 1)
                )
            )
            assert [d.uri for d in defs] == [uri]


@both_apple_releases
async def test_through_the_apple_standin(
    tmp_path: Path, tmp_workspace: Path, apple_standin
) -> None:
    (tmp_workspace / "main.py").write_text(SOURCE)
    ctr = apple_standin.create(tmp_workspace)
    settings = {**container_settings(), "containerBackend": "apple"}
    async with session(
        [tmp_workspace], tmp=tmp_path, settings=settings, env=apple_standin.env
    ) as s:
        st = await wait_container_mode(s, tmp_workspace)
        assert st["runtime"]["backend"] == "apple"
        uri = await open_doc(s, tmp_workspace / "main.py")
        td = types.TextDocumentIdentifier(uri=uri)
        hover = await s.client.text_document_hover_async(
            types.HoverParams(text_document=td, position=pos(9, 2))
        )
        assert hover is not None and "Say hello" in str(hover.contents)
        defs = await s.client.text_document_definition_async(
            types.DefinitionParams(text_document=td, position=pos(10, 4))
        )
        assert defs[0].uri.startswith(f"sero-container://{ctr.name}/usr/lib/python3.11/")
        text = (await s.request("sero/containerFile", {"uri": defs[0].uri}))["text"]
        assert text


async def test_wrapper_mode_in_container(tmp_path: Path, container_ws) -> None:
    ws, _ = container_ws
    (ws / ".sero").mkdir()
    (ws / ".sero" / "config.toml").write_text('containerBackend = "podman"\npollInterval = 0.5\n')
    async with session([ws], tmp=tmp_path, args=("proxy", "--", "pylsp"), editor="neovim") as s:
        assert s.initialize_result is not None
        assert s.initialize_result.capabilities.hover_provider
        uri = await open_doc(s, ws / "main.py")
        td = types.TextDocumentIdentifier(uri=uri)
        diags = await s.wait_diagnostics(uri, lambda d: len(d) > 0, timeout=30)
        assert diags
        hover = await s.client.text_document_hover_async(
            types.HoverParams(text_document=td, position=pos(9, 2))
        )
        assert hover is not None and "Say hello" in str(hover.contents)
        status = await s.request("sero/workspaceStatus", {})
        (srv,) = status["folders"][0]["servers"]
        assert (srv["mode"], srv["state"]) == ("container", "running")
