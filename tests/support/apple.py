"""Driving the Apple `container` CLI stand-in (tests/fixtures/bin/container).

The stand-in speaks Apple's CLI surface and runs real podman containers
underneath; its environment variables are documented at the top of the script.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.apple_releases import RELEASES, SHAPE_RELEASE

STANDIN_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "bin"
STANDIN = STANDIN_DIR / "container"
SYSTEM_STATES = ("running", "stopped", "unregistered", "hung")
SHAPES = tuple(SHAPE_RELEASE)
# The families every Apple e2e flow runs against: one 0.x (old errors, 2001-epoch dates,
# no creation date) and one 1.x (ImageResource, ISO dates, `container not found`).
E2E_RELEASES = ("0.9", "1.2")
# Runs a test that uses the `apple_standin` fixture once per E2E_RELEASES family.
both_apple_releases = pytest.mark.parametrize(
    "apple_standin", E2E_RELEASES, indirect=True, ids=[f"apple-{r}" for r in E2E_RELEASES]
)


def standin_env(
    state_dir: Path,
    release: str = "1.2",
    label: str | None = None,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """A full environment (os.environ merged) with the stand-in first on PATH.

    `release` is the Apple release family it speaks (tests/support/apple_releases.py:
    0.5, 0.9, 0.12, 1.2); `label` ("key=value") limits the containers the stand-in sees.
    """
    release = SHAPE_RELEASE.get(release, release)
    if release not in RELEASES:
        raise ValueError(f"release must be one of {sorted(RELEASES)}, got {release!r}")
    env = dict(os.environ if base is None else base)
    env["PATH"] = os.pathsep.join([str(STANDIN_DIR), env.get("PATH", "")])
    env["SERO_FAKE_APPLE_STATE"] = str(state_dir)
    env["SERO_STANDIN_RELEASE"] = release
    env.pop("SERO_FAKE_APPLE_SHAPE", None)
    if label:
        env["SERO_FAKE_APPLE_LABEL"] = label
    else:
        env.pop("SERO_FAKE_APPLE_LABEL", None)
    return env


def set_system(state_dir: Path, state: str) -> None:
    """Flip the stand-in's API server: running, stopped, unregistered or hung.

    `hung` (registered, not answering) makes commands wait
    SERO_FAKE_APPLE_HANG_SECONDS (default 10, set it in the env) before failing.
    """
    if state not in SYSTEM_STATES:
        raise ValueError(f"state must be one of {SYSTEM_STATES}, got {state!r}")
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / "system").write_text(state + "\n")


def set_addresses_hidden(state_dir: Path, hidden: bool = True) -> None:
    """Containers show no network attachment (no IP), as an Apple container reached only
    through its published ports; their published ports stay."""
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / "addresses").write_text(("hidden" if hidden else "shown") + "\n")


def set_kernel_missing(state_dir: Path, missing: bool = True) -> None:
    """With a missing kernel, `system start` needs --enable-kernel-install (or a TTY)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / "kernel").write_text(("missing" if missing else "installed") + "\n")


@dataclass
class AppleStandin:
    """One test's stand-in: its state folder, Apple release family and visibility label."""

    state_dir: Path
    label_key: str
    label_value: str
    release: str = "1.2"
    cli: Path = field(default=STANDIN)

    @property
    def shape(self) -> str:
        """"1" for a 1.x release, "0" for 0.x (the JSON shape sero-ls reads)."""
        return "1" if self.release.startswith("1.") else "0"

    @shape.setter
    def shape(self, value: str) -> None:
        if value not in SHAPE_RELEASE:
            raise ValueError(f"shape must be one of {SHAPES}, got {value!r}")
        self.release = SHAPE_RELEASE[value]

    @property
    def label(self) -> str:
        return f"{self.label_key}={self.label_value}"

    @property
    def labels(self) -> dict[str, str]:
        """Labels that make a podman container visible to this stand-in."""
        return {self.label_key: self.label_value}

    @property
    def env(self) -> dict[str, str]:
        return standin_env(self.state_dir, self.release, self.label)

    def set_system(self, state: str) -> None:
        set_system(self.state_dir, state)

    def run(
        self, *args: str, input: str | None = None, timeout: float = 30.0
    ) -> subprocess.CompletedProcess[str]:
        """Run the stand-in with this environment; never raises on exit status."""
        return subprocess.run(
            [str(self.cli), *args], input=input, capture_output=True, text=True,
            env=self.env, timeout=timeout, check=False,
        )
