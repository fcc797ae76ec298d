"""Runtime resolution as a pure function of probe results (CONTRACT §2, §3, §4)."""

from __future__ import annotations

import datetime as dt
import os
import re
import stat
import sys
from pathlib import Path

import pytest

from sero_ls.runtime import reasons as R
from sero_ls.runtime.backends import Backend, make_backend
from sero_ls.runtime.capabilities import CONTAINER_ONLY, EVERYWHERE
from sero_ls.runtime.model import ContainerRecord, FolderStatus, ImageRecord, Mount, to_json
from sero_ls.runtime.resolve import (
    Folder,
    Probe,
    container_name_for,
    container_stale,
    covering_mount,
    dockerfile_candidates,
    find_workspace_container,
    resolve,
)
from sero_ls.settings import Settings

T0 = dt.datetime(2026, 11, 27, 7, 0, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)
WS = "/home/u/my proj é"
FOLDER = Folder(uri="file:///home/u/my%20proj%20%C3%A9", path=WS, name="my proj é")
ALL_CAPS = set(CONTAINER_ONLY) | set(EVERYWHERE)


@pytest.fixture
def clis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Backend]:
    """Backends whose CLIs are on PATH (so remedies show bare names, as a user types them)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("container", "docker", "podman"):
        exe = bin_dir / name
        exe.write_text("#!/bin/sh\nexit 0\n")
        exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(bin_dir))
    return {
        "apple": make_backend("apple", str(bin_dir / "container"), 5.0),
        "docker": make_backend("docker", str(bin_dir / "docker"), 5.0),
        "podman": make_backend("podman", str(bin_dir / "podman"), 5.0),
    }


def ctr(
    name: str = "sero-proj",
    *,
    state: str = "running",
    mounts: tuple[Mount, ...] = (Mount(WS, "/workspace"),),
    labels: dict[str, str] | None = None,
    image: str | None = "localhost/sero-node:latest",
    image_id: str | None = "sha256:aaa",
    created: dt.datetime | None = T0,
    ip: str | None = "10.88.0.5",
) -> ContainerRecord:
    return ContainerRecord(
        id=f"{name}-0123456789abcdef",
        name=name,
        state=state,
        image=image,
        image_id=image_id,
        ip=ip,
        mounts=mounts,
        labels=labels or {},
        created=created,
    )


IMAGE = ImageRecord("localhost/sero-node:latest", "sha256:aaa", T0 - HOUR)


def running(b: Backend, *containers: ContainerRecord, **kw: object) -> Probe:
    fields: dict[str, object] = {"image": IMAGE, "container_image": IMAGE}
    fields.update(kw)
    return Probe(backend=b, system="running", containers=containers, **fields)  # type: ignore[arg-type]


def caps(status: FolderStatus) -> dict[str, tuple[bool, str | None]]:
    return {c.id: (c.available, c.reason) for c in status.capabilities}


def assert_host_degraded(status: FolderStatus, reason: str) -> None:
    assert (status.mode, status.degraded, status.reason) == ("host", True, reason)
    got = caps(status)
    assert set(got) == ALL_CAPS and len(status.capabilities) == 11
    for cid in CONTAINER_ONLY:
        assert got[cid] == (False, reason)
    for cid in EVERYWHERE:
        assert got[cid] == (True, None)
    assert "degraded" in status.message


# ---------------------------------------------------------------- every reason code


def test_container_mode_when_all_is_well(clis: dict[str, Backend]) -> None:
    st = resolve(FOLDER, Settings(), running(clis["podman"], ctr()), checked_at="2026-11-27T07:00Z")
    assert (st.mode, st.degraded, st.reason, st.remedy, st.stale) == (
        "container",
        False,
        None,
        [],
        [],
    )
    assert all(c.available and c.reason is None for c in st.capabilities)
    assert len(st.capabilities) == 11
    assert st.runtime.backend == "podman" and st.runtime.system == "running"
    assert st.runtime.container is not None
    assert (st.runtime.container.id, st.runtime.container.ip) == ("sero-proj", "10.88.0.5")
    assert st.runtime.mounts == [Mount(WS, "/workspace")]
    assert st.message == "Container-backed (podman): sero-proj running"
    assert st.checked_at == "2026-11-27T07:00Z"
    out = to_json(st)
    assert out["uri"] == FOLDER.uri and out["name"] == "my proj é"
    assert "reason" not in out["capabilities"][0]  # only unavailable capabilities say why


def test_cli_missing_per_wanted_backend(clis: dict[str, Backend]) -> None:
    probe = Probe(searched=("/usr/local/bin/container", "container"), wanted_backend="apple")
    st = resolve(FOLDER, Settings(container_backend="apple"), probe)
    assert_host_degraded(st, R.CLI_MISSING)
    assert st.runtime.backend is None and st.runtime.system == "missing"
    assert "/usr/local/bin/container" in st.message and "Apple's container CLI" in st.message
    assert st.remedy == [
        "/usr/local/bin/container --help",
        "/usr/local/bin/container system status",
    ]
    st = resolve(FOLDER, Settings(), Probe(searched=("podman",), wanted_backend="podman"))
    assert "install Podman" in st.message


def test_cli_missing_auto_depends_on_platform(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    assert resolve(FOLDER, Settings(), Probe()).remedy == ["sudo apt-get install podman"]
    monkeypatch.setattr(sys, "platform", "darwin")
    assert resolve(FOLDER, Settings(), Probe()).remedy[0].startswith("/usr/local/bin/container")


@pytest.mark.parametrize(
    ("backend", "remedy"),
    [
        ("apple", ["container system start", "container system status"]),
        ("docker", ["sudo systemctl start docker"]),
        ("podman", ["podman info", "systemctl --user start podman.socket"]),
    ],
)
def test_system_not_running_remedy_per_backend(
    clis: dict[str, Backend], monkeypatch: pytest.MonkeyPatch, backend: str, remedy: list[str]
) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    probe = Probe(backend=clis[backend], system="not-running", system_detail="unregistered")
    st = resolve(FOLDER, Settings(), probe)
    assert_host_degraded(st, R.SYSTEM_NOT_RUNNING)
    assert st.remedy == remedy
    assert "(unregistered)" in st.message
    assert st.runtime.system == "not-running" and st.runtime.backend == backend


def test_system_not_running_on_macos(
    clis: dict[str, Backend], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    probe = Probe(backend=clis["docker"], system="not-running")
    assert resolve(FOLDER, Settings(), probe).remedy == ["open -a Docker"]
    probe = Probe(backend=clis["podman"], system="not-running")
    assert resolve(FOLDER, Settings(), probe).remedy == ["podman machine start"]


def test_image_missing_gives_build_and_create(clis: dict[str, Backend]) -> None:
    st = resolve(FOLDER, Settings(), running(clis["podman"], image=None))
    assert_host_degraded(st, R.IMAGE_MISSING)
    assert st.remedy == [
        "podman build -t sero-node:latest -f apps/desktop/images/Dockerfile.sero-node .",
        "podman run --name sero-my-proj -d --init --label ai.sero.managed=true "
        "--label 'ai.sero.workspacePath=/home/u/my proj é' "
        "--volume '/home/u/my proj é:/workspace' sero-node:latest sleep infinity",
    ]


@pytest.mark.parametrize(
    ("backend", "create"),
    [
        # an init as PID 1 reaps orphaned processes; Apple's CLI has no --init
        ("apple", "container run --name sero-my-proj -d --label"),
        ("docker", "docker run --name sero-my-proj -d --init --label"),
        ("podman", "podman run --name sero-my-proj -d --init --label"),
    ],
)
def test_container_missing_create_per_backend(
    clis: dict[str, Backend], backend: str, create: str
) -> None:
    other = ctr("sero-other", mounts=(Mount("/home/u/other", "/workspace"),))
    st = resolve(FOLDER, Settings(), running(clis[backend], other))
    assert_host_degraded(st, R.CONTAINER_MISSING)
    (cmd,) = st.remedy
    assert cmd.startswith(create) and cmd.endswith("sero-node:latest sleep infinity")
    assert st.runtime.container is None


def test_named_container_missing_even_without_image(clis: dict[str, Backend]) -> None:
    settings = Settings(container="sero-elsewhere")
    st = resolve(FOLDER, settings, running(clis["podman"], ctr(), image=None))
    assert_host_degraded(st, R.CONTAINER_MISSING)
    assert "No container named 'sero-elsewhere'" in st.message


@pytest.mark.parametrize(
    ("backend", "start"),
    [("apple", "container start sero-proj"), ("podman", "podman start sero-proj")],
)
def test_container_not_running(clis: dict[str, Backend], backend: str, start: str) -> None:
    st = resolve(FOLDER, Settings(), running(clis[backend], ctr(state="exited")))
    assert_host_degraded(st, R.NOT_RUNNING)
    assert st.remedy == [start]
    assert st.runtime.container is not None and st.runtime.container.state == "exited"
    assert "is exited" in st.message


@pytest.mark.parametrize(
    ("backend", "remove"),
    [
        ("apple", "container delete --force sero-proj"),
        ("docker", "docker rm -f sero-proj"),
        ("podman", "podman rm -f sero-proj"),
    ],
)
def test_folder_not_mounted_recreate_per_backend(
    clis: dict[str, Backend], backend: str, remove: str
) -> None:
    elsewhere = ctr(mounts=(Mount("/srv/other", "/workspace"),))
    st = resolve(FOLDER, Settings(container="sero-proj"), running(clis[backend], elsewhere))
    assert_host_degraded(st, R.NOT_MOUNTED)
    assert st.remedy[0] == remove
    assert st.remedy[1].startswith(f"{remove.split()[0]} run --name sero-proj")
    assert "--volume '/home/u/my proj é:/workspace'" in st.remedy[1]


def test_container_stale_keeps_container_mode(clis: dict[str, Backend]) -> None:
    rebuilt = ImageRecord("localhost/sero-node:latest", "sha256:bbb", T0 + HOUR)
    probe = running(clis["podman"], ctr(), image=rebuilt, container_image=rebuilt)
    st = resolve(FOLDER, Settings(), probe)
    assert (st.mode, st.degraded, st.reason) == ("container", False, R.STALE)
    assert all(c.available for c in st.capabilities)
    assert st.remedy == [
        "podman rm -f sero-proj",
        "podman run --name sero-proj -d --init --label ai.sero.managed=true "
        "--label 'ai.sero.workspacePath=/home/u/my proj é' "
        "--volume '/home/u/my proj é:/workspace' localhost/sero-node:latest sleep infinity",
    ]
    (why,) = st.stale
    assert "2026-11-27 07:00:00 UTC" in why and "2026-11-27 08:00:00 UTC" in why
    assert "recreate" in why and why in st.message


def test_host_selected_is_not_degraded(clis: dict[str, Backend]) -> None:
    st = resolve(FOLDER, Settings(runtime="host"), running(clis["podman"], ctr()))
    assert (st.mode, st.degraded, st.reason, st.remedy) == ("host", False, R.HOST_SELECTED, [])
    assert st.requested == "host"
    got = caps(st)
    assert all(got[c] == (False, R.HOST_SELECTED) for c in CONTAINER_ONLY)
    assert all(got[c] == (True, None) for c in EVERYWHERE)
    assert "degraded" not in st.message


def test_probe_failed_says_the_error_and_the_command(clis: dict[str, Backend]) -> None:
    probe = Probe(
        backend=clis["podman"],
        error="`podman ps -a` did not answer within 5 s",
        failed_command="podman info",
    )
    st = resolve(FOLDER, Settings(), probe)
    assert_host_degraded(st, R.PROBE_FAILED)
    assert "did not answer within 5 s" in st.message and "podman runtime" in st.message
    assert st.remedy == ["podman info"]
    st = resolve(FOLDER, Settings(), Probe(error="probing took longer than 21 s"))
    assert_host_degraded(st, R.PROBE_FAILED)
    assert st.remedy == [] and "the container runtime" in st.message


@pytest.mark.parametrize("requested", ["auto", "container"])
def test_degraded_when_container_wanted_and_host_got(
    clis: dict[str, Backend], requested: str
) -> None:
    st = resolve(
        FOLDER, Settings(runtime=requested), Probe(backend=clis["podman"], system="not-running")
    )  # type: ignore[arg-type]
    assert st.degraded and st.requested == requested and st.mode == "host"


# ---------------------------------------------------------------- finding the container


def test_setting_wins_over_label_and_mount() -> None:
    labelled = ctr("by-label", labels={"ai.sero.workspacePath": WS})
    mounted = ctr("by-mount", mounts=(Mount(WS, "/w"),))
    named = ctr("named", mounts=())
    m = find_workspace_container(WS, [labelled, mounted, named], "named")
    assert (m.container, m.via) == (named, "setting")
    # by full id or a 12+ character id prefix, not by a short prefix
    assert find_workspace_container(WS, [named], named.id).container == named
    assert find_workspace_container(WS, [named], named.id[:12]).container == named
    assert find_workspace_container(WS, [named], "nam").container is None
    m = find_workspace_container(WS, [labelled, mounted], "absent")
    assert (m.container, m.via) == (None, "setting")


def test_label_wins_over_mount_and_is_normalised() -> None:
    labelled = ctr("by-label", mounts=(), labels={"ai.sero.workspacePath": WS + "/"})
    mounted = ctr("by-mount", mounts=(Mount(WS, "/w"),))
    m = find_workspace_container(WS, [mounted, labelled], None)
    assert (m.container, m.via) == (labelled, "label ai.sero.workspacePath")
    # a label for another folder does not count
    other = ctr("other", mounts=(), labels={"ai.sero.workspacePath": WS + " 2"})
    assert find_workspace_container(WS, [other], None).container is None


def test_longest_mount_prefix_wins() -> None:
    home = ctr("home", mounts=(Mount("/home/u", "/h"),))
    proj = ctr("proj", mounts=(Mount(WS, "/workspace"),))
    folder = WS + "/pkg/sub"
    m = find_workspace_container(folder, [home, proj], None)
    assert (m.container, m.via) == (proj, "mount")
    # /home/u/my proj é does not cover /home/u/my proj é2 (a boundary, not a string prefix)
    assert find_workspace_container(WS + "2", [proj], None).container is None
    assert covering_mount(
        [Mount("/", "/host"), Mount("/home/u/", "/h"), Mount(WS, "/w")], folder
    ) == Mount(WS, "/w")
    assert covering_mount([Mount("/srv", "/s")], folder) is None


def test_ties_are_reported_not_guessed(clis: dict[str, Backend]) -> None:
    a = ctr("sero-a", mounts=(Mount(WS, "/w"),))
    b = ctr("sero-b", mounts=(Mount(WS, "/x"),))
    m = find_workspace_container(WS, [b, a], None)
    assert (m.container, m.tie) == (None, ("sero-a", "sero-b"))
    st = resolve(FOLDER, Settings(), running(clis["podman"], a, b))
    assert_host_degraded(st, R.AMBIGUOUS)
    assert "sero-a, sero-b" in st.message and "`container` setting" in st.message
    # two labelled, one running: the running one is the workspace's
    la = ctr("sero-a", labels={"ai.sero.workspacePath": WS})
    lb = ctr("sero-b", state="exited", labels={"ai.sero.workspacePath": WS})
    assert find_workspace_container(WS, [la, lb], None).container == la
    lb_running = ctr("sero-b", labels={"ai.sero.workspacePath": WS})
    assert find_workspace_container(WS, [la, lb_running], None).tie == ("sero-a", "sero-b")


def test_paths_with_spaces_and_unicode_map_through_mounts(clis: dict[str, Backend]) -> None:
    folder = Folder("file:///tmp/%C3%BC%20b/sub%20dir", "/tmp/ü b/sub dir", "sub dir")
    c = ctr("sero-u", mounts=(Mount("/tmp/ü b", "/workspace"),))
    st = resolve(folder, Settings(), running(clis["apple"], c))
    assert st.mode == "container" and st.runtime.mounts == [Mount("/tmp/ü b", "/workspace")]


def test_container_names_follow_the_strictest_rules() -> None:
    def name(n: str) -> str:
        return container_name_for(Folder("file:///x", "/x", n))

    assert name("my proj é") == "sero-my-proj"
    assert name("Web_App.v2") == "sero-web_app.v2"
    assert name("ééé") == "sero-workspace"
    assert len(name("a" * 100)) == 63
    for n in ("my proj é", "--x--", "a" * 100, ".hidden"):
        assert re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+", name(n)), name(n)


# ---------------------------------------------------------------- staleness


def test_container_stale_rules() -> None:
    c = ctr(created=T0, image_id="sha256:aaa")
    assert container_stale(c, ImageRecord("x", "sha256:bbb", T0 + HOUR))
    assert container_stale(c, ImageRecord("x", "sha256:bbb", T0 - HOUR)) is None
    # the same image (ids compared without the sha256: prefix) is current whatever the clocks say
    assert container_stale(c, ImageRecord("x", "aaa", T0 + HOUR)) is None
    assert container_stale(c, None) is None
    assert container_stale(c, ImageRecord("x", "sha256:bbb", None)) is None
    assert container_stale(ctr(created=None), ImageRecord("x", "sha256:bbb", T0 + HOUR)) is None


def test_stale_container_that_is_stopped_keeps_its_reason(clis: dict[str, Backend]) -> None:
    rebuilt = ImageRecord("localhost/sero-node:latest", "sha256:bbb", T0 + HOUR)
    probe = running(clis["podman"], ctr(state="exited"), container_image=rebuilt)
    st = resolve(FOLDER, Settings(), probe)
    assert st.reason == R.NOT_RUNNING and len(st.stale) == 1


def test_dockerfile_newer_than_image(clis: dict[str, Backend]) -> None:
    dockerfile = WS + "/apps/desktop/images/Dockerfile.sero-node"
    probe = running(clis["podman"], ctr(), dockerfile=dockerfile, dockerfile_modified=T0 + 2 * HOUR)
    st = resolve(FOLDER, Settings(), probe)
    assert (st.mode, st.degraded, st.reason) == ("container", False, R.STALE)
    assert st.dockerfile is not None and st.dockerfile.stale
    assert st.dockerfile.path == dockerfile
    assert st.dockerfile.modified == "2026-11-27T09:00:00Z"
    assert st.dockerfile.image_created == "2026-11-27T06:00:00Z"
    assert st.remedy[0] == (
        "podman build -t sero-node:latest -f apps/desktop/images/Dockerfile.sero-node ."
    )
    assert st.remedy[1:] == ["podman rm -f sero-proj", st.remedy[2]]
    assert st.remedy[2].startswith("podman run --name sero-proj")
    (why,) = st.stale
    assert "apps/desktop/images/Dockerfile.sero-node" in why and "rebuild" in why


def test_dockerfile_older_than_image_is_reported_not_stale(clis: dict[str, Backend]) -> None:
    probe = running(clis["podman"], ctr(), dockerfile="/d/Dockerfile.sero-node",
                    dockerfile_modified=T0 - 2 * HOUR)  # fmt: skip
    st = resolve(FOLDER, Settings(), probe)
    assert st.reason is None and st.stale == []
    assert st.dockerfile is not None and not st.dockerfile.stale
    assert st.dockerfile.image == "sero-node:latest"


def test_both_stale_and_no_container_yet(clis: dict[str, Backend]) -> None:
    rebuilt = ImageRecord("localhost/sero-node:latest", "sha256:bbb", T0 + HOUR)
    late = {"dockerfile": WS + "/Dockerfile.sero-node", "dockerfile_modified": T0 + 3 * HOUR}
    probe = running(clis["apple"], ctr(), image=rebuilt, container_image=rebuilt, **late)
    st = resolve(FOLDER, Settings(), probe)
    assert st.reason == R.STALE and len(st.stale) == 2
    assert st.remedy[:2] == [
        "container build -t sero-node:latest -f Dockerfile.sero-node .",
        "container delete --force sero-proj",
    ]
    # no container: the rebuild comes before the create
    probe = running(clis["apple"], image=rebuilt, **late)
    st = resolve(FOLDER, Settings(), probe)
    assert st.reason == R.CONTAINER_MISSING
    assert st.remedy[0].startswith("container build") and st.remedy[1].startswith("container run")


def test_dockerfile_outside_the_folder_is_shown_absolute(clis: dict[str, Backend]) -> None:
    probe = running(clis["docker"], ctr(), dockerfile="/srv/images/Dockerfile",
                    dockerfile_modified=T0 + HOUR)  # fmt: skip
    st = resolve(FOLDER, Settings(dockerfile="/srv/images/Dockerfile"), probe)
    assert st.remedy[0] == "docker build -t sero-node:latest -f /srv/images/Dockerfile ."


def test_dockerfile_candidates() -> None:
    assert dockerfile_candidates(WS, None) == [
        WS + "/apps/desktop/images/Dockerfile.sero-node",
        WS + "/Dockerfile.sero-node",
    ]
    assert dockerfile_candidates(WS, "images/../Dockerfile.dev") == [WS + "/Dockerfile.dev"]
    assert dockerfile_candidates(WS, "/abs/Dockerfile") == ["/abs/Dockerfile"]


def test_status_json_carries_staleness(clis: dict[str, Backend]) -> None:
    probe = running(clis["podman"], ctr(), dockerfile="/d/Dockerfile.sero-node",
                    dockerfile_modified=T0 + HOUR)  # fmt: skip
    out = to_json(resolve(FOLDER, Settings(), probe))
    assert out["dockerfile"] == {
        "path": "/d/Dockerfile.sero-node", "modified": "2026-11-27T08:00:00Z",
        "image": "sero-node:latest", "imageCreated": "2026-11-27T06:00:00Z", "stale": True,
    }  # fmt: skip
    assert out["reason"] == "container-stale" and len(out["stale"]) == 1
    assert os.path.basename(out["dockerfile"]["path"]) in out["stale"][0]
