"""Every CLI output parser on the recorded and documented outputs (tests/fixtures/recorded)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from sero_ls.runtime.backends.docker import _not_found as docker_not_found
from sero_ls.runtime.backends.parse import (
    APPLE_EPOCH_OFFSET,
    ParseError,
    parse_apple_containers,
    parse_apple_image_inspect,
    parse_apple_images,
    parse_docker_ps,
    parse_image_inspect,
    parse_inspect,
    parse_podman_ps,
    parse_time,
)
from sero_ls.runtime.devcontainer import exec_identity, merge_metadata
from sero_ls.runtime.discovery import find_workspace_container
from sero_ls.runtime.model import Mount, PortBinding

RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "recorded"
MANIFEST = json.loads((RECORDED / "manifest.json").read_text(encoding="utf-8"))
UTC = dt.UTC


def text(name: str) -> str:
    return (RECORDED / name).read_text(encoding="utf-8")


def exit_code(name: str) -> int:
    return int(MANIFEST[name]["exit"])


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


# ---------------------------------------------------------------- parse_time


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-27T06:58:12Z", at(2026, 11, 27, 6, 58, 12)),
        # podman: nanoseconds (8 and 9 digits) are cut to microseconds
        ("2026-11-27T08:18:14.77857779Z", at(2026, 11, 27, 8, 18, 14, 778577)),
        ("2026-11-27T06:58:12.482913577Z", at(2026, 11, 27, 6, 58, 12, 482913)),
        ("2026-11-26T18:04:51.22093Z", at(2026, 11, 26, 18, 4, 51, 220930)),
        # an offset is kept as the same instant
        ("2026-11-27T08:00:00+02:00", at(2026, 11, 27, 6, 0, 0)),
        # Go's time.String() (docker ps CreatedAt)
        ("2026-11-27 06:58:12 +0000 UTC", at(2026, 11, 27, 6, 58, 12)),
        ("2024-05-01 10:00:00.123456789 +0200 CEST", at(2024, 5, 1, 8, 0, 0, 123456)),
        # no zone: taken as UTC
        ("2026-11-27T06:58:12", at(2026, 11, 27, 6, 58, 12)),
        # Unix seconds (podman ps Created, images Created)
        (1795767494, at(2026, 11, 27, 8, 18, 14)),
        (1795767494.5, at(2026, 11, 27, 8, 18, 14, 500000)),
    ],
)
def test_parse_time_forms(value: object, expected: dt.datetime) -> None:
    assert parse_time(value) == expected


def test_parse_time_apple_epoch() -> None:
    # Apple 0.x: seconds since 2001-01-01
    assert parse_time(0.5, apple_epoch=True) == at(2001, 1, 1, 0, 0, 0, 500000)
    assert parse_time(817455492.0, apple_epoch=True) == at(2026, 11, 27, 6, 58, 12)
    assert parse_time(817455492.0) == at(1995, 11, 27, 6, 58, 12)  # read as Unix time
    assert APPLE_EPOCH_OFFSET == 978307200
    # an ISO string is ISO whatever the flag says
    assert parse_time("2026-11-27T06:58:12Z", apple_epoch=True) == at(2026, 11, 27, 6, 58, 12)


@pytest.mark.parametrize(
    "value",
    [
        None, "", 0, False, True, "0001-01-01T00:00:00Z", -62135596800, 1e20, float("nan"),
        "yesterday", "Less than a second ago", [], {},
    ],
)  # fmt: skip
def test_parse_time_absent_or_unusable_is_none(value: object) -> None:
    assert parse_time(value) is None


# Apple's parsers, release family by release family: tests/unit/test_parse_apple.py


# ---------------------------------------------------------------- Docker


REC_WS = "/tmp/sero-recorded/my proj é"


def test_docker_ps_one_object_per_line() -> None:
    """Recorded: docker CLI 28.2.2 against dockerd 20.10 (record_docker.py)."""
    by_name = {r.name: r for r in parse_docker_ps(text("docker-ps-all.json"))}
    assert set(by_name) == {"sero-rec-running", "sero-rec-stopped", "sero-rec-net",
                            "sero-rec-devc"}  # fmt: skip
    running = by_name["sero-rec-running"]
    assert (running.state, running.image, len(running.id)) == ("running", "sero-node:latest", 64)
    assert running.labels == {
        "ai.sero.managed": "true",
        "ai.sero.runtime": "docker",
        "ai.sero.workspaceId": "rec-running",
        "ai.sero.workspacePath": REC_WS,
    }
    assert running.mounts == ()  # ps carries no mount destinations: never mapped from ps
    (inspected,) = parse_inspect(text("docker-inspect-running.json"))
    assert running.created == inspected.created.replace(microsecond=0)  # type: ignore[union-attr]
    assert by_name["sero-rec-stopped"].state == "exited"
    assert not by_name["sero-rec-stopped"].running
    # a JSON array inside a label value (devcontainer.metadata) survives the "k=v,..." form
    devc = by_name["sero-rec-devc"].labels
    assert json.loads(devc["devcontainer.metadata"])[1]["remoteUser"] == "vscode"
    assert devc["devcontainer.local_folder"] == REC_WS
    assert parse_docker_ps(text("docker-ps-empty.json")) == []


def test_docker_ps_labels_with_commas_and_equals_in_values() -> None:
    line = json.dumps(
        {"ID": "abc", "Names": "n1,n2", "State": "Running",
         "Labels": "a=1,ai.sero.workspacePath=/home/u/a,b,c,x=y=z,empty="}
    )  # fmt: skip
    (rec,) = parse_docker_ps(line + "\n\n")
    assert rec.labels == {
        "a": "1",
        "ai.sero.workspacePath": "/home/u/a,b,c",
        "x": "y=z",
        "empty": "",
    }
    assert rec.name == "n1" and rec.state == "running"


@pytest.mark.parametrize(
    ("name", "state", "networked"),
    [("docker-inspect-running.json", "running", False),
     ("docker-inspect-stopped.json", "exited", False),
     ("docker-inspect-network.json", "running", True)],
)  # fmt: skip
def test_docker_inspect(name: str, state: str, networked: bool) -> None:
    (rec,) = parse_inspect(text(name))
    assert rec.state == state
    assert (rec.ip or "").startswith("172.31.") if networked else rec.ip is None
    assert not rec.name.startswith("/")
    assert rec.image == "sero-node:latest"  # Config.Image, as the user named it
    assert rec.image_id and rec.image_id.startswith("sha256:")
    assert rec.mounts == (Mount(REC_WS, "/workspace", read_only=False, type="bind"),)
    assert rec.labels["ai.sero.runtime"] == "docker"
    assert rec.created is not None and rec.created.tzinfo is not None
    assert rec.env == {"PATH": "/usr/local/bin:/usr/bin:/bin"} and rec.user is None


def test_docker_inspect_running_details() -> None:
    (rec,) = parse_inspect(text("docker-inspect-running.json"))
    assert rec.name == "sero-rec-running"
    assert rec.created == at(2026, 12, 2, 18, 26, 16, 468988)  # nanoseconds, cut to micro
    assert rec.started == at(2026, 12, 2, 18, 26, 17, 59179)
    assert rec.ports == ()
    (net,) = parse_inspect(text("docker-inspect-network.json"))
    assert net.ports == (PortBinding(8000, "tcp", "127.0.0.1", 18999),)


def test_docker_inspect_of_a_devcontainer() -> None:
    (rec,) = parse_inspect(text("docker-inspect-devcontainer.json"))
    assert rec.mounts == (Mount(REC_WS, "/workspaces/my proj é"),)
    assert rec.env["CONTAINER_ONLY"] == "1"
    meta = merge_metadata(rec.labels["devcontainer.metadata"])
    user, env = exec_identity(rec, meta)
    assert (user, env) == ("vscode", {"PATH": "/usr/local/bin:/usr/bin:/bin:/home/vscode/bin"})
    match = find_workspace_container(REC_WS, [rec], None)
    assert match.container == rec and match.via == "label devcontainer.local_folder"


def test_docker_image_inspect_and_error_words() -> None:
    (image,) = parse_image_inspect(text("docker-image-inspect-sero-node.json"))
    assert image.reference == "sero-node:latest" and (image.id or "").startswith("sha256:")
    assert image.created == at(2026, 12, 2, 18, 26, 16, 439502)
    for name in ("docker-inspect-missing.txt", "docker-image-inspect-missing.txt"):
        assert exit_code(name) == 1 and docker_not_found(text(name)), name
    assert not docker_not_found(text("docker-info-daemon-down.txt"))
    assert exit_code("docker-exec-command-not-found.txt") == 126
    assert "executable file not found" in text("docker-exec-command-not-found.txt")
    assert text("docker-exec-user.txt") == "vscode b\n"  # exec -u USER -e K=V


def test_inspect_state_from_running_flag_and_ro_mounts() -> None:
    obj = {
        "Id": "x" * 64, "State": {"Running": False},
        "Mounts": [{"Source": "/a", "Destination": "/b", "RW": False}, {"Destination": "/c"}],
    }  # fmt: skip
    (rec,) = parse_inspect(json.dumps([obj]))
    assert rec.state == "stopped"
    assert rec.mounts == (Mount("/a", "/b", read_only=True),)  # a mount without source is skipped


# ---------------------------------------------------------------- Podman (recorded here)


def test_podman_ps_array() -> None:
    running, stopped, net = parse_podman_ps(text("podman-ps-all.json"))
    assert running.name == "sero-rec-running" and running.running
    assert len(running.id) == 64
    assert running.image == "localhost/sero-node:latest"
    assert running.image_id == "49808ee8a0057af4bb797077245bbf6f6314a7989b3a5030da543a952ef83fc6"
    assert running.labels["ai.sero.workspacePath"] == "/tmp/sero-recorded/my proj é"
    assert running.created == at(2026, 11, 27, 8, 18, 14)
    assert stopped.state == "exited" and not stopped.running
    assert net.ports == (PortBinding(8000, "tcp", "127.0.0.1", 18999),)
    assert running.ports == ()
    assert parse_podman_ps(text("podman-ps-empty.json")) == []
    assert parse_podman_ps("null") == []  # some podman versions print null for nothing


def test_podman_inspect_running_stopped_network() -> None:
    (running,) = parse_inspect(text("podman-inspect-running.json"))
    (stopped,) = parse_inspect(text("podman-inspect-stopped.json"))
    (net,) = parse_inspect(text("podman-inspect-network.json"))
    folder = "/tmp/sero-recorded/my proj é"
    assert running.name == "sero-rec-running" and running.state == "running"
    assert stopped.name == "sero-rec-stopped" and stopped.state == "exited"
    assert running.image == "localhost/sero-node:latest"  # ImageName, with podman's prefix
    assert running.image_id == "49808ee8a0057af4bb797077245bbf6f6314a7989b3a5030da543a952ef83fc6"
    assert running.mounts == (Mount(folder, "/workspace", read_only=False),)
    assert running.labels["ai.sero.workspaceId"] == "rec-running"
    assert running.created is not None and running.created.microsecond > 0
    assert running.ip is None  # --network none
    assert net.ip == "10.88.0.10"
    assert net.ports == (PortBinding(8000, "tcp", "127.0.0.1", 18999),)
    assert net.created == at(2026, 11, 27, 8, 18, 14, 778577)


def test_image_inspect_and_images() -> None:
    (img,) = parse_image_inspect(text("podman-image-inspect-sero-node.json"))
    assert img.reference == "localhost/sero-node:latest"
    assert img.id == "49808ee8a0057af4bb797077245bbf6f6314a7989b3a5030da543a952ef83fc6"
    assert img.created == at(2026, 11, 27, 8, 13, 4, 971811)
    (listed,) = parse_image_inspect(text("podman-images-json.json"))  # RepoTags null: Names
    assert listed.reference == "localhost/sero-node:latest"
    assert listed.created == at(2026, 11, 27, 8, 13, 4)


@pytest.mark.parametrize(
    "name",
    [
        "podman-inspect-missing.txt",
        "podman-image-inspect-missing.txt",
        "podman-info-failure.txt",
        "docker-inspect-missing.txt",
        "docker-image-inspect-missing.txt",
        "docker-info-daemon-down.txt",
    ],
)
def test_error_texts_are_parse_errors(name: str) -> None:
    assert exit_code(name) != 0
    with pytest.raises(ParseError):
        parse_inspect(text(name))
    with pytest.raises(ParseError):
        parse_image_inspect(text(name))


# ---------------------------------------------------------------- garbage


ALL_PARSERS = [
    parse_apple_containers, parse_apple_images, parse_apple_image_inspect, parse_inspect,
    parse_image_inspect, parse_podman_ps, parse_docker_ps,
]  # fmt: skip


@pytest.mark.parametrize("parse", ALL_PARSERS)
@pytest.mark.parametrize(
    "garbage",
    ["WARN[0000] something odd\n{not json", "[1, 2]", '"a string"', "{"],
)
def test_garbage_raises_parse_error(parse, garbage: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ParseError):
        parse(garbage)


@pytest.mark.parametrize(
    ("parse", "wrong"),
    [
        (parse_apple_containers, '[{"id": "x", "configuration": "a string"}]'),
        (parse_apple_containers, '[{"id": "x", "status": {"networks": [3]}}]'),
        (parse_apple_images, '[{"reference": "x", "descriptor": 5}]'),
        (parse_apple_image_inspect, '[{"name": "x", "variants": [{"config": "a string"}]}]'),
        (parse_inspect, '[{"Id": "x", "Mounts": [5]}]'),
        (parse_inspect, '[{"Id": "x", "Config": {"Labels": [1]}}]'),
        (parse_image_inspect, '[{"Id": "x", "RepoTags": 9}]'),
        (parse_podman_ps, '[{"Id": "x", "Labels": [1]}]'),
        (parse_podman_ps, '{"Id": "x"}\n{"Id": "y"}'),  # docker's lines are not podman's array
        (parse_docker_ps, '[{"ID": "x"}]'),  # podman's array is not docker's lines
    ],
)
def test_wrong_json_shapes_raise_parse_error(parse, wrong: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ParseError):
        parse(wrong)


def test_entries_without_an_id_are_rejected() -> None:
    with pytest.raises(ParseError, match="no id"):
        parse_apple_containers('[{"configuration": {}, "status": {"state": "running"}}]')
    with pytest.raises(ParseError, match="no Id"):
        parse_inspect('[{"State": {"Status": "running"}}]')
    with pytest.raises(ParseError, match="no Id"):
        parse_podman_ps('[{"Names": ["x"]}]')
    with pytest.raises(ParseError, match="no ID"):
        parse_docker_ps('{"Names": "x"}')
