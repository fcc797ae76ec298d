"""AppleBackend on each release family's recorded outputs, through a CLI that prints them
(exit code and stream from manifest.json), and on a `system status` that never answers."""

from __future__ import annotations

import asyncio
import json
import shlex
import stat
from pathlib import Path

import pytest

from sero_ls.runtime.backends.apple import AppleBackend
from sero_ls.runtime.invoke import ProbeError

RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "recorded"
MANIFEST = json.loads((RECORDED / "manifest.json").read_text(encoding="utf-8"))
FAMILIES = ["0.5", "0.9", "0.12", "1.2"]


def printing_cli(tmp_path: Path, name: str) -> str:
    """A `container` that prints the recorded file `name` on its stream, with its exit code."""
    script = tmp_path / "container"
    script.write_text(f"#!/bin/sh\n{emit(name)}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def backend(tmp_path: Path, name: str, timeout: float = 10) -> AppleBackend:
    return AppleBackend(printing_cli(tmp_path, name), timeout)


@pytest.mark.parametrize("family", FAMILIES)
def test_a_missing_image_is_absent_not_a_failure(tmp_path: Path, family: str) -> None:
    b = backend(tmp_path, f"apple-{family}-image-inspect-missing.txt")
    assert asyncio.run(b.image("sero-nope")) is None


@pytest.mark.parametrize("family", FAMILIES)
def test_a_present_image_has_its_build_time(tmp_path: Path, family: str) -> None:
    b = backend(tmp_path, f"apple-{family}-image-inspect-sero-node.json")
    image = asyncio.run(b.image("sero-node"))
    assert image is not None and image.created is not None
    assert image.reference == "docker.io/library/sero-node:latest"


@pytest.mark.parametrize("family", FAMILIES)
def test_a_missing_container_is_none(tmp_path: Path, family: str) -> None:
    suffix = "txt" if family == "1.2" else "json"  # 1.x fails, 0.x prints []
    b = backend(tmp_path, f"apple-{family}-inspect-missing.{suffix}")
    assert asyncio.run(b.inspect("sero-nope")) is None


@pytest.mark.parametrize("family", FAMILIES)
def test_the_api_server_down_is_a_probe_error_with_the_cli_words(
    tmp_path: Path, family: str
) -> None:
    b = backend(tmp_path, f"apple-{family}-list-server-down.txt")
    with pytest.raises(ProbeError, match="XPC connection error"):
        asyncio.run(b.inspect("sero-proj"))


def emit(name: str) -> str:
    """Shell that prints the recorded file on its stream and exits with its code."""
    entry = MANIFEST[name]
    redirect = " >&2" if entry["stream"] == "stderr" else ""
    return f"cat {shlex.quote(str(RECORDED / name))}{redirect}; exit {entry['exit']}"


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("case", ["running", "not-running", "unregistered"])
def test_system_status(tmp_path: Path, family: str, case: str) -> None:
    """0.5/0.9 answer `--format` with exit 64: the plain form is asked next."""
    with_format = f"apple-{family}-system-status-{case}.json"
    if with_format not in MANIFEST:
        with_format = f"apple-{family}-system-status-format.txt"
    calls = tmp_path / "calls"
    script = tmp_path / "container"
    script.write_text(
        f'#!/bin/sh\necho "$*" >> {shlex.quote(str(calls))}\ncase "$*" in\n'
        f"  *--format*) {emit(with_format)} ;;\n"
        f"  *) {emit(f'apple-{family}-system-status-{case}.txt')} ;;\nesac\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    probe = asyncio.run(AppleBackend(str(script), 10).system())
    assert probe.state == ("running" if case == "running" else "not-running")
    asked = calls.read_text().splitlines()
    assert len(asked) == (2 if family in ("0.5", "0.9") else 1), asked
    if case == "unregistered":  # the JSON status, or the plain sentence before 0.10
        assert any(w in str(probe.detail) for w in ("unregistered", "not registered"))


def test_a_silent_api_server_reads_as_not_running(tmp_path: Path) -> None:
    """`system status` pings for 10 s; past probeTimeout that is "not running", whose
    remedy is `container system start`, not a failed probe."""
    script = tmp_path / "container"
    script.write_text("#!/bin/sh\nexec sleep 60\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    b = AppleBackend(str(script), 0.3)
    probe = asyncio.run(b.system())
    assert probe.state == "not-running"
    assert probe.detail and "did not answer within 0.3 s" in probe.detail
    assert b.remedy_system()[0].endswith("container system start")
