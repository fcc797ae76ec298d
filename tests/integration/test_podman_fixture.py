"""The real-container fixtures do what other suites rely on."""

from __future__ import annotations

import socket
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support import podman as pm

pytestmark = pytest.mark.podman


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_container_runs_with_the_workspace_mounted(workspace_container, tmp_workspace: Path):
    (tmp_workspace / "main.py").write_text("x = 1\n")
    ctr = workspace_container(tmp_workspace)

    assert ctr.name.startswith(pm.TEST_PREFIX) and ctr.dest == "/workspace"
    assert pm.state(ctr.name) == "running"
    data = pm.inspect(ctr.name)
    mounts = [(m["Source"], m["Destination"]) for m in data["Mounts"]]  # type: ignore[index]
    assert mounts == [(str(tmp_workspace), "/workspace")]
    assert data["Config"]["Labels"][pm.WORKSPACE_LABEL] == str(tmp_workspace)  # type: ignore[index]
    assert pm.exec_(ctr.name, ["cat", "main.py"]).stdout == "x = 1\n"
    assert pm.exec_(ctr.name, ["pwd"]).stdout.strip() == "/workspace"


def test_the_host_copy_of_the_workspace_is_hidden_inside(workspace_container, tmp_workspace):
    ctr = workspace_container(tmp_workspace)

    inside = pm.exec_(ctr.name, ["test", "-e", str(tmp_workspace)])
    assert inside.returncode == 1, "the host path must not be reachable inside the container"
    assert tmp_workspace.is_dir(), "hiding it inside must leave the host copy alone"
    assert pm.exec_(ctr.name, ["test", "-d", str(tmp_workspace.parent)]).returncode == 0


def test_stop_and_start_flip_the_state(workspace_container, tmp_workspace):
    ctr = workspace_container(tmp_workspace)

    pm.stop(ctr.name)
    assert pm.state(ctr.name) == "exited"
    assert pm.exec_(ctr.name, ["true"]).returncode != 0
    pm.start(ctr.name)
    assert pm.state(ctr.name) == "running"
    assert pm.exec_(ctr.name, ["test", "-e", str(tmp_workspace)]).returncode == 1


def test_container_only_file_and_processes(workspace_container, tmp_workspace):
    ctr = workspace_container(tmp_workspace, label=False)
    pm.write_file_in_container(ctr.name, "/opt/sero mod/only_here.py", "VALUE = 42\n")

    assert pm.exec_(ctr.name, ["cat", "/opt/sero mod/only_here.py"]).stdout == "VALUE = 42\n"
    assert not Path("/opt/sero mod").exists()
    assert pm.processes_in_container(ctr.name) == ["sleep infinity"]
    assert pm.WORKSPACE_LABEL not in pm.inspect(ctr.name)["Config"]["Labels"]  # type: ignore[index]


def test_busybox_image_import_is_idempotent_and_runs(workspace_container, tmp_workspace):
    first = pm.import_busybox_image()
    assert pm.import_busybox_image() == first
    (tmp_workspace / "a.txt").write_text("a")
    ctr = workspace_container(tmp_workspace, image=pm.BUSYBOX_REF, extra_mounts=[
        (tmp_workspace, "/ro", "ro")])

    assert pm.exec_(ctr.name, ["ls", "/workspace"]).stdout.split() == ["a.txt"]
    assert pm.exec_(ctr.name, ["sh", "-c", "echo x > /ro/b.txt"]).returncode != 0
    assert pm.inspect(ctr.name)["ImageName"] == pm.BUSYBOX_REF


def test_published_port_on_loopback(workspace_container, tmp_workspace):
    port = free_port()
    ctr = workspace_container(
        tmp_workspace, network=None, publish=[f"127.0.0.1:{port}:8000"],
        command=["python3", "-m", "http.server", "8000"],
    )
    ip = pm.inspect(ctr.name)["NetworkSettings"]["IPAddress"]  # type: ignore[index]
    assert ip.count(".") == 3, "the bridge address is reported (and never contacted)"

    deadline = time.monotonic() + 15
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as resp:
                assert resp.status == 200
                break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_publish_refuses_non_loopback(tmp_workspace):
    with pytest.raises(ValueError, match=r"127\.0\.0\.1"):
        pm.create_workspace_container("sero-test-never", tmp_workspace,
                                      publish=["0.0.0.0:1:1"])
    assert not pm.exists("sero-test-never")


def test_hiding_never_deletes_a_mounted_workspace(tmp_workspace):
    (tmp_workspace / "keep.txt").write_text("keep")
    for dest in (str(tmp_workspace), str(tmp_workspace.parent)):
        with pytest.raises(ValueError, match="hide_host_copy=False"):
            pm.create_workspace_container("sero-test-never", tmp_workspace, dest=dest)
    assert (tmp_workspace / "keep.txt").read_text() == "keep"
    assert not pm.exists("sero-test-never")


def test_same_path_mount_without_hiding(workspace_container, tmp_workspace):
    (tmp_workspace / "keep.txt").write_text("keep")
    ctr = workspace_container(tmp_workspace, dest=str(tmp_workspace), hide_host_copy=False)
    assert pm.exec_(ctr.name, ["cat", "keep.txt"]).stdout == "keep"
    assert pm.exec_(ctr.name, ["pwd"]).stdout.strip() == str(tmp_workspace)
