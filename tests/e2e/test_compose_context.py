"""Docker Compose projects and `containerContext`, end to end with the real docker CLI, a
real dockerd and the real docker-compose (tests/support/dockerd.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from sero_ls.uris import path_to_uri
from tests.e2e.test_workflows_podman import status_is
from tests.support.dockerd import Dockerd
from tests.support.lsp import folder_status, session

pytestmark = pytest.mark.docker

COMPOSE = """services:
  app:
    image: sero-dk-test:latest
    command: ["sleep", "1000000"]
    network_mode: none
    volumes: ["./:/src"]
  db:
    image: sero-dk-test:latest
    command: ["sleep", "1000000"]
    network_mode: none
  worker:
    image: sero-dk-test:latest
    command: ["sleep", "1000000"]
    network_mode: none
    volumes: ["./:/src"]
"""


def doctor(ws: Path, env: dict[str, str], tmp: Path, config: str) -> tuple[int, str]:
    (ws / ".sero").mkdir(exist_ok=True)
    (ws / ".sero" / "config.toml").write_text(config)
    proc = subprocess.run(
        [sys.executable, "-m", "sero_ls", "doctor", str(ws)], capture_output=True, text=True,
        env={**os.environ, **env, "SERO_LS_STATE_DIR": str(tmp / "doctor-state")}, timeout=120,
        check=False,
    )  # fmt: skip
    return proc.returncode, proc.stdout + proc.stderr


@pytest.fixture
def compose_project(tmp_workspace: Path, dockerd: Dockerd) -> Any:
    exe = shutil.which("docker-compose")
    if exe is None:
        message = "no docker-compose (run: bash scripts/setup --test)"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    project = f"sero-test-{uuid.uuid4().hex[:8]}"
    (tmp_workspace / "docker-compose.yml").write_text(COMPOSE)

    def compose(*args: str) -> None:
        subprocess.run(
            [exe, "-p", project, *args], cwd=tmp_workspace, env={**os.environ, **dockerd.env},
            capture_output=True, timeout=180, check=True,
        )  # fmt: skip

    yield project, compose
    compose("down", "-t", "0")


async def test_compose_two_services_and_the_service_setting(
    tmp_path: Path, tmp_workspace: Path, dockerd: Dockerd, compose_project: Any
) -> None:
    project, compose = compose_project
    compose("up", "-d", "app", "db")
    settings = {"containerBackend": "docker", "pollInterval": 60}
    async with session([tmp_workspace], tmp=tmp_path, settings=settings, env=dockerd.env) as s:
        note = await s.status.wait_for(status_is(tmp_workspace, None), timeout=30)
        st = folder_status(note, tmp_workspace)
        assert st is not None and st["runtime"]["container"]["foundBy"] == "compose"
        assert st["compose"]["project"] == project and st["compose"]["service"] == "app"
        assert st["compose"]["services"] == ["app", "db"]
        assert st["compose"]["workingDir"] == str(tmp_workspace)
        assert {"host": str(tmp_workspace), "container": "/src", "readOnly": False,
                "type": "bind"} in st["runtime"]["mounts"]  # fmt: skip
        # a second service that mounts the folder too: pushed (docker events), and a tie
        mark = s.status.mark()
        compose("up", "-d", "worker")
        note = await s.status.wait_for(
            status_is(tmp_workspace, "container-ambiguous", "host"), timeout=20, after=mark
        )
        assert "`service` setting" in folder_status(note, tmp_workspace)["message"]  # type: ignore[index]
    code, out = doctor(tmp_workspace, dockerd.env, tmp_path,
                       'containerBackend = "docker"\nservice = "worker"\n')  # fmt: skip
    assert code == 0, out
    assert f"compose     project {project}, service worker (services: app, db, worker)" in out
    code, out = doctor(tmp_workspace, dockerd.env, tmp_path, 'containerBackend = "docker"\n')
    assert code == 1 and "container-ambiguous" in out, out


async def test_container_context_reaches_every_cli_call(
    tmp_path: Path, tmp_workspace: Path, dockerd: Dockerd, docker_container: Any
) -> None:
    """DOCKER_HOST names a socket nobody listens on; only the context reaches the engine, so
    every call sero-ls makes (probes, events, exec of servers, terminal) must name it."""
    context = f"sero-test-{uuid.uuid4().hex[:8]}"
    dockerd.run("context", "create", context, "--docker", f"host=unix://{dockerd.socket}")
    name = docker_container(tmp_workspace, labels={"ai.sero.workspacePath": str(tmp_workspace)})
    # a container labelled for `elsewhere` that mounts another folder (a remote engine's
    # mounts name paths on its own machine: the same picture)
    elsewhere, other = tmp_path / "not mounted", tmp_path / "other side"
    elsewhere.mkdir()
    other.mkdir()
    docker_container(other, labels={"ai.sero.workspacePath": str(elsewhere)}, python=False,
                     dest="/other")  # fmt: skip
    env = {**dockerd.env, "DOCKER_HOST": f"unix://{tmp_path}/nobody.sock"}
    servers = {"pylsp": {"command": ["pylsp"], "languages": ["python"]}}
    settings = {"containerBackend": "docker", "containerContext": context, "pollInterval": 60,
                "servers": servers}  # fmt: skip
    async with session([tmp_workspace], tmp=tmp_path, settings=settings, env=env) as s:

        def running(note: dict[str, Any]) -> bool:
            st = folder_status(note, tmp_workspace)
            return bool(st and st["mode"] == "container" and st["servers"]
                        and st["servers"][0]["state"] == "running")  # fmt: skip

        note = await s.status.wait_for(running, timeout=60)
        st = folder_status(note, tmp_workspace)
        assert st is not None and st["runtime"]["context"] == context
        assert st["servers"][0]["mode"] == "container"
        term = await s.request("sero/resolveTerminal", {"uri": path_to_uri(str(tmp_workspace))})
        assert term["argv"][:4] == [dockerd.cli, "--context", context, "exec"]
        mark = s.status.mark()
        dockerd.run("stop", "-t", "0", name)
        note = await s.status.wait_for(
            status_is(tmp_workspace, "container-not-running", "host"), timeout=15, after=mark
        )
        remedy = folder_status(note, tmp_workspace)["remedy"]  # type: ignore[index]
        assert remedy == [f"docker --context {context} start {name}"]
    config = f'containerBackend = "docker"\ncontainerContext = "{context}"\n'
    code, out = doctor(elsewhere, env, tmp_path, config)
    assert code == 1 and "folder-not-mounted" in out, out
    assert f"context     {context}" in out and "mounted from this machine" in out
