"""Dev Containers end to end, on Podman and through the docker CLI (a real dockerd).

Through docker the container is made by the real Dev Containers CLI (`devcontainer up`,
@devcontainers/cli from npm); on Podman (whose `run` needs the fixtures' adjustments here)
it is made the way that CLI makes it: the folder mounted at `/workspaces/<name>`, the
labels `devcontainer.local_folder`, `devcontainer.config_file` and `devcontainer.metadata`
(remoteUser `vscode`, remoteEnv), and no Sero label. The language server must run as
`vscode` with remoteEnv and the login profile's environment (the default userEnvProbe);
what it writes into the workspace is then owned by that user on the host; URIs
round-trip from `/workspaces/<name>`.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sero_ls.uris import path_to_uri
from tests.e2e.test_container_proxy import open_doc, wait_container_mode
from tests.e2e.test_workflows_podman import run_in_pty
from tests.support import podman as pm
from tests.support.dockerd import HOST_LIBS, REMOTE_UID, Dockerd, busybox_tar
from tests.support.lsp import Session, session

SCRIPTED = Path(__file__).resolve().parents[1] / "fixtures" / "scripted_server.py"
SERVER_IN = "/opt/sero-scripted/scripted_server.py"
METADATA = [
    {"id": "ghcr.io/devcontainers/features/common-utils:2", "remoteEnv": {"SERO_REMOTE": "x"}},
    {
        "remoteUser": "vscode",
        "remoteEnv": {"SERO_REMOTE": "yes", "PATH": "${containerEnv:PATH}:/home/vscode/bin"},
    },
]


def devcontainer_folder(ws: Path) -> tuple[dict[str, str], str]:
    """The folder's .devcontainer/devcontainer.json and the labels `devcontainer up` sets;
    and where the folder is inside (`/workspaces/<name>`)."""
    config = ws / ".devcontainer" / "devcontainer.json"
    config.parent.mkdir()
    config.write_text(json.dumps({"image": "sero-dk-test", **METADATA[1]}, indent=2))
    (ws / "main.py").write_text("x = 1\n")
    ws.chmod(0o777)  # the remote user writes into it (as with a uid-matched user)
    labels = {
        "devcontainer.local_folder": str(ws),
        "devcontainer.config_file": str(config),
        "devcontainer.metadata": json.dumps(METADATA),
    }
    return labels, f"/workspaces/{ws.name}"


def server_settings(inside: str, backend: str) -> dict[str, Any]:
    events = f"{inside}/.sero-events.jsonl"
    cmd = ["python3", SERVER_IN, "--stderr-bytes", "0", "--events", events]
    servers = {"scripted": {"command": cmd, "languages": ["python"]}}
    return {"containerBackend": backend, "pollInterval": 0.5, "probeTimeout": 10,
            "servers": servers}  # fmt: skip


async def check_devcontainer(
    s: Session,
    ws: Path,
    inside: str,
    name: str,
    exec_: Callable[..., str],
    cli: str,
    env: dict[str, str],
) -> None:
    st = await wait_container_mode(s, ws)
    c = st["runtime"]["container"]
    assert (c["id"], c["foundBy"], c["execUser"]) == (name, "label devcontainer.local_folder",
                                                      "vscode")  # fmt: skip
    assert c["execEnv"]["SERO_REMOTE"] == "yes"
    dc = st["devcontainer"]
    assert dc["configFile"] == str(ws / ".devcontainer" / "devcontainer.json")
    assert (dc["workspaceFolder"], dc["remoteUser"]) == (inside, "vscode")

    # the server wrote its events file into the workspace: on the host it is vscode's
    events = ws / ".sero-events.jsonl"
    assert events.exists() and events.stat().st_uid == REMOTE_UID
    pid = json.loads(events.read_text().splitlines()[0])["pid"]
    rows = [line.split(None, 2) for line in exec_("ps", "-e", "-o", "user,pid,args").splitlines()]
    assert ["vscode", str(pid)] in [r[:2] for r in rows if "scripted_server" in r[-1]], rows
    environ = dict(
        e.split("=", 1)
        for e in exec_("-u", "vscode", "cat", f"/proc/{pid}/environ").split("\0")
        if "=" in e
    )
    assert environ["SERO_REMOTE"] == "yes" and environ["SERO_PROFILE"] == "login"
    assert environ["PATH"].endswith(":/home/vscode/bin") and environ["HOME"] == "/home/vscode"

    # URIs: the server sees /workspaces/<name>; what it sends comes back as the host's
    uri = await open_doc(s, ws / "main.py")
    here = {"textDocument": {"uri": uri}}
    state = await s.request_raw("scripted/state", here)
    assert state["init"]["rootUri"] == path_to_uri(inside)
    assert len(state["documents"]) == 1
    inner = path_to_uri(f"{inside}/main.py")
    diag = {"range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 1}},
            "message": "from inside", "source": "scripted"}  # fmt: skip
    await s.request_raw("scripted/trigger", {**here, "notify": True,
                        "method": "textDocument/publishDiagnostics",
                        "params": {"uri": inner, "diagnostics": [diag]}})  # fmt: skip
    await s.wait_diagnostics(uri, lambda d: any(x.message == "from inside" for x in d))

    # the terminal: a shell as vscode with remoteEnv
    term = await s.request("sero/resolveTerminal", {"uri": uri})
    assert term["argv"][:2] == [cli, "exec"] and term["user"] == "vscode"
    typed = 'echo "WHO=[$(id -un)] R=[$SERO_REMOTE] P=[$(pwd)]"; exit\n'
    out = await asyncio.to_thread(run_in_pty, term["argv"], term["cwd"], {**env, **term["env"]},
                                  typed)  # fmt: skip
    assert f"WHO=[vscode] R=[yes] P=[{inside}]" in out, out


def doctor(ws: Path, backend: str, env: dict[str, str], tmp: Path) -> str:
    (ws / ".sero").mkdir(exist_ok=True)
    (ws / ".sero" / "config.toml").write_text(f'containerBackend = "{backend}"\n')
    proc = subprocess.run(
        [sys.executable, "-m", "sero_ls", "doctor", str(ws)], capture_output=True, text=True,
        env={**os.environ, **env, "SERO_LS_STATE_DIR": str(tmp / "doctor-state")}, timeout=120,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.fixture
def podman_devc_image(podman: None) -> Iterator[str]:
    """The docker tests' image (busybox, a `vscode` user with a login profile) in podman.
    Podman looks users up in the image's own /etc/passwd: the overlay rootfs would not do."""
    ref = f"localhost/sero-test-devc-{uuid.uuid4().hex[:8]}:latest"
    change = ["--change", "ENV=PATH=/usr/local/bin:/usr/bin:/bin"]
    proc = subprocess.run([pm.PODMAN, "import", *change, "-", ref], input=busybox_tar(),
                          capture_output=True, timeout=120, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    yield ref
    pm.run([pm.PODMAN, "rmi", "-f", ref], check=False)


async def test_devcontainer_on_podman(
    podman_devc_image: str, tmp_path: Path, tmp_workspace: Path, workspace_container: Any
) -> None:  # the image first: its teardown runs after the container is gone
    labels, inside = devcontainer_folder(tmp_workspace)
    libs = [(lib, lib, "ro") for lib in HOST_LIBS if os.path.isdir(lib)]
    ctr = workspace_container(
        tmp_workspace, dest=inside, label=False, labels=labels, image=podman_devc_image,
        extra_mounts=libs, command=("sleep", "1000000"),
    )  # fmt: skip
    pm.write_file_in_container(ctr.name, SERVER_IN, SCRIPTED.read_text())
    pm.expose_rootfs(ctr.name)  # for `exec -u vscode` (a fixture-only step, see there)
    podman = pm.run(["which", "podman"]).stdout.strip()

    def exec_(*argv: str) -> str:  # [-u USER] CMD...
        flags, cmd = (argv[:2], argv[2:]) if argv[0] == "-u" else ((), argv)
        return pm.run([pm.PODMAN, "exec", *flags, ctr.name, *cmd]).stdout

    settings = server_settings(inside, "podman")
    async with session([tmp_workspace], tmp=tmp_path, settings=settings) as s:
        await check_devcontainer(s, tmp_workspace, inside, ctr.name, exec_, podman, {})
    out = doctor(tmp_workspace, "podman", {}, tmp_path)
    assert f"devcontainer {tmp_workspace}/.devcontainer/devcontainer.json" in out
    assert "found by    label devcontainer.local_folder" in out and "exec as     vscode" in out


def devcontainer_cli() -> str | None:
    """The Dev Containers CLI: on PATH, else where scripts/setup.d/40-devcontainers-cli.sh
    puts it."""
    cache = Path(os.environ.get("SERO_CI_CACHE") or Path.home() / ".cache" / "sero-ls-ci")
    for candidate in sorted(cache.glob("devcontainers-cli-*/node_modules/.bin/devcontainer")):
        return str(candidate)
    return shutil.which("devcontainer")


@pytest.mark.docker
async def test_devcontainer_through_docker(
    tmp_path: Path, tmp_workspace: Path, dockerd: Dockerd
) -> None:
    """The container made by the real Dev Containers CLI (`devcontainer up`) on dockerd."""
    cli = devcontainer_cli()
    if cli is None:
        message = "no Dev Containers CLI (run: bash scripts/setup --test)"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    _, inside = devcontainer_folder(tmp_workspace)
    config = tmp_workspace / ".devcontainer" / "devcontainer.json"
    libs = [f"source={lib},target={lib},type=bind,readonly" for lib in HOST_LIBS
            if os.path.isdir(lib)]  # fmt: skip
    config.write_text(json.dumps({
        "image": "sero-dk-test:latest", **METADATA[1], "updateRemoteUserUID": False,
        "containerEnv": {"CE": "1"}, "mounts": libs, "runArgs": ["--network", "none"],
    }, indent=2))  # fmt: skip
    # before `devcontainer up`: no container, and the remedy is that command
    (tmp_workspace / ".sero").mkdir()
    (tmp_workspace / ".sero" / "config.toml").write_text('containerBackend = "docker"\n')
    before = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "sero_ls", "doctor", "--json", str(tmp_workspace)],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, **dockerd.env, "SERO_LS_STATE_DIR": str(tmp_path / "doctor-state")},
    )  # fmt: skip
    (st,) = json.loads(before.stdout)["folders"]
    assert (st["reason"], st["devcontainer"]["configFile"]) == ("container-missing", str(config))
    assert st["remedy"] == [f"devcontainer up --workspace-folder '{tmp_workspace}'"]
    up = await asyncio.to_thread(
        subprocess.run,
        [cli, "up", "--workspace-folder", str(tmp_workspace), "--docker-path", dockerd.cli],
        capture_output=True, text=True, env={**os.environ, **dockerd.env}, timeout=300,
        check=False,
    )  # fmt: skip
    assert up.returncode == 0, up.stdout + up.stderr[-2000:]
    result = json.loads(up.stdout.strip().splitlines()[-1])
    assert (result["outcome"], result["remoteWorkspaceFolder"]) == ("success", inside)
    cid = result["containerId"]
    name = dockerd.run("inspect", "--format", "{{.Name}}", cid).strip().lstrip("/")
    try:
        dockerd.write_file(name, SERVER_IN, SCRIPTED.read_text())

        def exec_(*argv: str) -> str:  # [-u USER] CMD...
            flags, cmd = (argv[:2], argv[2:]) if argv[0] == "-u" else ((), argv)
            return dockerd.run("exec", *flags, name, *cmd)

        settings = server_settings(inside, "docker")
        async with session([tmp_workspace], tmp=tmp_path, settings=settings,
                           env=dockerd.env) as s:  # fmt: skip
            await check_devcontainer(s, tmp_workspace, inside, name, exec_, dockerd.cli,
                                     dockerd.env)  # fmt: skip
        out = doctor(tmp_workspace, "docker", dockerd.env, tmp_path)
        assert f"devcontainer {config}" in out
        assert f"workspace {inside}" in out and "remoteUser vscode" in out
    finally:
        dockerd.run("rm", "-f", cid, check=False)
