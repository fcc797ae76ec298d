"""Zombies in a workspace container: `sero-ls doctor` names them under a PID 1 that does not
reap (`sleep infinity`), and a container run with `--init` (what sero-ls' fixes create on
podman and docker) has none. Real Podman containers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import podman as pm

pytestmark = [pytest.mark.podman]


def orphan_a_child(container: str) -> None:
    """A shell that exits before its background child: the child is re-parented to PID 1."""
    pm.run([pm.PODMAN, "exec", container, "sh", "-c", "sleep 0.2 & exit 0"])


def doctor(folder: Path, tmp_path: Path) -> str:
    env = {**os.environ, "SERO_LS_STATE_DIR": str(tmp_path / "state")}
    out = subprocess.run(
        [sys.executable, "-m", "sero_ls", "doctor", str(folder)],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert "mode        container" in out.stdout, out.stdout
    return out.stdout


@pytest.mark.parametrize("init", [False, True], ids=["sleep-as-pid-1", "with-init"])
def test_doctor_names_zombies_only_without_an_init(
    tmp_path: Path, tmp_workspace: Path, workspace_container, init: bool
) -> None:
    (tmp_workspace / ".sero").mkdir()
    (tmp_workspace / ".sero" / "config.toml").write_text('containerBackend = "podman"\n')
    ctr = workspace_container(tmp_workspace, init=init)
    orphan_a_child(ctr.name)
    orphan_a_child(ctr.name)
    # The children end 0.2 s later; wait until neither runs (a zombie, or reaped: gone).
    deadline = time.monotonic() + 30
    while any("sleep 0.2" in p for p in pm.processes_in_container(ctr.name)):
        assert time.monotonic() < deadline, pm.processes_in_container(ctr.name)
        time.sleep(0.1)
    report = doctor(tmp_workspace, tmp_path)
    if init:
        assert "\n  zombies" not in report, report
    else:
        line = next(line for line in report.splitlines() if line.startswith("  zombies"))
        assert "2 zombie processes (sleep; parent pid 1)" in line, line
        assert "--init" in line
