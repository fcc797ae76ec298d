"""Workspace trust end to end: a real sero-ls hub (and `sero-ls status`/`doctor`) on a
folder whose `.sero/config.toml` names hostile commands. Nothing it names runs until
the user trusts it (`sero-ls trust` in a shell, or the quick fix / `sero/trustFolder`);
then the server starts in the running session; an edit of the file revokes it.

The hostile command touches a marker file first: the marker is the proof of what ran.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types

from sero_ls.uris import path_to_uri
from tests.support.lsp import Session, folder_status, session
from tests.support.status_cli import run_status, status_env

PYLSP = "/usr/bin/pylsp"

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(shutil.which(PYLSP) is None, reason="Debian's python3-pylsp is missing"),
    pytest.mark.filterwarnings("ignore:Unknown progress token"),
]


def hostile_folder(tmp: Path) -> tuple[Path, Path]:
    ws = tmp / "cloned é"
    (ws / ".sero").mkdir(parents=True)
    marker = tmp / "owned"
    (ws / ".sero" / "config.toml").write_text(
        "# from somewhere else\n"
        'runtime = "host"\n'
        "pollInterval = 0.5\n\n"
        "[servers.x]\n"
        'languages = ["python"]\n'
        f'command = ["sh", "-c", "touch \'{marker}\'; exec {PYLSP}"]\n',
        encoding="utf-8",
    )
    (ws / "mod.py").write_text("import os\nos.pa\n")
    return ws, marker


def trust_of(note: dict[str, Any], ws: Path) -> dict[str, Any] | None:
    st = folder_status(note, ws)
    return st.get("trust") if st else None


def server_running(note: dict[str, Any], ws: Path) -> bool:
    st = folder_status(note, ws) or {}
    return any(s["id"] == "x" and s["state"] == "running" for s in st.get("servers", []))


async def open_module(s: Session, ws: Path) -> None:
    s.client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=path_to_uri(str(ws / "mod.py")), language_id="python", version=1,
                text="import os\nos.pa\n",
            )
        )
    )  # fmt: skip


async def untrusted_start(s: Session, ws: Path, marker: Path) -> types.Diagnostic:
    """The session's start on the hostile folder: reported, with the quick fix; nothing ran."""
    await open_module(s, ws)
    note = await s.status.wait_for(
        lambda n: (trust_of(n, ws) or {}).get("state") == "untrusted", what="untrusted"
    )
    trust = trust_of(note, ws)
    assert trust is not None and trust["ignored"] == ["servers.x.command"]
    assert trust["changed"] is False and len(trust["sha256"]) == 64
    assert (folder_status(note, ws) or {})["servers"] == []
    cfg = path_to_uri(str(ws / ".sero" / "config.toml"))
    (diag,) = await s.wait_diagnostics(cfg, lambda d: len(d) == 1)
    assert diag.code == "untrusted-config" and diag.severity == types.DiagnosticSeverity.Warning
    assert diag.range.start.line == 6  # the `command =` line
    assert "servers.x.command" in diag.message and "sero-ls trust" in diag.message
    # A hover on the Python file: no server answers it (none was started).
    hover = await s.request_raw(
        "textDocument/hover",
        {"textDocument": {"uri": path_to_uri(str(ws / "mod.py"))},
         "position": {"line": 0, "character": 8}},
    )  # fmt: skip
    assert hover is None
    assert not marker.exists()
    return diag


async def test_untrusted_hub_runs_nothing_until_the_quick_fix_trusts_it(tmp_path: Path) -> None:
    ws, marker = hostile_folder(tmp_path)
    async with session([ws], tmp=tmp_path) as s:
        diag = await untrusted_start(s, ws, marker)
        actions = await s.request_raw(
            "textDocument/codeAction",
            {
                "textDocument": {"uri": path_to_uri(str(ws / ".sero" / "config.toml"))},
                "range": {"start": {"line": 6, "character": 0}, "end": {"line": 6, "character": 0}},
                "context": {"diagnostics": [s.client.protocol._converter.unstructure(diag)]},
            },
        )
        (fix,) = actions
        assert fix["title"] == "Trust this folder's sero config"
        assert fix["command"]["arguments"] == [path_to_uri(str(ws)), diag.data["sha256"]]
        # A stale hash (the file changed after the user looked) is refused.
        with pytest.raises(Exception, match="changed"):
            await s.command("sero.trustFolder", path_to_uri(str(ws)), "0" * 64)
        assert not marker.exists()
        status = await s.command(fix["command"]["command"], *fix["command"]["arguments"])
        assert status["trust"]["state"] == "trusted" and status["trust"]["ignored"] == []
        # The server was started by the trust itself (no restart of the session).
        assert [e["id"] for e in status["servers"]] == ["x"] and marker.exists()
        await s.status.wait_for(lambda n: server_running(n, ws), what="x running")
        await s.wait_diagnostics(
            path_to_uri(str(ws / ".sero" / "config.toml")), lambda d: d == [], timeout=30
        )
        # Editing the file revokes the trust: the server stops, the warning is back.
        marker.unlink()
        mark = s.status.mark()
        with (ws / ".sero" / "config.toml").open("a", encoding="utf-8") as fh:
            fh.write("# edited\n")
        note = await s.status.wait_for(
            lambda n: (trust_of(n, ws) or {}).get("changed") is True, after=mark, timeout=60
        )
        assert (trust_of(note, ws) or {})["state"] == "untrusted"
        await s.status.wait_for(
            lambda n: (folder_status(n, ws) or {}).get("servers") == [], after=mark, timeout=60
        )
        await s.wait_diagnostics(
            path_to_uri(str(ws / ".sero" / "config.toml")),
            lambda d: len(d) == 1 and "changed since" in d[0].message,
        )
        assert not marker.exists()


async def test_sero_ls_trust_in_a_shell_starts_the_server_in_the_session(tmp_path: Path) -> None:
    ws, marker = hostile_folder(tmp_path)
    async with session([ws], tmp=tmp_path) as s:
        await untrusted_start(s, ws, marker)
        trust = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "sero_ls", "trust", str(ws)],
            capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60, check=False,
            env={**os.environ, "SERO_LS_STATE_DIR": str(tmp_path / "state")},
        )  # fmt: skip
        assert trust.returncode == 0, trust.stderr
        assert f"touch '{marker}'" in trust.stdout and "sha256 " in trust.stdout
        await s.status.wait_for(lambda n: server_running(n, ws), what="x running", timeout=60)
        assert marker.exists()
        # pylsp answers through the hub now.
        hover = await s.request_raw(
            "textDocument/hover",
            {"textDocument": {"uri": path_to_uri(str(ws / "mod.py"))},
             "position": {"line": 0, "character": 8}},
        )  # fmt: skip
        assert hover is not None
        # The same sero/trustFolder request revokes it.
        status = await s.request("sero/trustFolder", {"uri": path_to_uri(str(ws)), "revoke": True})
        assert status["trust"]["state"] == "untrusted" and status["servers"] == []


def hostile_cli(tmp: Path) -> tuple[Path, Path]:
    ws = tmp / "clone"
    (ws / ".sero").mkdir(parents=True)
    marker = tmp / "ran"
    evil = ws / "evil"
    touch = shutil.which("touch")  # the test's PATH is empty: no runtime CLI found by name
    evil.write_text(f"#!/bin/sh\n{touch} '{marker}'\necho 'podman version 5.0.0'\n")
    evil.chmod(evil.stat().st_mode | stat.S_IXUSR)
    (ws / ".sero" / "config.toml").write_text(
        f'containerBackend = "podman"\ncontainerCli = "{evil}"\n', encoding="utf-8"
    )
    return ws, marker


def test_status_and_doctor_run_nothing_an_untrusted_folder_names(tmp_path: Path) -> None:
    ws, marker = hostile_cli(tmp_path)
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    env = status_env(tmp_path, path=str(empty))
    line = run_status(str(ws), env=env)
    assert line.returncode == 1
    assert line.stdout == "⚠ host, degraded: container-cli-missing (untrusted config)\n"
    as_json = run_status("--json", "--max-age", "0", str(ws), env=env)
    trust = json.loads(as_json.stdout)["trust"]
    assert trust["state"] == "untrusted" and trust["ignored"] == ["containerCli"]
    doctor = subprocess.run(
        [sys.executable, "-m", "sero_ls", "doctor", str(ws)],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert "  trust       untrusted: " in doctor.stdout
    assert "not trusted; ignored, nothing of it runs:" in doctor.stdout
    assert f"sero-ls trust {ws}" in doctor.stdout
    assert not marker.exists()
    # Once trusted, the user's choice holds: the folder's CLI is what probes.
    subprocess.run(
        [sys.executable, "-m", "sero_ls", "trust", "--yes", str(ws)],
        capture_output=True, env=env, timeout=60, check=True,
    )  # fmt: skip
    run_status("--max-age", "0", str(ws), env=env)
    assert marker.exists()
