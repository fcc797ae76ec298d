"""Dev Containers, Compose and containerContext as pure decisions (issue #14), no processes."""

from __future__ import annotations

import io
import json
import stat
from pathlib import Path

import pytest

from sero_ls.cli.doctor import write_table
from sero_ls.runtime import reasons as R
from sero_ls.runtime.backends import Backend, make_backend
from sero_ls.runtime.devcontainer import (
    PROBE_MARK,
    Metadata,
    config_dockerfile,
    exec_identity,
    find_config,
    merge_metadata,
    parse_probe,
    probe_argv,
    read_config,
    substitute,
)
from sero_ls.runtime.discovery import find_workspace_container
from sero_ls.runtime.events import event_argv
from sero_ls.runtime.model import ContainerRecord, Mount, to_json
from sero_ls.runtime.resolve import Folder, Probe, resolve
from sero_ls.runtime.workflows import resolve_terminal
from sero_ls.settings import Settings, merge

WS = "/home/u/my proj é"
FOLDER = Folder(uri="file:///home/u/my%20proj%20%C3%A9", path=WS, name="my proj é")
META = json.dumps(
    [
        {"id": "ghcr.io/devcontainers/features/node:1", "remoteEnv": {"A": "image"}},
        {"containerUser": "node", "remoteEnv": {"A": "feature", "B": "b", "GONE": "x"}},
        {
            "remoteUser": "vscode",
            "userEnvProbe": "loginShell",
            "remoteEnv": {
                "A": "config",
                "PATH": "${containerEnv:PATH}:/home/vscode/.local/bin",
                "GONE": None,
                "D": "${containerEnv:NOPE:fallback}",
            },
            "containerEnv": {"C": "1"},
        },
    ]
)


def devc(
    name: str = "eager_devc",
    *,
    labels: dict[str, str] | None = None,
    mounts: tuple[Mount, ...] = (Mount(WS, "/workspaces/my proj é"),),
    state: str = "running",
) -> ContainerRecord:
    return ContainerRecord(
        id=f"{name}-0123456789abcdef",
        name=name,
        state=state,
        image="vsc-my-proj-abc-uid",
        mounts=mounts,
        labels={
            "devcontainer.local_folder": WS,
            "devcontainer.config_file": f"{WS}/.devcontainer/devcontainer.json",
            "devcontainer.metadata": META,
            **(labels or {}),
        },
        env={"PATH": "/usr/local/bin:/usr/bin", "C": "1"},
    )


@pytest.fixture
def clis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Backend]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("docker", "podman", "container"):
        exe = bin_dir / name
        exe.write_text("#!/bin/sh\nexit 0\n")
        exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(bin_dir))
    return {
        "docker": make_backend("docker", str(bin_dir / "docker"), 5.0),
        "podman": make_backend("podman", str(bin_dir / "podman"), 5.0),
        "docker-ctx": make_backend("docker", str(bin_dir / "docker"), 5.0, "remote"),
        "podman-ctx": make_backend("podman", str(bin_dir / "podman"), 5.0, "remote"),
        "apple-ctx": make_backend("apple", str(bin_dir / "container"), 5.0, "remote"),
    }


# ---------------------------------------------------------------- metadata


def test_metadata_is_merged_in_order_as_the_spec_says() -> None:
    meta = merge_metadata(META)
    assert (meta.remote_user, meta.container_user, meta.user) == ("vscode", "node", "vscode")
    assert meta.user_env_probe == "loginShell"
    assert meta.remote_env["A"] == "config" and meta.remote_env["B"] == "b"
    assert meta.remote_env["GONE"] is None  # null unsets
    assert meta.container_env == {"C": "1"}
    # containerUser alone is the user; one object counts as [object]
    assert merge_metadata('{"containerUser": "node"}').user == "node"
    assert merge_metadata(None) == Metadata()
    bad = merge_metadata("[{")
    assert bad.user is None and bad.problem is not None and "not JSON" in bad.problem
    # unknown probe kinds are not guessed at; non-objects are skipped
    assert merge_metadata('[1, {"userEnvProbe": "bogus"}]').user_env_probe is None


def test_remote_env_substitutes_container_env_and_wins_over_the_probe() -> None:
    c = devc()
    user, env = exec_identity(
        c, merge_metadata(META), {"PATH": "/probed", "HOME": "/h", "PWD": "/x", "GONE": "probed"}
    )
    assert user == "vscode"
    assert env["A"] == "config" and env["B"] == "b" and env["HOME"] == "/h"
    # ${containerEnv:PATH} is the container's own PATH (Config.Env), not the probed one
    assert env["PATH"] == "/usr/local/bin:/usr/bin:/home/vscode/.local/bin"
    assert env["D"] == "fallback"
    assert "GONE" not in env and "PWD" not in env
    assert substitute("${containerEnv:X}-${containerEnv:Y:d}", {"X": "1"}) == "1-d"


def test_user_env_probe_command_and_parsing() -> None:
    argv = probe_argv("loginInteractiveShell")
    assert argv is not None and argv[:2] == ["sh", "-c"] and " -lic " in argv[2]
    assert probe_argv("none") is None
    out = f"motd noise{PROBE_MARK}A=1\0PATH=/a:/b\0EMPTY=\0{PROBE_MARK}bye"
    assert parse_probe(out) == {"A": "1", "PATH": "/a:/b", "EMPTY": ""}
    assert parse_probe("no markers") is None


def test_config_files_jsonc_and_dockerfile(tmp_path: Path) -> None:
    assert find_config(str(tmp_path)) is None
    (tmp_path / ".devcontainer.json").write_text("{}")
    assert find_config(str(tmp_path)) == str(tmp_path / ".devcontainer.json")
    d = tmp_path / ".devcontainer"
    d.mkdir()
    cfg = d / "devcontainer.json"
    cfg.write_text(
        '// comment\n{\n  "name": "a // not a comment",\n  /* block */\n'
        '  "build": {"dockerfile": "../Dockerfile",},\n}\n'
    )
    assert find_config(str(tmp_path)) == str(cfg)  # .devcontainer/ first
    assert read_config(str(cfg)) == {
        "name": "a // not a comment",
        "build": {"dockerfile": "../Dockerfile"},
    }
    assert config_dockerfile(str(cfg)) == str(tmp_path / "Dockerfile")
    cfg.write_text('{"image": "mcr.microsoft.com/devcontainers/base"}')
    assert config_dockerfile(str(cfg)) is None


# ---------------------------------------------------------------- discovery


def test_local_folder_label_has_the_rank_of_seros_label() -> None:
    by_mount = ContainerRecord(id="m", name="m", state="running", mounts=(Mount(WS, "/w"),))
    m = find_workspace_container(WS, [by_mount, devc()], None)
    assert m.container == devc() and m.via == "label devcontainer.local_folder"
    sero = ContainerRecord(id="s", name="s", state="running", labels={"ai.sero.workspacePath": WS})
    assert find_workspace_container(WS, [devc(), sero], None).via == "label ai.sero.workspacePath"


def compose(service: str, *mounts: Mount, project: str = "shop") -> ContainerRecord:
    return ContainerRecord(
        id=f"{project}-{service}-1-abcdef0123456",
        name=f"{project}-{service}-1",
        state="running",
        mounts=mounts,
        labels={
            "com.docker.compose.project": project,
            "com.docker.compose.service": service,
            "com.docker.compose.project.working_dir": WS,
        },
    )


def test_compose_picks_the_service_whose_mount_covers_the_folder() -> None:
    app = compose("app", Mount(WS, "/src"))
    db = compose("db", Mount("/var/lib/pg", "/var/lib/postgresql/data"))
    m = find_workspace_container(WS + "/sub", [db, app], None)
    assert (m.container, m.via) == (app, "compose")
    assert m.compose is not None
    assert (m.compose.project, m.compose.service, m.compose.services) == (
        "shop",
        "app",
        ["app", "db"],
    )
    # two services mount it: a tie naming services, settled by the `service` setting
    worker = compose("worker", Mount(WS, "/src"))
    tie = find_workspace_container(WS, [app, worker, db], None)
    assert tie.container is None and tie.via == "compose"
    assert tie.tie == ("shop-app-1 (service app)", "shop-worker-1 (service worker)")
    chosen = find_workspace_container(WS, [app, worker, db], None, "worker")
    assert chosen.container == worker and chosen.compose and chosen.compose.service == "worker"
    missing = find_workspace_container(WS, [app, db], None, "web")
    assert missing.container is None and missing.compose and missing.compose.service == "web"


def test_resolve_compose_messages(clis: dict[str, Backend]) -> None:
    app = compose("app", Mount(WS, "/src"))
    worker = compose("worker", Mount(WS, "/src"))
    probe = Probe(backend=clis["docker"], system="running", containers=(app, worker))
    st = resolve(FOLDER, Settings(), probe)
    assert st.reason == R.AMBIGUOUS and "`service` setting" in st.message
    st = resolve(FOLDER, Settings(service="app"), probe)
    assert st.mode == "container" and st.compose and st.compose.service == "app"
    assert st.runtime.container and st.runtime.container.found_by == "compose"
    assert "Compose project shop, service app" in st.message
    out = io.StringIO()
    write_table(st, [], out)
    assert "compose     project shop, service app (services: app, worker)" in out.getvalue()
    st = resolve(FOLDER, Settings(service="web"), probe)
    assert st.reason == R.CONTAINER_MISSING and "'web'" in st.message
    assert st.remedy == [f"docker compose --project-directory '{WS}' up -d web"]


# ---------------------------------------------------------------- resolution and exec


def probe_for(b: Backend, *cs: ContainerRecord, **kw: object) -> Probe:
    return Probe(backend=b, system="running", containers=cs, **kw)  # type: ignore[arg-type]


def test_devcontainer_resolves_with_user_env_and_config(clis: dict[str, Backend]) -> None:
    st = resolve(FOLDER, Settings(), probe_for(clis["podman"], devc(), user_env={"HOME": "/h"}))
    assert st.mode == "container" and st.reason is None
    c = st.runtime.container
    assert c is not None and c.found_by == "label devcontainer.local_folder"
    assert c.exec_user == "vscode" and c.exec_env["A"] == "config" and c.exec_env["HOME"] == "/h"
    dc = st.devcontainer
    assert dc is not None
    assert dc.config_file == f"{WS}/.devcontainer/devcontainer.json"
    assert dc.workspace_folder == "/workspaces/my proj é"
    assert (dc.remote_user, dc.container_user, dc.user_env_probe) == (
        "vscode",
        "node",
        "loginShell",
    )
    js = to_json(st)
    assert js["runtime"]["container"]["execUser"] == "vscode"
    assert js["devcontainer"]["configFile"].endswith("devcontainer.json")
    out = io.StringIO()
    write_table(st, [], out)
    text = out.getvalue()
    assert "devcontainer .devcontainer/devcontainer.json" in text or "devcontainer " in text
    assert "found by    label devcontainer.local_folder" in text
    assert "exec as     vscode" in text
    # the terminal runs as the remote user with the remote env
    term = resolve_terminal(st, WS, WS, "/bin/bash")
    argv = term["argv"]
    assert argv[argv.index("-u") + 1] == "vscode" and "A=config" in argv
    assert term["user"] == "vscode" and "as vscode" in term["message"]


def test_folder_with_a_devcontainer_config_and_no_container(clis: dict[str, Backend]) -> None:
    cfg = f"{WS}/.devcontainer/devcontainer.json"
    st = resolve(FOLDER, Settings(), probe_for(clis["podman"], devcontainer_config=cfg))
    assert st.reason == R.CONTAINER_MISSING and cfg in st.message
    assert st.remedy == [f"devcontainer up --workspace-folder '{WS}' --docker-path podman"]
    assert st.devcontainer is not None and st.devcontainer.config_file == cfg
    st = resolve(FOLDER, Settings(), probe_for(clis["docker"], devcontainer_config=cfg))
    assert st.remedy == [f"devcontainer up --workspace-folder '{WS}'"]
    out = io.StringIO()
    write_table(st, [], out)
    assert f"devcontainer {cfg}" in out.getvalue()


def test_stopped_or_unmounted_devcontainer_remedies(clis: dict[str, Backend]) -> None:
    st = resolve(FOLDER, Settings(), probe_for(clis["docker"], devc(state="exited")))
    assert st.reason == R.NOT_RUNNING and st.remedy == ["docker start eager_devc"]
    st = resolve(FOLDER, Settings(), probe_for(clis["docker"], devc(mounts=())))
    assert st.reason == R.NOT_MOUNTED
    assert st.remedy == [f"devcontainer up --workspace-folder '{WS}' --remove-existing-container"]


# ---------------------------------------------------------------- containerContext


def test_context_reaches_every_cli_call(clis: dict[str, Backend]) -> None:
    d, p, a = clis["docker-ctx"], clis["podman-ctx"], clis["apple-ctx"]
    assert d.base_argv[1:] == ["--context", "remote"]
    assert p.base_argv[1:] == ["--connection", "remote"]
    assert a.base_argv[1:] == [] and a.context is None  # Apple's CLI has no such flag
    assert d.exec_argv("c", ["pylsp"], user="u")[1:] == [
        "--context",
        "remote",
        "exec",
        "-i",
        "-u",
        "u",
        "c",
        "pylsp",
    ]
    assert d.start_argv("c")[1:] == ["--context", "remote", "start", "c"]
    assert d.cmd("start", "c") == "docker --context remote start c"
    assert event_argv("podman", "/usr/bin/podman", "remote") == [
        "/usr/bin/podman",
        "--connection",
        "remote",
        "events",
        "--format",
        "json",
    ]
    assert event_argv("apple", "/usr/local/bin/container", "remote") is None


def test_remote_engine_without_the_folder_says_so(clis: dict[str, Backend]) -> None:
    elsewhere = ContainerRecord(
        id="x",
        name="x",
        state="running",
        labels={"ai.sero.workspacePath": WS},
        mounts=(Mount("/srv/other", "/workspace"),),
    )
    st = resolve(FOLDER, Settings(), probe_for(clis["docker-ctx"], elsewhere))
    assert st.reason == R.NOT_MOUNTED and "context 'remote'" in st.message
    assert "mounted from this machine" in st.message
    assert st.runtime.context == "remote"
    assert st.remedy[0].startswith("docker --context remote rm -f x")
    out = io.StringIO()
    write_table(st, [], out)
    assert "context     remote" in out.getvalue()


def test_new_settings_are_validated() -> None:
    s, problems = merge([("x", {"containerContext": "remote", "service": "app"})])
    assert (s.container_context, s.service, problems) == ("remote", "app", [])
    s, problems = merge([("x", {"containerContext": 3})])
    assert s.container_context is None and problems and problems[0].key == "containerContext"


async def test_user_env_probe_failures_never_fail_the_folder(tmp_path: Path) -> None:
    """A CLI that says the user is unknown, and one that hangs: the probe gives (None, why),
    once per container start (cached), and raises nothing."""
    from sero_ls.runtime.probe import ProbeRound

    unknown = tmp_path / "docker-unknown"
    unknown.write_text("#!/bin/sh\necho 'unable to find user vscode' >&2\nexit 126\n")
    hung = tmp_path / "docker-hung"
    hung.write_text("#!/bin/sh\nexec sleep 30\n")
    for exe in (unknown, hung):
        exe.chmod(0o755)
    c = devc()
    env, why = await ProbeRound().user_env(make_backend("docker", str(unknown), 5.0), c,
                                           "vscode", "loginShell")  # fmt: skip
    assert env is None and why is not None and "unable to find user vscode" in why
    unknown.write_text("#!/bin/sh\nexit 99\n")  # cached per start: not asked again
    again = await ProbeRound().user_env(make_backend("docker", str(unknown), 5.0), c,
                                        "vscode", "loginShell")  # fmt: skip
    assert again == (None, why)
    env, why = await ProbeRound().user_env(make_backend("docker", str(hung), 0.3), c,
                                           "vscode", "loginShell")  # fmt: skip
    assert env is None and why is not None and "did not answer" in why
    assert await ProbeRound().user_env(clis_none(tmp_path), c, None, "none") == (None, None)


def clis_none(tmp_path: Path) -> Backend:
    return make_backend("docker", str(tmp_path / "never-run"), 1.0)


def test_placement_execs_servers_and_watchdogs_as_the_remote_user(
    clis: dict[str, Backend],
) -> None:
    """proxy/placement.py: the server's own env wins over remoteEnv; the watchdog (which
    signals the server) runs as the same user; the context reaches both."""
    from sero_ls.proxy.placement import place
    from sero_ls.proxy.spec import ServerSpec

    b = clis["docker-ctx"]
    st = resolve(FOLDER, Settings(), probe_for(b, devc()))
    spec = ServerSpec(id="p", languages=("python",), host_argv=("pylsp",),
                      container_argv=("pylsp",), env={"A": "server"})  # fmt: skip
    p = place(spec, FOLDER, st)
    assert p.mode == "container"
    assert p.argv[1:7] == ["--context", "remote", "exec", "-i", "-u", "vscode"]
    assert "A=server" in p.argv and "B=b" in p.argv and "A=config" not in p.argv
    assert p.watchdog(42)[1:7] == ["--context", "remote", "exec", "-i", "-u", "vscode"]


def test_devcontainer_staleness_uses_its_own_image_and_dockerfile(
    clis: dict[str, Backend],
) -> None:
    """Not the `image` setting: the container's image, and the Dockerfile its config builds."""
    import datetime as dt

    from sero_ls.runtime.model import ImageRecord

    t0 = dt.datetime(2026, 11, 27, 7, 0, tzinfo=dt.UTC)
    built = ImageRecord("vsc-my-proj-abc-uid", "sha256:bbb", t0)
    probe = probe_for(
        clis["docker"], attrs_evolve(devc(), created=t0 + dt.timedelta(minutes=1)),
        container_image=built, image=None, dockerfile=f"{WS}/.devcontainer/Dockerfile",
        dockerfile_modified=t0 + dt.timedelta(hours=1), dockerfile_image="vsc-my-proj-abc-uid",
    )  # fmt: skip
    st = resolve(FOLDER, Settings(), probe)
    assert st.reason == R.STALE and st.mode == "container"
    assert st.dockerfile is not None and st.dockerfile.image == "vsc-my-proj-abc-uid"
    assert "vsc-my-proj-abc-uid was built" in st.stale[0]
    assert st.remedy == [
        f"devcontainer up --workspace-folder '{WS}' --remove-existing-container"
    ]  # once: the rebuild and the recreation are one command


def attrs_evolve(c: ContainerRecord, **changes: object) -> ContainerRecord:
    import attrs

    return attrs.evolve(c, **changes)  # type: ignore[arg-type]
