"""Runtime resolution against real Podman containers and the Apple CLI stand-in."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from sero_ls.uris import path_to_uri
from tests.support import podman as pm
from tests.support.apple import both_apple_releases
from tests.support.lsp import folder_status, session

FAST = {"pollInterval": 0.5, "probeTimeout": 5}


def reason_is(folder: Path, reason: str | None, mode: str):
    def check(note):
        st = folder_status(note, folder)
        return st is not None and st["reason"] == reason and st["mode"] == mode

    return check


def message_has(folder: Path, *texts: str):
    def check(note):
        message = (folder_status(note, folder) or {}).get("message") or ""
        return any(t in message for t in texts)

    return check


async def test_podman_container_flips_with_stop_and_start(
    tmp_path: Path, tmp_workspace: Path, workspace_container
) -> None:
    ctr = workspace_container(tmp_workspace)
    settings = {**FAST, "containerBackend": "podman"}
    async with session([tmp_workspace], tmp=tmp_path, settings=settings) as s:
        note = await s.status.wait_for(reason_is(tmp_workspace, None, "container"))
        st = folder_status(note, tmp_workspace)
        assert st["degraded"] is False
        assert st["runtime"]["backend"] == "podman"
        assert st["runtime"]["container"]["id"] == ctr.name
        assert st["runtime"]["container"]["state"] == "running"
        mount = {"host": str(tmp_workspace), "container": "/workspace", "readOnly": False}
        assert {**mount, "type": "bind"} in st["runtime"]["mounts"]
        assert all(c["available"] for c in st["capabilities"])

        pm.stop(ctr.name)  # nobody asks: the change must be pushed
        note = await s.status.wait_for(reason_is(tmp_workspace, "container-not-running", "host"))
        st = folder_status(note, tmp_workspace)
        assert st["degraded"] is True
        assert st["remedy"] == [f"podman start {ctr.name}"]
        await s.wait_diagnostics(path_to_uri(str(tmp_workspace)), lambda d: len(d) == 1)

        pm.start(ctr.name)
        await s.status.wait_for(reason_is(tmp_workspace, None, "container"))
        await s.wait_diagnostics(path_to_uri(str(tmp_workspace)), lambda d: d == [])


async def test_container_missing_and_image_missing(tmp_path: Path, podman) -> None:
    image = pm.import_busybox_image()
    ws = tmp_path / "nothing here"
    ws.mkdir()
    settings = {**FAST, "containerBackend": "podman"}
    async with session([ws], tmp=tmp_path, settings={**settings, "image": image}) as s:
        note = await s.status.wait_for(reason_is(ws, "container-missing", "host"))
        st = folder_status(note, ws)
        assert st["degraded"] and st["remedy"][0].startswith("podman run --name sero-nothing-here")
        assert f"ai.sero.workspacePath={ws}" in st["remedy"][0]
    async with session([ws], tmp=tmp_path, settings={**settings, "image": "no-such:1"}) as s:
        note = await s.status.wait_for(reason_is(ws, "container-image-missing", "host"))
        assert folder_status(note, ws)["remedy"][0].startswith("podman build -t no-such:1")


async def test_found_by_mount_and_by_setting(
    tmp_path: Path, tmp_workspace: Path, workspace_container
) -> None:
    sub = tmp_workspace / "pkg"
    sub.mkdir()
    ctr = workspace_container(tmp_workspace, label=False)
    settings = {**FAST, "containerBackend": "podman"}
    async with session([sub], tmp=tmp_path, settings=settings) as s:
        note = await s.status.wait_for(reason_is(sub, None, "container"))
        assert folder_status(note, sub)["runtime"]["container"]["id"] == ctr.name
    other = tmp_path / "other"
    other.mkdir()
    async with session([other], tmp=tmp_path, settings={**settings, "container": ctr.name}) as s:
        await s.status.wait_for(reason_is(other, "folder-not-mounted", "host"))


async def test_no_cli_on_path(tmp_path: Path) -> None:
    ws = tmp_path / "w"
    ws.mkdir()
    async with session([ws], tmp=tmp_path, env={"PATH": str(tmp_path / "empty")}) as s:
        note = await s.status.wait_for(reason_is(ws, "container-cli-missing", "host"))
        assert folder_status(note, ws)["runtime"]["backend"] is None


def _fake_cli(tmp: Path, body: str) -> Path:
    cli = tmp / "bin" / "podman"
    cli.parent.mkdir(exist_ok=True)
    cli.write_text(f"#!/bin/sh\n{body}\n")
    cli.chmod(cli.stat().st_mode | stat.S_IXUSR)
    return cli


async def test_hung_or_garbage_cli_gives_probe_failed(tmp_path: Path) -> None:
    ws = tmp_path / "w"
    ws.mkdir()
    hung = _fake_cli(tmp_path, "exec sleep 600")
    settings = {"containerBackend": "podman", "containerCli": str(hung), "probeTimeout": 0.5}
    async with session([ws], tmp=tmp_path, settings=settings) as s:
        note = await s.status.wait_for(reason_is(ws, "probe-failed", "host"), timeout=60)
        assert "did not answer within 0.5 s" in folder_status(note, ws)["message"]
    garbage = _fake_cli(tmp_path, 'echo "WARN[0000] something odd"; echo "{not json"; exit 0')
    settings["containerCli"] = str(garbage)
    async with session([ws], tmp=tmp_path, settings=settings) as s:
        note = await s.status.wait_for(reason_is(ws, "probe-failed", "host"), timeout=60)
        assert "not JSON" in folder_status(note, ws)["message"]


@both_apple_releases
async def test_apple_standin_resolve_live_push_and_system_states(
    tmp_path: Path, tmp_workspace: Path, apple_standin
) -> None:
    """Resolve, live status pushes as the system changes, a silent API server, and
    sero.startContainerSystem: on a 0.x release (no `system status --format`, coded errors,
    2001-epoch dates) and a 1.x one."""
    ctr = apple_standin.create(tmp_workspace)
    settings = {**FAST, "probeTimeout": 1, "containerBackend": "apple"}
    async with session(
        [tmp_workspace], tmp=tmp_path, settings=settings, env=apple_standin.env
    ) as s:
        note = await s.status.wait_for(reason_is(tmp_workspace, None, "container"))
        st = folder_status(note, tmp_workspace)
        assert st["runtime"]["backend"] == "apple"
        assert st["runtime"]["container"]["id"] == ctr.name
        assert st["runtime"]["mounts"][0]["container"] == "/workspace"

        apple_standin.set_system("stopped")
        note = await s.status.wait_for(
            reason_is(tmp_workspace, "container-system-not-running", "host")
        )
        assert folder_status(note, tmp_workspace)["remedy"][0] == "container system start"
        apple_standin.set_system("unregistered")
        # 1.x: JSON `"status": "unregistered"`; 0.9 (no --format): the plain sentence
        await s.status.wait_for(message_has(tmp_workspace, "unregistered", "not registered"))
        # registered but silent: `system status` would wait 10 s, longer than probeTimeout;
        # that is a system that is not running (start it), not a failed probe
        apple_standin.set_system("hung")
        note = await s.status.wait_for(message_has(tmp_workspace, "did not answer"))
        st = folder_status(note, tmp_workspace)
        assert (st["reason"], st["remedy"][0]) == (
            "container-system-not-running",
            "container system start",
        )
        # the command starts it (with --enable-kernel-install) and re-probes
        result = await s.command("sero.startContainerSystem", path_to_uri(str(tmp_workspace)))
        assert result["started"] is True
        await s.status.wait_for(reason_is(tmp_workspace, None, "container"))


def test_doctor_json_without_runtime(tmp_path: Path) -> None:
    ws = tmp_path / "fresh"
    ws.mkdir()
    env = {**os.environ, "PATH": str(tmp_path / "empty"), "SERO_LS_STATE_DIR": str(tmp_path / "s")}
    out = subprocess.run(
        [sys.executable, "-m", "sero_ls", "doctor", "--json", str(ws)],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert out.returncode == 1, out.stderr
    data = json.loads(out.stdout)
    assert list(data) == ["folders"]
    (st,) = data["folders"]
    assert (st["mode"], st["degraded"], st["reason"]) == ("host", True, "container-cli-missing")
    assert st["remedy"]
    table = subprocess.run(
        [sys.executable, "-m", "sero_ls", "doctor", str(ws)],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert table.returncode == 1
    assert "host (degraded)" in table.stdout and "container-cli-missing" in table.stdout
    assert "$ " + st["remedy"][0] in table.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "sero_ls", "doctor", str(ws / "missing")],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert bad.returncode == 2


async def test_podman_events_push_changes_without_polling(
    tmp_path: Path, tmp_workspace: Path, workspace_container
) -> None:
    """With polling set to a minute, only podman's event stream can tell in seconds."""
    ctr = workspace_container(tmp_workspace)
    settings = {"containerBackend": "podman", "pollInterval": 60}
    async with session([tmp_workspace], tmp=tmp_path, settings=settings) as s:
        await s.status.wait_for(reason_is(tmp_workspace, None, "container"))
        mark = s.status.mark()
        pm.stop(ctr.name)
        await s.status.wait_for(
            reason_is(tmp_workspace, "container-not-running", "host"), timeout=40, after=mark
        )  # within 40 s: under the 60 s poll, only an event can tell
        mark = s.status.mark()
        pm.start(ctr.name)
        await s.status.wait_for(reason_is(tmp_workspace, None, "container"), timeout=40, after=mark)


def doctor_json(folder: Path, env: dict[str, str]) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "sero_ls", "doctor", "--json", str(folder)],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    (st,) = json.loads(out.stdout)["folders"]
    return st


def test_doctor_through_an_apple_1x_standin(tmp_path: Path, tmp_workspace: Path, apple_standin):
    """1.x prints `Error: image not found: REF` and ImageResource: read as absent / present."""
    pm.import_busybox_image()  # localhost/sero-node:latest: docker.io/library/sero-node to Apple
    env = {**apple_standin.env, "SERO_LS_STATE_DIR": str(tmp_path / "state")}
    config = tmp_workspace / ".sero" / "config.toml"
    config.parent.mkdir()
    config.write_text('containerBackend = "apple"\nimage = "sero-node:latest"\n')
    st = doctor_json(tmp_workspace, env)
    assert (st["mode"], st["reason"]) == ("host", "container-missing"), st["message"]
    assert st["remedy"][-1].startswith("container run --name ")

    config.write_text('containerBackend = "apple"\nimage = "sero-absent-0c7e:1"\n')
    st = doctor_json(tmp_workspace, env)
    assert (st["mode"], st["reason"]) == ("host", "container-image-missing"), st["message"]

    ctr = apple_standin.create(tmp_workspace)
    st = doctor_json(tmp_workspace, env)
    assert (st["mode"], st["reason"]) == ("container", None), st["message"]
    assert st["runtime"]["container"]["id"] == ctr.name
