"""No orphans: after SIGKILL of sero-ls or of the editor, no language server process is
left on the host or inside the container; a server that ignores shutdown, end of stdin
and SIGTERM is killed too. Rounds are bounded; waits have deadlines."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psutil
import pytest

from sero_ls.uris import path_to_uri
from tests.support import podman as pm
from tests.support.rawclient import RawClient

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
STUBBORN = FIXTURES / "stubborn_server.py"
# Rounds per case: the container cases are the hard ones (a SIGKILLed exec client does not
# end the process inside); host rounds are cheaper to prove the same on the host.
ROUNDS = {
    "container": int(os.environ.get("SERO_ORPHAN_ROUNDS", "20")),
    "host": int(os.environ.get("SERO_ORPHAN_HOST_ROUNDS", "6")),
}


def report(what: str, container: str | None, times: list[float]) -> None:
    where = "container" if container else "host"
    print(f"\n{what}, {where}: {len(times)} rounds, 0 orphans, slowest clean-up {max(times):.2f} s")


def init_params(ws: Path, server_cmd: list[str], settings: dict[str, Any]) -> dict[str, Any]:
    return {
        "processId": os.getpid(),
        "rootUri": path_to_uri(str(ws)),
        "capabilities": {},
        "workspaceFolders": [{"uri": path_to_uri(str(ws)), "name": ws.name}],
        "initializationOptions": {
            "settings": {
                **settings,
                "servers": {"ls": {"command": server_cmd, "languages": ["python"]}},
            }
        },
    }


def host_processes(tag: str) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["cmdline"]):
        with_tag = any(tag in part for part in p.info["cmdline"] or [])
        if with_tag and p.pid != os.getpid():
            found.append(p)
    return found


def leftovers(tag: str, container: str | None) -> list[str]:
    out = [" ".join(p.info["cmdline"]) for p in host_processes(tag)]
    if container:
        out += [c for c in pm.processes_in_container(container) if tag in c]
    return out


async def wait_gone(tag: str, container: str | None, deadline: float = 15.0) -> float:
    """Seconds until nothing tagged is left; fails with what is left."""
    start = time.monotonic()
    while True:
        left = await asyncio.to_thread(leftovers, tag, container)
        if not left:
            return time.monotonic() - start
        if time.monotonic() - start > deadline:
            raise AssertionError(f"orphans after {deadline:g} s: {left}")
        await asyncio.sleep(0.1)


async def wait_exit(pid: int, deadline: float = 15.0) -> None:
    """sero-ls notices that its editor is gone and ends (it is reaped by init)."""
    start = time.monotonic()
    while psutil.pid_exists(pid):
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.NoSuchProcess:
            return
        assert time.monotonic() - start < deadline, f"sero-ls {pid} still runs"
        await asyncio.sleep(0.1)


def round_plan(i: int, container: str | None) -> tuple[list[str], str]:
    """Alternate a real pylsp and the stubborn server; a unique tag per round."""
    tag = f"orphan-{uuid.uuid4().hex[:8]}"
    if i % 2 == 0:
        return ["pylsp", "--log-file", f"/tmp/{tag}.log"], tag
    return [sys.executable if container is None else "python3", str(STUBBORN), tag], tag


@pytest.fixture
def stage(tmp_path: Path, request: pytest.FixtureRequest):
    ws = tmp_path / "ws é"
    ws.mkdir()
    (ws / "a.py").write_text("x = 1\n")
    if request.param == "container":
        ctr = request.getfixturevalue("workspace_container")(ws)
        return ws, ctr.name, {"containerBackend": "podman"}
    return ws, None, {"runtime": "host"}


async def ready(client: RawClient, deadline: float = 60.0) -> list[dict[str, Any]]:
    async with asyncio.timeout(deadline):
        while True:
            status = await client.request("sero/workspaceStatus", {})
            servers = [s for f in status["folders"] for s in f["servers"]]
            if servers and all(s["state"] == "running" for s in servers):
                return servers
            await asyncio.sleep(0.1)


@pytest.mark.parametrize("stage", ["host", "container"], indirect=True)
async def test_sigkill_of_sero_ls_leaves_no_server(stage, tmp_path: Path) -> None:
    ws, container, settings = stage
    env = {**os.environ, "SERO_LS_STATE_DIR": str(tmp_path / "state")}
    times = []
    rounds = ROUNDS["container" if container else "host"]
    for i in range(rounds):
        cmd, tag = round_plan(i, container)
        async with RawClient.spawn([sys.executable, "-m", "sero_ls"], env=env) as client:
            await client.initialize(init_params(ws, cmd, settings))
            (srv,) = await ready(client)
            assert srv["mode"] == ("container" if container else "host")
            assert leftovers(tag, container), "the server is not running where expected"
            client.proc.send_signal(signal.SIGKILL)
            await client.proc.wait()
            times.append(await wait_gone(tag, container))
    report("sero-ls SIGKILL", container, times)


@pytest.mark.parametrize("stage", ["host", "container"], indirect=True)
async def test_sigkill_of_the_editor_leaves_no_server(stage, tmp_path: Path) -> None:
    ws, container, settings = stage
    times = []
    rounds = ROUNDS["container" if container else "host"]
    for i in range(rounds):
        cmd, tag = round_plan(i, container)
        env = {
            **os.environ,
            "SERO_LS_STATE_DIR": str(tmp_path / "state"),
            "FAKE_EDITOR_INIT": json.dumps(init_params(ws, cmd, settings)),
        }
        editor = await asyncio.create_subprocess_exec(
            sys.executable, str(FIXTURES / "fake_editor.py"), sys.executable, "-m", "sero_ls",
            stdout=asyncio.subprocess.PIPE, env=env,
        )  # fmt: skip
        assert editor.stdout is not None
        async with asyncio.timeout(60):
            line = (await editor.stdout.readline()).decode()
        assert line.startswith("ready"), line
        sero_pid = int(line.split()[1])
        editor.send_signal(signal.SIGKILL)
        await editor.wait()
        times.append(await wait_gone(tag, container))
        await wait_exit(sero_pid)
    report("editor SIGKILL", container, times)
