"""Sero workflows end to end: staleness, terminals, preview URLs and logs, against the real
sero-ls process, real Podman containers and the Apple CLI stand-in."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import re
import select
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types

from sero_ls.runtime.backends.parse import parse_time
from sero_ls.uris import path_to_uri
from tests.support import podman as pm
from tests.support.apple import E2E_RELEASES, both_apple_releases, set_addresses_hidden
from tests.support.lsp import folder_status, session

FAST = {"pollInterval": 0.5, "probeTimeout": 5}
PODMAN = {**FAST, "containerBackend": "podman"}
BUSYBOX_SLEEP = ("sleep", "1000000")
PWD_LINE = re.compile(r"PWD=\[([^\]$]*)\]")  # not the echoed command, which holds "$("


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def status_is(folder: Path, reason: str | None, mode: str = "container"):
    def check(note: dict[str, Any]) -> bool:
        st = folder_status(note, folder)
        return st is not None and st["reason"] == reason and st["mode"] == mode

    return check


def fresh(s: Any, check: Any) -> Any:
    """``check`` on notifications that arrive from now on (not the ones already received)."""
    seen = {id(n) for n in s.status.notes}
    return lambda note: id(note) not in seen and check(note)


def http_status(url: str, timeout: float = 15) -> int:
    """GET url until the server behind it answers (it may still be starting)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return int(resp.status)
        except OSError:
            assert time.monotonic() < deadline, f"{url} did not answer"
            time.sleep(0.1)


def run_in_pty(argv: list[str], cwd: str, env: dict[str, str], typed: str, timeout: float = 30):
    """Run argv with a terminal as stdin/stdout/stderr (as an editor's terminal does), type
    ``typed``, and return everything it printed until it exits."""
    master, slave = os.openpty()
    proc = subprocess.Popen(
        argv, cwd=cwd, env={**os.environ, **env}, stdin=slave, stdout=slave, stderr=slave,
        start_new_session=True,
    )  # fmt: skip
    os.close(slave)
    out = b""
    try:
        os.write(master, typed.encode())
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"{argv} did not exit; it printed {out!r}"
            ready, _, _ = select.select([master], [], [], remaining)
            if not ready:
                continue
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the terminal's other side is closed
                break
            if not chunk:
                break
            out += chunk
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return out.decode("utf-8", "replace")


@pytest.fixture
def own_image(podman: None) -> Iterator[str]:
    """A busybox image under a name of this test's own (re-importing it is a rebuild)."""
    ref = f"localhost/sero-test-wf-{uuid.uuid4().hex[:8]}:latest"
    pm.import_busybox_image(ref)
    yield ref
    # every image that ever had this name: the tagged one and those a re-import left untagged
    listed = json.loads(pm.run([pm.PODMAN, "images", "-a", "--format", "json"]).stdout or "[]")
    ids = [i["Id"] for i in listed if ref in (i.get("History") or []) + (i.get("Names") or [])]
    pm.run([pm.PODMAN, "rmi", "-f", *ids], check=False)


async def test_stale_container_and_dockerfile(
    own_image: str, tmp_path: Path, tmp_workspace: Path, workspace_container
) -> None:  # own_image first: its teardown runs after the containers are gone
    ctr = workspace_container(tmp_workspace, image=own_image, command=BUSYBOX_SLEEP)
    dockerfile = tmp_workspace / "apps" / "desktop" / "images" / "Dockerfile.sero-node"
    dockerfile.parent.mkdir(parents=True)
    dockerfile.write_text("FROM scratch\n")
    hour_ago = time.time() - 3600
    os.utime(dockerfile, (hour_ago, hour_ago))
    df_uri = path_to_uri(str(dockerfile))
    settings = {**PODMAN, "image": own_image}
    async with session([tmp_workspace], tmp=tmp_path, settings=settings) as s:
        note = await s.status.wait_for(status_is(tmp_workspace, None))
        st = folder_status(note, tmp_workspace)
        assert st["dockerfile"]["path"] == str(dockerfile) and st["dockerfile"]["stale"] is False

        # the Dockerfile changes after the image was built: a Warning on it and on the folder
        os.utime(dockerfile)
        note = await s.status.wait_for(fresh(s, status_is(tmp_workspace, "container-stale")))
        st = folder_status(note, tmp_workspace)
        assert st["dockerfile"]["stale"] is True and st["degraded"] is False
        assert st["remedy"] == [
            f"podman build -t {own_image} -f apps/desktop/images/Dockerfile.sero-node .",
            f"podman rm -f {ctr.name}",
            st["remedy"][2],
        ]
        assert st["remedy"][2].startswith(f"podman run --name {ctr.name} -d")
        (d,) = await s.wait_diagnostics(df_uri, lambda d: len(d) == 1)
        assert (d.severity, d.code, d.source) == (
            types.DiagnosticSeverity.Warning,
            "container-stale",
            "sero",
        )
        assert "podman build" in d.message
        folder_uri = path_to_uri(str(tmp_workspace))
        (fd,) = await s.wait_diagnostics(folder_uri, lambda d: len(d) == 1)
        assert fd.code == "container-stale" and "Dockerfile.sero-node" in fd.message

        # `sero-ls doctor` says so too (settings from the folder's .sero/config.toml)
        (tmp_workspace / ".sero").mkdir()
        (tmp_workspace / ".sero" / "config.toml").write_text(
            f'containerBackend = "podman"\nimage = "{own_image}"\n', encoding="utf-8"
        )
        (tmp_path / "logs").mkdir()
        (tmp_path / "logs" / "sero-remote-git.log").write_text("x")
        env = {**os.environ, "SERO_LS_LOG_DIR": str(tmp_path / "logs"),
               "SERO_LS_STATE_DIR": str(tmp_path / "doctor-state")}  # fmt: skip
        doctor = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "sero_ls", "doctor", str(tmp_workspace)],
            capture_output=True, text=True, env=env, timeout=60, check=False,
        )  # fmt: skip
        assert doctor.returncode == 0, doctor.stderr  # stale is a warning, not degraded
        assert "reason      container-stale" in doctor.stdout
        assert f"dockerfile  {dockerfile} (changed" in doctor.stdout
        assert (
            "NEWER than the image" in doctor.stdout and "  stale       the image" in doctor.stdout
        )
        assert f"$ podman build -t {own_image}" in doctor.stdout
        assert "remote-git" in doctor.stdout and "sero-electron.log  (absent)" in doctor.stdout
        (tmp_workspace / ".sero" / "config.toml").unlink()

        os.utime(dockerfile, (hour_ago, hour_ago))  # back in time: the warnings clear
        await s.status.wait_for(fresh(s, status_is(tmp_workspace, None)))
        await s.wait_diagnostics(df_uri, lambda d: d == [])

        # the image is rebuilt after the container was created: recreate it
        pm.import_busybox_image(own_image, force=True)
        note = await s.status.wait_for(fresh(s, status_is(tmp_workspace, "container-stale")))
        st = folder_status(note, tmp_workspace)
        assert st["dockerfile"]["stale"] is False
        (why,) = st["stale"]
        assert "before its image" in why and own_image in why
        recreate = [f"podman rm -f {ctr.name}", st["remedy"][1]]
        assert st["remedy"] == recreate
        assert f"'ai.sero.workspacePath={tmp_workspace}'" in recreate[1]
        await s.wait_diagnostics(folder_uri, lambda d: len(d) == 1)

        pm.remove(ctr.name)
        workspace_container(tmp_workspace, name=ctr.name, image=own_image, command=BUSYBOX_SLEEP)
        note = await s.status.wait_for(fresh(s, status_is(tmp_workspace, None)))
        assert folder_status(note, tmp_workspace)["stale"] == []
        await s.wait_diagnostics(folder_uri, lambda d: d == [])


@both_apple_releases
async def test_stale_on_apple(
    own_image: str, tmp_path: Path, tmp_workspace: Path, apple_standin
) -> None:
    """1.x: ISO-8601 creation dates, a container older than its rebuilt image is stale.
    0.x has no creation date at all: never stale by it (and not "created in 2001")."""
    ctr = apple_standin.create(tmp_workspace, image=own_image, command=BUSYBOX_SLEEP)
    created = parse_time(pm.inspect(ctr.name)["Created"])
    assert created is not None
    settings = {**FAST, "containerBackend": "apple"}
    dated = apple_standin.release.startswith("1.")

    async with session([tmp_workspace], tmp=tmp_path, settings=settings,
                       env=apple_standin.env) as s:  # fmt: skip
        st = folder_status(await s.status.wait_for(status_is(tmp_workspace, None)), tmp_workspace)
        got = st["runtime"]["container"]["created"]
        if dated:
            assert abs(dt.datetime.fromisoformat(got) - created) < dt.timedelta(seconds=1)
        else:
            assert got is None
        pm.import_busybox_image(own_image, force=True)  # rebuilt after the container was made
        if dated:
            st = folder_status(await s.status.wait_for(
                fresh(s, status_is(tmp_workspace, "container-stale"))), tmp_workspace)
            assert st["remedy"][0] == f"container delete --force {ctr.name}"
            assert st["remedy"][1].startswith(f"container run --name {ctr.name} -d")
            assert "before its image" in st["stale"][0]
        else:  # the image's build time moved; the container's age is unknown: no verdict
            status = await s.request("sero/workspaceStatus", {"refresh": True})
            (st,) = status["folders"]
            assert (st["reason"], st["stale"]) == (None, [])


async def test_terminal_in_the_container_and_on_the_host(
    tmp_path: Path, tmp_workspace: Path, apple_standin
) -> None:
    sub = tmp_workspace / "pkg é"
    sub.mkdir()
    (sub / "main.py").write_text("x = 1\n")
    ctr = apple_standin.create(tmp_workspace)  # the host copy is hidden inside: mapping is real
    typed = 'echo "PWD=[$(pwd)]"; exit\n'
    async with session([tmp_workspace], tmp=tmp_path, settings=PODMAN) as s:
        await s.status.wait_for(status_is(tmp_workspace, None))
        term = await s.request("sero/resolveTerminal", {"uri": path_to_uri(str(sub / "main.py"))})
        assert term["mode"] == "container" and term["containerCwd"] == "/workspace/pkg é"
        assert term["argv"][:7] == [
            pm.run(["which", "podman"]).stdout.strip(), "exec", "-i", "-t", "-w",
            "/workspace/pkg é", ctr.name,
        ]  # fmt: skip
        out = run_in_pty(term["argv"], term["cwd"], term["env"], typed)
        assert PWD_LINE.findall(out) == ["/workspace/pkg é"], out

        # the same folder asked to run on the host: the user's shell in the folder
        await s.request(
            "sero/setRuntime", {"uri": path_to_uri(str(tmp_workspace)), "runtime": "host"}
        )
        term = await s.request("sero/resolveTerminal", {"uri": path_to_uri(str(tmp_workspace))})
        assert term["mode"] == "host" and term["cwd"] == str(tmp_workspace)
        out = run_in_pty(term["argv"], term["cwd"], term["env"], typed)
        assert PWD_LINE.findall(out) == [str(tmp_workspace)], out

        for bad in ({"uri": 3}, {}, {"uri": "file:///not/a/folder"}):
            with pytest.raises(Exception, match=r"must be|missing|not in a workspace"):
                await s.request("sero/resolveTerminal", bad)

    # Apple's CLI (the stand-in: `container exec -i -t -w DIR ID ...`), 0.x and 1.x
    settings = {**FAST, "containerBackend": "apple"}
    for release in E2E_RELEASES:
        apple_standin.release = release
        async with session([tmp_workspace], tmp=tmp_path / f"apple-{release}",
                           settings=settings, env=apple_standin.env) as s:  # fmt: skip
            await s.status.wait_for(status_is(tmp_workspace, None))
            term = await s.request("sero/resolveTerminal", {"uri": path_to_uri(str(sub))})
            assert term["argv"][:7] == [
                str(apple_standin.cli), "exec", "-i", "-t", "-w", "/workspace/pkg é", ctr.name,
            ]  # fmt: skip
            env = {**apple_standin.env, **term["env"]}
            out = run_in_pty(term["argv"], term["cwd"], env, typed)
            assert PWD_LINE.findall(out) == ["/workspace/pkg é"], (release, out)


async def test_preview_urls_published_container_ip_and_host(
    tmp_path: Path, tmp_workspace: Path, apple_standin
) -> None:
    port = free_port()
    ctr = apple_standin.create(
        tmp_workspace, network=None, publish=[f"127.0.0.1:{port}:8000"],
        command=["python3", "-m", "http.server", "8000"],
    )  # fmt: skip
    ip = pm.inspect(ctr.name)["NetworkSettings"]["Networks"]["podman"]["IPAddress"]  # type: ignore[index]
    assert ip.count(".") == 3  # reported by inspect, and never contacted
    uri = path_to_uri(str(tmp_workspace))
    async with session([tmp_workspace], tmp=tmp_path, settings=PODMAN) as s:
        await s.status.wait_for(status_is(tmp_workspace, None))
        p = await s.request("sero/previewUrl", {"uri": uri, "port": 8000})
        assert (p["url"], p["via"], p["mode"]) == (
            f"http://127.0.0.1:{port}",
            "published",
            "container",
        )
        assert (p["containerIp"], p["containerUrl"]) == (ip, f"http://{ip}:8000")
        assert p["managedPreview"]["available"] is True
        assert await asyncio.to_thread(http_status, p["url"] + "/") == 200  # it answers
        # a port nobody publishes: the container IP
        p = await s.request("sero/previewUrl", {"uri": uri, "port": 5173})
        assert (p["url"], p["via"]) == (f"http://{ip}:5173", "container-ip")
        for bad in ({"uri": uri, "port": "80"}, {"uri": uri, "port": 0}, {"uri": uri}):
            with pytest.raises(Exception, match=r"must be|missing"):
                await s.request("sero/previewUrl", bad)

    # Apple's containers: the IP from the runtime's own network data; with no network
    # attachment, the port it publishes (configuration.publishedPorts), on 0.x and 1.x
    apple = {**FAST, "containerBackend": "apple"}
    for release in E2E_RELEASES:
        apple_standin.release = release
        set_addresses_hidden(apple_standin.state_dir, False)
        async with session([tmp_workspace], tmp=tmp_path, settings=apple,
                           env=apple_standin.env) as s:  # fmt: skip
            await s.status.wait_for(status_is(tmp_workspace, None))
            p = await s.request("sero/previewUrl", {"uri": uri, "port": 8000})
            assert (p["url"], p["via"], p["containerIp"]) == (
                f"http://{ip}:8000", "container-ip", ip)
            assert p["publishedUrl"] == f"http://127.0.0.1:{port}", release
            set_addresses_hidden(apple_standin.state_dir)
            p = await s.request("sero/previewUrl", {"uri": uri, "port": 8000})
            assert (p["url"], p["via"], p["containerIp"]) == (
                f"http://127.0.0.1:{port}", "published", None), release
            assert await asyncio.to_thread(http_status, p["url"] + "/") == 200
            p = await s.request("sero/previewUrl", {"uri": uri, "port": 5173})
            assert p["url"] is None and "publishes no port 5173" in p["message"]

    async with session([tmp_workspace], tmp=tmp_path, settings={**PODMAN, "runtime": "host"}) as s:
        await s.status.wait_for(status_is(tmp_workspace, "runtime-host-selected", "host"))
        p = await s.request("sero/previewUrl", {"uri": uri, "port": 8000})
        assert (p["url"], p["mode"], p["via"]) == ("http://localhost:8000", "host", "localhost")
        assert p["managedPreview"] == {"available": False, "reason": "runtime-host-selected"}
        assert "managed-preview" in p["message"]


async def test_logs_present_absent_plugins_and_own(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "sero-vite.log").write_text("VITE ready in 300 ms\n")
    (logs / "sero-remote-git.log").write_text("git plugin\n")
    (logs / "sero-remote-terminal.log").write_text("")
    own = tmp_path / "sero-ls.log"
    ws = tmp_path / "proj"
    ws.mkdir()
    env = {"SERO_LS_LOG_DIR": str(logs)}
    args = ("--log-file", str(own))
    async with session([ws], tmp=tmp_path, settings={"runtime": "host"}, env=env, args=args) as s:
        await s.status.wait_for(lambda n: folder_status(n, ws) is not None)
        result = await s.request("sero/logs", {})
        by_name = {e["name"]: e for e in result["logs"]}
        assert list(by_name) == ["vite", "electron", "web-remote-watch", "remote-git",
                                 "remote-terminal", "sero-ls"]  # fmt: skip
        assert by_name["vite"]["exists"] and by_name["vite"]["size"] == 21
        assert by_name["vite"]["path"] == str(logs / "sero-vite.log")
        assert by_name["vite"]["modified"].endswith("Z")
        assert by_name["electron"] == {
            "name": "electron", "kind": "sero", "path": str(logs / "sero-electron.log"),
            "exists": False, "size": None, "modified": None,
        }  # fmt: skip
        assert by_name["remote-terminal"]["exists"] and by_name["remote-terminal"]["size"] == 0
        assert by_name["sero-ls"]["path"] == str(own) and by_name["sero-ls"]["exists"]
        assert by_name["sero-ls"]["size"] > 0  # -v: it logs what it does
        # a plugin log appearing later is listed on the next request
        (logs / "sero-remote-zeta.log").write_text("z")
        result = await s.request("sero/logs", None)
        assert [e["name"] for e in result["logs"]][-2:] == ["remote-zeta", "sero-ls"]
