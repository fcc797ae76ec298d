"""runtime/probe.py: one round of resolution asks each CLI question once, and Docker/Podman's
"is the engine running?" is the `ps -a` the round needs anyway (not `info`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sero_ls.runtime.manager import make_folder
from sero_ls.runtime.probe import ProbeRound, resolve_folders
from sero_ls.settings import Settings
from sero_ls.uris import path_to_uri

PS = "ps -a --no-trunc --format json"


def fake_cli(bin_dir: Path, name: str, log: Path, *, ps_fails: bool = False) -> Path:
    """A CLI that logs its arguments: `ps` lists nothing (or cannot reach its engine),
    `image inspect` finds nothing, anything else fails."""
    ps = (
        "echo 'Cannot connect to the Docker daemon. Is the docker daemon running?' >&2; exit 1"
        if ps_fails
        else "echo '[]'; exit 0"
    )
    cli = bin_dir / name
    cli.write_text(
        "#!/bin/sh\n"
        f'echo "{name} $*" >> "{log}"\n'
        f'case "$1" in ps) {ps} ;; image) echo "Error: {name}: image not known" >&2; exit 1 ;;\n'
        'esac\necho "unexpected: $*" >&2\nexit 2\n'
    )
    cli.chmod(0o755)
    return cli


async def test_a_round_runs_ps_once_for_both_questions_and_never_info(tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    cli = fake_cli(tmp_path, "podman", log)
    folders = []
    for name in ("a", "b"):  # two folders of one round share the calls too
        (tmp_path / name).mkdir()
        folders.append(make_folder(path_to_uri(str(tmp_path / name))))
    settings = Settings(container_backend="podman", container_cli=str(cli))
    statuses = await resolve_folders([(f, settings) for f in folders], ProbeRound())
    assert [s.reason for s in statuses] == ["container-image-missing", "container-image-missing"]
    assert sorted(log.read_text().splitlines()) == [
        "podman image inspect sero-node:latest",
        f"podman {PS}",
    ]


async def test_auto_takes_the_engine_that_runs_asking_each_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "calls.log"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_cli(bin_dir, "docker", log, ps_fails=True)
    fake_cli(bin_dir, "podman", log)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    (tmp_path / "w").mkdir()
    folder = make_folder(path_to_uri(str(tmp_path / "w")))
    [status] = await resolve_folders([(folder, Settings())], ProbeRound())
    assert (status.runtime.backend, status.reason) == ("podman", "container-image-missing")
    assert sorted(log.read_text().splitlines()) == [
        f"docker {PS}",
        "podman image inspect sero-node:latest",
        f"podman {PS}",
    ]
