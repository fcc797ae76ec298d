"""The status protocol end to end: the real sero-ls process over stdio (pytest-lsp)."""

from __future__ import annotations

import json
from pathlib import Path

from lsprotocol import types

from sero_ls.uris import path_to_uri
from tests.support.lsp import folder_status, session

NO_RUNTIME = {"containerBackend": "podman", "containerCli": "/nonexistent/podman"}


def is_degraded(folder: Path, reason: str):
    def check(note):
        st = folder_status(note, folder)
        return st is not None and st["degraded"] and st["reason"] == reason

    return check


async def test_no_runtime_pushes_degraded_status_and_diagnostic(tmp_path: Path) -> None:
    ws = tmp_path / "proj"
    ws.mkdir()
    async with session([ws], tmp=tmp_path, settings=NO_RUNTIME) as s:
        note = await s.status.wait_for(is_degraded(ws, "container-cli-missing"))
        st = folder_status(note, ws)
        assert st["mode"] == "host" and st["requested"] == "auto"
        assert st["remedy"] == ["sudo apt-get install podman"]
        caps = {c["id"]: c for c in st["capabilities"]}
        assert len(caps) == 11
        assert caps["browser-automation"] == {
            "id": "browser-automation", "available": False, "requires": "container",
            "reason": "container-cli-missing",
        }  # fmt: skip
        assert caps["file-editing"]["available"] is True
        assert set(st) >= {"uri", "name", "runtime", "servers", "checkedAt", "message"}

        # the same, asked for
        result = await s.request("sero/workspaceStatus", {"uri": path_to_uri(str(ws / "a.py"))})
        assert [f["reason"] for f in result["folders"]] == ["container-cli-missing"]

        diags = await s.wait_diagnostics(path_to_uri(str(ws)), lambda d: len(d) == 1)
        d = diags[0]
        assert d.source == "sero" and d.code == "container-cli-missing"
        assert d.severity == types.DiagnosticSeverity.Warning
        assert "browser-automation" in d.message and "sudo apt-get install podman" in d.message

        # code actions offer the commands
        actions = await s.request_raw(
            "textDocument/codeAction",
            {
                "textDocument": {"uri": path_to_uri(str(ws))},
                "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}},
                "context": {"diagnostics": [s.client.protocol._converter.unstructure(d)]},
            },
        )
        assert all(a["kind"] == "quickfix" for a in actions)
        commands = {(a["command"]["command"], tuple(a["command"]["arguments"])) for a in actions}
        assert ("sero.setRuntime", (path_to_uri(str(ws)), "host")) in commands
        assert ("sero.refreshStatus", (path_to_uri(str(ws)),)) in commands


async def test_set_runtime_persists_across_restart(tmp_path: Path) -> None:
    ws = tmp_path / "proj"
    ws.mkdir()
    uri = path_to_uri(str(ws))
    async with session([ws], tmp=tmp_path, settings=NO_RUNTIME) as s:
        await s.status.wait_for(is_degraded(ws, "container-cli-missing"))
        st = await s.request("sero/setRuntime", {"uri": uri, "runtime": "host"})
        assert (st["mode"], st["degraded"], st["reason"]) == (
            "host",
            False,
            "runtime-host-selected",
        )
        await s.status.wait_for(lambda n: folder_status(n, ws)["reason"] == "runtime-host-selected")
        await s.wait_diagnostics(uri, lambda d: d == [])
        err = None
        try:
            await s.request("sero/setRuntime", {"uri": uri, "runtime": "cloud"})
        except Exception as exc:  # JSON-RPC error, not a crash
            err = exc
        assert err is not None and "cloud" in str(err)
    # a new server process remembers the choice (per user, outside the repository)
    assert json.loads((tmp_path / "state" / "runtime.json").read_text()) == {str(ws): "host"}
    assert not (ws / ".sero").exists()
    async with session([ws], tmp=tmp_path, settings=NO_RUNTIME) as s:
        note = await s.status.wait_for(lambda n: folder_status(n, ws) is not None)
        assert folder_status(note, ws)["reason"] == "runtime-host-selected"
        # and the command form switches it back
        st = await s.command("sero.setRuntime", uri, "auto")
        assert st["reason"] == "container-cli-missing" and st["degraded"]


async def test_folders_added_and_removed(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b b"
    a.mkdir()
    b.mkdir()
    async with session([a], tmp=tmp_path, settings=NO_RUNTIME) as s:
        await s.status.wait_for(lambda n: folder_status(n, a) is not None)
        s.client.workspace_did_change_workspace_folders(
            types.DidChangeWorkspaceFoldersParams(
                event=types.WorkspaceFoldersChangeEvent(
                    added=[types.WorkspaceFolder(uri=path_to_uri(str(b)), name="b b")],
                    removed=[types.WorkspaceFolder(uri=path_to_uri(str(a)), name="a")],
                )
            )
        )
        note = await s.status.wait_for(
            lambda n: folder_status(n, b) is not None and folder_status(n, a) is None
        )
        assert folder_status(note, b)["name"] == "b b"
        await s.wait_diagnostics(path_to_uri(str(a)), lambda d: d == [])
        result = await s.request("sero/workspaceStatus", {})
        assert [f["name"] for f in result["folders"]] == ["b b"]


async def test_invalid_config_toml_gives_error_diagnostic_and_defaults(tmp_path: Path) -> None:
    ws = tmp_path / "proj"
    (ws / ".sero").mkdir(parents=True)
    (ws / ".sero" / "config.toml").write_text(
        '# workspace settings\nruntime = "sometimes"\nprobeTimeout = 2\n', encoding="utf-8"
    )
    async with session([ws], tmp=tmp_path, settings=NO_RUNTIME) as s:
        note = await s.status.wait_for(lambda n: folder_status(n, ws) is not None)
        assert folder_status(note, ws)["requested"] == "auto"  # the default applied
        cfg = path_to_uri(str(ws / ".sero" / "config.toml"))
        diags = await s.wait_diagnostics(cfg, lambda d: len(d) == 1)
        assert diags[0].severity == types.DiagnosticSeverity.Error
        assert "runtime" in diags[0].message and "sometimes" in diags[0].message
        assert diags[0].range.start.line == 1
        # fixing the file and asking for a refresh clears it
        (ws / ".sero" / "config.toml").write_text('runtime = "host"\n', encoding="utf-8")
        await s.command("sero.refreshStatus", path_to_uri(str(ws)))
        await s.wait_diagnostics(cfg, lambda d: d == [])
        await s.status.wait_for(lambda n: folder_status(n, ws)["requested"] == "host")


async def test_workspace_configuration_is_read_per_folder(tmp_path: Path) -> None:
    ws = tmp_path / "proj"
    ws.mkdir()
    async with session(
        [ws], tmp=tmp_path, settings=NO_RUNTIME, configuration={"runtime": "host"}
    ) as s:
        note = await s.status.wait_for(lambda n: folder_status(n, ws) is not None)
        assert folder_status(note, ws)["reason"] == "runtime-host-selected"


async def test_bad_params_get_errors_not_crashes(tmp_path: Path) -> None:
    ws = tmp_path / "proj"
    ws.mkdir()
    async with session([ws], tmp=tmp_path, settings=NO_RUNTIME) as s:
        for params in ([1, 2], {"uri": 5}, {"refresh": "yes"}):
            try:
                await s.request("sero/workspaceStatus", params)
            except Exception as exc:
                assert "must be" in str(exc)
            else:
                raise AssertionError(f"{params!r} was accepted")
        result = await s.request("sero/workspaceStatus", {"uri": "file:///elsewhere"})
        assert result["folders"] == []
