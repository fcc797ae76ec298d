"""No orphans: after SIGKILL of sero-ls, of its process group or of the editor, no
language server process is left on the host or inside the container, workers included.
Every server has a worker that ignores SIGTERM, and half of them are a server that
ignores shutdown, end of stdin and SIGTERM itself. Zombies (a killed process whose new
parent, a PID 1 that does not reap such as the container's `sleep` or this machine's
init, never waits for it) are not running processes: they are counted and reported
apart. Rounds are bounded; waits have deadlines."""

from __future__ import annotations

import asyncio
import contextlib
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
ROUNDS = int(os.environ.get("SERO_ORPHAN_ROUNDS", "10"))
EDITOR_ROUNDS = int(os.environ.get("SERO_ORPHAN_EDITOR_ROUNDS", "4"))
# A worker that ignores SIGTERM, started by the server's own command: "$1" is Python,
# "$0" (the tag) names it; the server itself replaces the shell.
WITH_WORKER = (
    'py=$1; shift; "$py" -c "import signal, time; signal.signal(signal.SIGTERM, '
    'signal.SIG_IGN); time.sleep(7777)" "$0" & exec "$@"'
)


def report(what: str, container: str | None, times: list[float], zombies: list[str]) -> None:
    where = "container" if container else "host"
    print(
        f"\n{what}, {where}: {len(times)} rounds, 0 orphans, slowest clean-up "
        f"{max(times):.2f} s; zombies left to a non-reaping parent: {len(zombies)} "
        f"({', '.join(sorted(set(zombies))) or '-'})"
    )


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


async def wait_gone(
    tag: str,
    container: str | None,
    tree: list[psutil.Process] | None = None,
    deadline: float = 15.0,
) -> float:
    """Seconds until nothing tagged, and nothing of the recorded tree, runs; fails with
    what is left."""
    start = time.monotonic()
    while True:
        left = await asyncio.to_thread(lambda: leftovers(tag, container) + live(tree or []))
        if not left:
            return time.monotonic() - start
        if time.monotonic() - start > deadline:
            for p in [*host_processes(tag), *(tree or [])]:
                with contextlib.suppress(psutil.Error):
                    p.kill()  # the same process (psutil checks), so that no orphan outlives us
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
    """Alternate a real pylsp and the stubborn server, each with a worker that ignores
    SIGTERM; a unique tag per round."""
    tag = f"orphan-{uuid.uuid4().hex[:8]}"
    python = sys.executable if container is None else "python3"
    if i % 2 == 0:
        server = ["pylsp", "--log-file", f"/tmp/{tag}.log"]
    else:
        server = [python, str(STUBBORN), tag]
    return ["sh", "-c", WITH_WORKER, f"{tag}-worker", python, *server], tag


def server_tree(tag: str) -> list[psutil.Process]:
    """The tagged processes (host or container: the host's /proc sees both) and all
    their descendants."""
    found = {p.pid: p for p in host_processes(tag)}
    for p in list(found.values()):
        try:
            found.update({c.pid: c for c in p.children(recursive=True)})
        except psutil.Error:
            pass
    return list(found.values())


def zombies(procs: list[psutil.Process]) -> list[str]:
    """The recorded processes that are now zombies: "name (parent)"."""
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() == psutil.STATUS_ZOMBIE:
                parent = psutil.Process(p.ppid()).name() if p.ppid() else "?"
                out.append(f"{p.name()} under {parent}")
        except psutil.Error:
            pass
    return out


def live(procs: list[psutil.Process]) -> list[str]:
    """The recorded processes that still run (same process, not a zombie)."""
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(f"{p.pid} {' '.join(p.cmdline())}")
        except psutil.Error:
            pass
    return out


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


@pytest.mark.parametrize("kill", ["sero-ls", "its process group"])
@pytest.mark.parametrize("stage", ["host", "container"], indirect=True)
async def test_sigkill_of_sero_ls_leaves_no_server(stage, kill: str, tmp_path: Path) -> None:
    ws, container, settings = stage
    env = {**os.environ, "SERO_LS_STATE_DIR": str(tmp_path / "state")}
    # setsid: sero-ls leads a process group of its own, as when an editor starts it so
    argv = ["setsid", sys.executable, "-m", "sero_ls"]
    times: list[float] = []
    left: list[str] = []
    for i in range(ROUNDS):
        cmd, tag = round_plan(i, container)
        async with RawClient.spawn(argv, env=env) as client:
            await client.initialize(init_params(ws, cmd, settings))
            (srv,) = await ready(client)
            assert srv["mode"] == ("container" if container else "host")
            tree = await asyncio.to_thread(server_tree, tag)
            names = " ".join(" ".join(p.cmdline()) for p in tree)
            assert f"{tag}-worker" in names, f"the worker does not run: {names}"
            pid = client.proc.pid
            if kill == "sero-ls":
                os.kill(pid, signal.SIGKILL)
            else:
                assert os.getpgid(pid) == pid
                os.killpg(pid, signal.SIGKILL)
            await client.proc.wait()
            times.append(await wait_gone(tag, container, tree))
            left += zombies(tree)
    report(f"SIGKILL of {kill}", container, times, left)


@pytest.mark.parametrize("stage", ["host", "container"], indirect=True)
async def test_sigkill_of_the_editor_leaves_no_server(stage, tmp_path: Path) -> None:
    ws, container, settings = stage
    times: list[float] = []
    left: list[str] = []
    for i in range(EDITOR_ROUNDS):
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
        tree = await asyncio.to_thread(server_tree, tag)
        editor.send_signal(signal.SIGKILL)
        await editor.wait()
        times.append(await wait_gone(tag, container, tree))
        await wait_exit(sero_pid)
        left += zombies(tree)
    report("SIGKILL of the editor", container, times, left)
