"""Apple's parsers and error classification on every release family's files
(tests/fixtures/recorded/apple-<family>-*, written from Apple's sources at the tags the
README there names)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from sero_ls.runtime.backends.parse import (
    ParseError,
    apple_error_kind,
    parse_apple_containers,
    parse_apple_image_inspect,
    parse_apple_images,
    parse_apple_system_status,
)
from sero_ls.runtime.model import Mount, PortBinding

RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "recorded"
MANIFEST = json.loads((RECORDED / "manifest.json").read_text(encoding="utf-8"))
FAMILIES = ["0.5", "0.9", "0.12", "1.2"]
OLD = ["0.5", "0.9", "0.12"]  # no creation date, no ImageResource, `inspect` prints []


def text(family: str, case: str) -> str:
    return (RECORDED / f"apple-{family}-{case}").read_text(encoding="utf-8")


def exit_code(family: str, case: str) -> int:
    return int(MANIFEST[f"apple-{family}-{case}"]["exit"])


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def test_every_family_has_its_files() -> None:
    for family in FAMILIES:
        names = {n for n in MANIFEST if n.startswith(f"apple-{family}-")}
        assert len(names) >= 17, family
        assert all((RECORDED / n).is_file() for n in names)


@pytest.mark.parametrize("family", FAMILIES)
def test_list_all(family: str) -> None:
    proj, old = parse_apple_containers(text(family, "list-all.json"))
    assert (proj.id, proj.name, proj.state, proj.running) == ("sero-proj", "sero-proj",
                                                              "running", True)
    assert proj.image == "docker.io/library/sero-node:latest"
    assert proj.image_id and proj.image_id.startswith("sha256:5c3f0b1a")
    assert proj.ip == "192.168.64.3"  # `address` to 0.7, `ipv4Address` from 0.8; CIDR dropped
    assert proj.mounts == (
        Mount("/Users/dev/my proj é", "/workspace", read_only=False),
        Mount("/Users/dev/.sero/shared", "/opt/sero", read_only=True),
    )
    assert proj.labels["ai.sero.workspacePath"] == "/Users/dev/my proj é"
    assert (old.id, old.state, old.running, old.ip, old.started) == (
        "sero-old", "stopped", False, None, None)
    if family == "1.2":  # ISO-8601 dates; creationDate from 1.0.0
        assert proj.created == at(2026, 11, 27, 6, 58, 12)
        assert old.created == at(2026, 11, 20, 9, 30, 0)
    else:  # 0.x has no creation date at all: nothing to judge staleness by
        assert proj.created is None and old.created is None
    # startedDate from 0.8 (seconds since 2001 before 1.0, ISO-8601 after): the same instant
    assert proj.started == (None if family == "0.5" else at(2026, 11, 27, 6, 58, 13))


@pytest.mark.parametrize("family", FAMILIES)
def test_inspect_running_and_stopped(family: str) -> None:
    (running,) = parse_apple_containers(text(family, "inspect-running.json"))
    (stopped,) = parse_apple_containers(text(family, "inspect-stopped.json"))
    assert running.running and running.ip == "192.168.64.3" and running.ports == ()
    assert not stopped.running and stopped.state == "stopped"


@pytest.mark.parametrize("family", FAMILIES)
def test_published_ports(family: str) -> None:
    (web,) = parse_apple_containers(text(family, "inspect-published.json"))
    assert web.ip is None  # no network attachment: only the published port reaches it
    assert web.ports == (PortBinding(8000, "tcp", "127.0.0.1", 18000),)


def test_published_port_ranges_and_protocols() -> None:
    conf = {"id": "x", "publishedPorts": [
        {"hostAddress": "0.0.0.0", "hostPort": 9000, "containerPort": 3000, "proto": "tcp",
         "count": 3},
        {"hostAddress": "127.0.0.1", "hostPort": 53, "containerPort": 53, "proto": "udp"}]}
    (c,) = parse_apple_containers(json.dumps([{"id": "x", "configuration": conf,
                                               "status": {"state": "running"}}]))
    assert c.ports == (
        PortBinding(3000, "tcp", "0.0.0.0", 9000), PortBinding(3001, "tcp", "0.0.0.0", 9001),
        PortBinding(3002, "tcp", "0.0.0.0", 9002), PortBinding(53, "udp", "127.0.0.1", 53))


def test_a_container_from_before_1_0_has_no_creation_date_on_1_x() -> None:
    (pre,) = parse_apple_containers(text("1.2", "inspect-pre-upgrade.json"))
    assert '"creationDate" : "1970-01-01T00:00:00Z"' in text("1.2", "inspect-pre-upgrade.json")
    assert pre.created is None  # unknown, not "created in 1970" (so never stale by it)


@pytest.mark.parametrize("family", FAMILIES)
def test_empty_and_missing(family: str) -> None:
    assert parse_apple_containers(text(family, "list-empty.json")) == []
    if family in OLD:  # inspect of a missing container prints [] with exit 0 before 1.0
        assert exit_code(family, "inspect-missing.json") == 0
        assert parse_apple_containers(text(family, "inspect-missing.json")) == []
    else:
        assert exit_code(family, "inspect-missing.txt") == 1
        assert text(family, "inspect-missing.txt") == "Error: container not found: sero-nope\n"
        assert apple_error_kind(text(family, "inspect-missing.txt")) == "not-found"


@pytest.mark.parametrize("family", FAMILIES)
def test_image_list_and_inspect(family: str) -> None:
    (listed,) = parse_apple_images(text(family, "image-list.json"))
    assert listed.reference == "docker.io/library/sero-node:latest"
    assert listed.id and listed.id.startswith("sha256:5c3f0b1a")
    (inspected,) = parse_apple_image_inspect(text(family, "image-inspect-sero-node.json"))
    assert inspected.reference == "docker.io/library/sero-node:latest"
    assert inspected.id == listed.id  # the index digest, as the container's descriptor
    assert inspected.created == at(2026, 11, 26, 18, 4, 51, 220931)
    if family == "1.2":  # ImageResource: `configuration.name`, not `name`
        data = json.loads(text(family, "image-inspect-sero-node.json"))
        assert "name" not in data[0] and data[0]["configuration"]["name"] == listed.reference


def test_image_resource_falls_back_to_its_creation_date_but_not_the_epoch() -> None:
    def one(creation: str) -> dt.datetime | None:
        entry = {"id": "ab", "configuration": {"name": "x:1", "descriptor": {"digest": "sha256:ab"},
                                               "creationDate": creation},
                 "variants": [{"config": {}}]}
        (img,) = parse_apple_image_inspect(json.dumps([entry]))
        return img.created

    assert one("2026-03-01T10:00:00Z") == at(2026, 3, 1, 10, 0, 0)
    assert one("1970-01-01T00:00:00Z") is None  # no variant had a date
    with pytest.raises(ParseError, match=r"configuration\.name"):
        parse_apple_image_inspect('[{"configuration": {}, "variants": []}]')


def test_image_inspect_newest_variant_wins() -> None:
    variants = [
        {"config": {"created": "2026-01-01T00:00:00Z"}},
        {"config": {"created": "2026-02-01T00:00:00Z"}},
        {"config": {}},
    ]
    (img,) = parse_apple_image_inspect(json.dumps([{"name": "x:1", "variants": variants}]))
    assert img.created == at(2026, 2, 1)
    with pytest.raises(ParseError):
        parse_apple_image_inspect('[{"variants": []}]')


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("case", ["inspect-missing.txt", "list-server-down.txt"])
def test_error_texts_are_parse_errors(family: str, case: str) -> None:
    if (RECORDED / f"apple-{family}-{case}").exists():
        with pytest.raises(ParseError, match="not JSON"):
            parse_apple_containers(text(family, case))


@pytest.mark.parametrize("family", FAMILIES)
def test_error_classification(family: str) -> None:
    for case, kind in (("exec-missing.txt", "not-found"), ("image-inspect-missing.txt",
                       "not-found"), ("list-server-down.txt", "system-down"),
                       ("exec-stopped.txt", "not-running")):
        assert exit_code(family, case) == 1
        assert apple_error_kind(text(family, case)) == kind, (family, case)
    exec_missing = text(family, "exec-missing.txt")
    if family in ("0.5", "0.9"):  # `Error: <code>: "<message>"` until 0.9
        assert exec_missing.startswith('Error: notFound: "get failed: container sero-nope')
    else:  # containerization 0.26 (container 0.10): the message alone
        assert exec_missing == "Error: get failed: container sero-nope not found\n"
    # every release appends the `system start` hint to the XPC error
    assert "container system start" in text(family, "list-server-down.txt")


@pytest.mark.parametrize("stderr", [
    "Error: image not found: docker.io/library/x:latest",
    'Error: notFound: "Images: docker.io/library/x:latest"',
    "Error: container not found: a, b",
    "log line\nError: get failed: container a not found",
])
def test_not_found_in_every_form(stderr: str) -> None:
    assert apple_error_kind(stderr) == "not-found"


@pytest.mark.parametrize("stderr", [
    'Error: internalError: "failed to list containers (cause: not found)"',
    "Error: failed to pull image: unauthorized",
    "Error: network default not found",  # not the container or image asked about
    "",
])
def test_other_errors_are_not_not_found(stderr: str) -> None:
    assert apple_error_kind(stderr) is None


@pytest.mark.parametrize("family", FAMILIES)
def test_system_status(family: str) -> None:
    for case, expected in (("running", "running"), ("not-running", "not-running"),
                           ("unregistered", "not-running")):
        name = f"system-status-{case}.txt"
        assert parse_apple_system_status(exit_code(family, name), text(family, name))[0] == \
            expected
    if family in ("0.5", "0.9"):  # no --format before 0.10.0: a usage error, exit 64
        assert exit_code(family, "system-status-format.txt") == 64
        return
    for case, detail in (("running", "running"), ("not-running", "not running"),
                         ("unregistered", "unregistered")):
        name = f"system-status-{case}.json"
        state = "running" if case == "running" else "not-running"
        assert parse_apple_system_status(exit_code(family, name), text(family, name)) == \
            (state, detail)


def test_system_status_never_by_substring() -> None:
    # "not running" contains "running": decided by the exit code and the JSON field only
    assert parse_apple_system_status(1, "apiserver is running")[0] == "not-running"
    assert parse_apple_system_status(0, "apiserver is running")[0] == "running"
    assert parse_apple_system_status(0, '{"status": "not running"}')[0] == "not-running"
    assert parse_apple_system_status(0, '{"status": "unregistered"}')[0] == "not-running"
    assert parse_apple_system_status(1, '{"status": "running"}')[0] == "not-running"
    assert parse_apple_system_status(1, "") == ("not-running", None)


def test_a_port_entry_of_another_shape_is_skipped_not_a_failed_probe() -> None:
    conf = {"id": "x", "publishedPorts": [
        {"hostPort": "80", "containerPort": 80}, 7, {"hostPort": 8080, "containerPort": 80},
        {"hostPort": 1, "containerPort": True}]}
    (c,) = parse_apple_containers(json.dumps([{"id": "x", "configuration": conf}]))
    assert c.ports == (PortBinding(80, "tcp", None, 8080),)
    (c,) = parse_apple_containers('[{"id": "x", "configuration": {"publishedPorts": "80"}}]')
    assert c.ports == ()
