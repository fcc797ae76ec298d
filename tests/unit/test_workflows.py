"""Terminal argv, preview URL choice, log listing and Dockerfile warnings, without processes."""

from __future__ import annotations

import datetime as dt
import io
import logging
import os
from pathlib import Path

import pytest
from lsprotocol import types

from sero_ls.cli.doctor import write_logs, write_table
from sero_ls.lsp.workflow_requests import dockerfile_diagnostics
from sero_ls.runtime.capabilities import capabilities_for
from sero_ls.runtime.model import (
    ContainerInfo,
    ContainerRecord,
    DockerfileInfo,
    FolderStatus,
    Mount,
    PortBinding,
    RuntimeInfo,
)
from sero_ls.runtime.probe import find_dockerfile
from sero_ls.runtime.workflows import (
    CONTAINER_SHELL,
    container_path,
    host_shell,
    list_logs,
    log_dir,
    own_log_file,
    preview_url,
    published,
    resolve_terminal,
)

WS = "/home/u/my proj é"


def status(
    mode: str = "container",
    *,
    backend: str = "podman",
    ip: str | None = "10.88.0.7",
    mounts: list[Mount] | None = None,
    reason: str | None = None,
) -> FolderStatus:
    container = (
        ContainerInfo(id="sero-proj", state="running", ip=ip) if mode == "container" else None
    )
    return FolderStatus(
        uri="file:///x", name="x", requested="auto", mode=mode,  # type: ignore[arg-type]
        degraded=mode == "host" and reason != "runtime-host-selected", reason=reason,
        message="Container-backed" if mode == "container" else "No container CLI found.",
        runtime=RuntimeInfo(
            backend=backend, cli=f"/usr/bin/{backend}", system="running", container=container,
            mounts=mounts if mounts is not None else [Mount(WS, "/workspace")],
        ),
        capabilities=capabilities_for(mode, reason),  # type: ignore[arg-type]
    )  # fmt: skip


def record(ip: str | None = "10.88.0.9", ports: tuple[PortBinding, ...] = ()) -> ContainerRecord:
    return ContainerRecord(id="abc", name="sero-proj", state="running", ip=ip, ports=ports)


# ---------------------------------------------------------------- paths and terminals


def test_container_path_longest_mount_and_spaces() -> None:
    mounts = [Mount("/home/u", "/h"), Mount(WS, "/workspace")]
    assert container_path(mounts, WS) == "/workspace"
    assert container_path(mounts, WS + "/src/a b") == "/workspace/src/a b"
    assert container_path(mounts, "/home/u/other") == "/h/other"
    assert container_path(mounts, "/srv") is None


def test_terminal_in_container_at_the_mapped_directory() -> None:
    t = resolve_terminal(status(), WS, WS + "/pkg é", "/bin/zsh")
    assert t["mode"] == "container"
    assert t["argv"] == [
        "/usr/bin/podman", "exec", "-i", "-t", "-w", "/workspace/pkg é", "sero-proj",
        *CONTAINER_SHELL,
    ]  # fmt: skip
    assert t["cwd"] == WS and t["env"] == {}
    assert (t["container"], t["containerCwd"]) == ("sero-proj", "/workspace/pkg é")
    # the shell script is a constant: no path of the folder is ever put inside a shell string
    assert all(WS not in part and "/workspace" not in part for part in CONTAINER_SHELL)


def test_terminal_per_backend_cli() -> None:
    t = resolve_terminal(status(backend="apple"), WS, WS, "/bin/zsh")
    assert t["argv"][:6] == ["/usr/bin/apple", "exec", "-i", "-t", "-w", "/workspace"]


def test_terminal_on_the_host() -> None:
    t = resolve_terminal(
        status("host", reason="container-cli-missing"), WS, WS + "/sub", "/bin/zsh"
    )
    assert (t["mode"], t["argv"], t["cwd"], t["env"]) == ("host", ["/bin/zsh"], WS + "/sub", {})
    assert t["container"] is None and "No container CLI found" in t["message"]


def test_terminal_falls_back_to_host_when_no_mount_covers() -> None:
    t = resolve_terminal(status(mounts=[Mount("/srv", "/s")]), WS, WS, "/bin/bash")
    assert t["mode"] == "host" and t["argv"] == ["/bin/bash"] and "no mount" in t["message"]


def test_host_shell_sources() -> None:
    assert host_shell({"SHELL": "/usr/bin/fish"}) == "/usr/bin/fish"
    assert host_shell({}).startswith("/")  # the password database's, else /bin/sh


# ---------------------------------------------------------------- preview URLs


def test_preview_in_host_mode_says_managed_preview_is_unavailable() -> None:
    p = preview_url(status("host", reason="container-not-running"), 5173)
    assert (p["url"], p["mode"], p["via"]) == ("http://localhost:5173", "host", "localhost")
    assert p["managedPreview"] == {"available": False, "reason": "container-not-running"}
    assert "managed-preview" in p["message"] and "unavailable" in p["message"]
    p = preview_url(status("host", reason="runtime-host-selected"), 80)
    assert p["managedPreview"]["reason"] == "runtime-host-selected"


def test_preview_published_port_wins_for_podman_and_docker() -> None:
    ports = (PortBinding(8000, "tcp", "127.0.0.1", 18000), PortBinding(9000, "tcp", None, 19000))
    for backend in ("podman", "docker"):
        p = preview_url(status(backend=backend), 8000, record(ports=ports))
        assert (p["url"], p["via"], p["mode"]) == (
            "http://127.0.0.1:18000",
            "published",
            "container",
        )
        assert p["containerIp"] == "10.88.0.9"  # the fresh inspect wins over the cached status
        assert p["containerUrl"] == "http://10.88.0.9:8000"
        assert p["managedPreview"] == {"available": True, "reason": None}
    p = preview_url(status(), 9000, record(ports=ports))
    assert p["url"] == "http://localhost:19000"  # published on every interface
    p = preview_url(status(), 5173, record(ports=ports))  # not published: the container IP
    assert (p["url"], p["via"], p["publishedUrl"]) == (
        "http://10.88.0.9:5173",
        "container-ip",
        None,
    )


def test_preview_apple_uses_the_container_ip() -> None:
    ports = (PortBinding(8000, "tcp", "127.0.0.1", 18000),)
    p = preview_url(
        status(backend="apple", ip="192.168.64.3"), 8000, record(ip="192.168.64.3", ports=ports)
    )
    assert (p["url"], p["via"]) == ("http://192.168.64.3:8000", "container-ip")
    assert p["publishedUrl"] == "http://127.0.0.1:18000"
    # no fresh record: the status's IP
    p = preview_url(status(backend="apple", ip="192.168.64.3"), 3000)
    assert p["url"] == "http://192.168.64.3:3000"


def test_preview_without_any_address() -> None:
    p = preview_url(status(ip=None), 8000, record(ip=None))
    assert p["url"] is None and p["via"] is None and "no network address" in p["message"]


def test_published_forms() -> None:
    assert published((PortBinding(80, "udp", None, 8080),), 80) is None
    assert published((PortBinding(80, "tcp", "::", 8080),), 80) == "http://localhost:8080"
    assert published((PortBinding(80, "tcp", "::1", 8080),), 80) == "http://[::1]:8080"
    assert published((PortBinding(80, "tcp", "127.0.0.1", None),), 80) is None


# ---------------------------------------------------------------- logs


def test_log_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert log_dir({}) == Path("/tmp")
    assert log_dir({"SERO_LS_LOG_DIR": str(tmp_path)}) == tmp_path


def test_logs_present_absent_and_plugins(tmp_path: Path) -> None:
    (tmp_path / "sero-vite.log").write_text("vite ready\n")
    (tmp_path / "sero-remote-git.log").write_text("x" * 10)
    (tmp_path / "sero-remote-my plugin.log").write_text("")
    (tmp_path / "sero-remote-.txt").write_text("not a log")
    (tmp_path / "other.log").write_text("")
    mtime = dt.datetime(2026, 11, 27, 7, 0, 0, tzinfo=dt.UTC).timestamp()
    os.utime(tmp_path / "sero-vite.log", (mtime, mtime))
    own = tmp_path / "own.log"
    logs = list_logs(tmp_path, str(own))
    assert [e["name"] for e in logs] == [
        "vite", "electron", "web-remote-watch", "remote-git", "remote-my plugin", "sero-ls",
    ]  # fmt: skip
    vite, electron = logs[0], logs[1]
    assert vite == {
        "name": "vite", "kind": "sero", "path": str(tmp_path / "sero-vite.log"), "exists": True,
        "size": 11, "modified": "2026-11-27T07:00:00Z",
    }  # fmt: skip
    assert electron["exists"] is False and electron["size"] is None and electron["modified"] is None
    assert electron["path"] == str(tmp_path / "sero-electron.log")
    assert logs[3]["size"] == 10 and logs[3]["kind"] == "plugin"
    assert logs[-1] == {"name": "sero-ls", "kind": "sero-ls", "path": str(own), "exists": False,
                        "size": None, "modified": None}  # fmt: skip


def test_logs_in_a_missing_folder(tmp_path: Path) -> None:
    logs = list_logs(tmp_path / "nope", None)
    assert len(logs) == 4 and not any(e["exists"] for e in logs)
    assert logs[-1]["path"] is None


def test_own_log_file_follows_the_root_handler(tmp_path: Path) -> None:
    root = logging.getLogger()
    saved = root.handlers[:]
    handler = logging.FileHandler(tmp_path / "sero-ls.log")
    try:
        root.handlers[:] = [handler]
        assert own_log_file() == str(tmp_path / "sero-ls.log")
        root.handlers[:] = [logging.StreamHandler(io.StringIO())]
        assert own_log_file() is None
    finally:
        handler.close()
        root.handlers[:] = saved


# ---------------------------------------------------------------- Dockerfile warnings, doctor


def stale_status(df_stale: bool) -> FolderStatus:
    st = status()
    st.reason = "container-stale" if df_stale else None
    st.remedy = ["podman build -t sero-node:latest -f Dockerfile.sero-node .", "podman rm -f x"]
    st.stale = ["the image sero-node:latest was built ... before Dockerfile.sero-node ..."]
    st.dockerfile = DockerfileInfo(
        path=WS + "/Dockerfile.sero-node", modified="2026-11-27T09:00:00Z",
        image="sero-node:latest", image_created="2026-11-27T06:00:00Z", stale=df_stale,
    )  # fmt: skip
    return st


def test_dockerfile_warning_on_the_dockerfile_uri() -> None:
    found = dockerfile_diagnostics(stale_status(True))
    (uri,) = found
    assert uri == "file:///home/u/my%20proj%20%C3%A9/Dockerfile.sero-node"
    (d,) = found[uri]
    assert d.severity == types.DiagnosticSeverity.Warning
    assert d.code == "container-stale" and d.source == "sero"
    assert "2026-11-27T06:00:00Z" in d.message and "2026-11-27T09:00:00Z" in d.message
    assert "podman build -t sero-node:latest" in d.message and "podman rm -f x" in d.message
    assert dockerfile_diagnostics(stale_status(False)) == {}
    assert dockerfile_diagnostics(status()) == {}


def test_doctor_table_shows_staleness_and_logs(tmp_path: Path) -> None:
    out = io.StringIO()
    write_table(stale_status(True), [], out)
    text = out.getvalue()
    assert f"dockerfile  {WS}/Dockerfile.sero-node" in text and "NEWER than the image" in text
    assert "stale       the image sero-node:latest" in text
    (tmp_path / "sero-electron.log").write_text("e")
    out = io.StringIO()
    write_logs(list_logs(tmp_path, None), out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "logs" and len(lines) == 4  # no own log file: not listed
    assert "sero-electron.log  (1 bytes" in lines[2] and lines[1].endswith("(absent)")


def test_find_dockerfile(tmp_path: Path) -> None:
    ws = str(tmp_path)
    assert find_dockerfile(ws, None) == (None, None)
    (tmp_path / "Dockerfile.sero-node").write_text("FROM x\n")
    deep = tmp_path / "apps" / "desktop" / "images"
    deep.mkdir(parents=True)
    path, when = find_dockerfile(ws, None)
    assert path == ws + "/Dockerfile.sero-node" and when is not None and when.tzinfo is not None
    (deep / "Dockerfile.sero-node").write_text("FROM y\n")
    assert find_dockerfile(ws, None)[0] == str(deep / "Dockerfile.sero-node")  # Sero's place first
    (deep / "Dockerfile.sero-node").unlink()
    (deep / "Dockerfile.sero-node").mkdir()  # not a file: skipped
    assert find_dockerfile(ws, None)[0] == ws + "/Dockerfile.sero-node"
    assert find_dockerfile(ws, "missing/Dockerfile") == (None, None)  # the setting alone counts
