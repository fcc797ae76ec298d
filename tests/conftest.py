"""Fixtures shared by every suite: real podman containers and the Apple CLI stand-in.

* `podman` (session): podman works here, else skip (fail when env CI is set).
* `workspace_container`: factory `make(workspace, **kwargs) -> Container` for
  uniquely named `sero-test-<hex>` containers (kwargs of
  tests.support.podman.create_workspace_container), all removed at teardown.
* `tmp_workspace`: a folder whose path holds a space and a non-ASCII letter.
* `dockerd` (session): a real dockerd and the docker CLI (tests/support/dockerd.py);
  `.env` (DOCKER_HOST, DOCKER_CONFIG) is what a sero-ls under test needs to reach it.
* `docker_container`: factory `make(workspace, **kwargs) -> name` (kwargs of
  Dockerd.create), uniquely named `sero-test-<hex>`, removed at teardown.
* `apple_standin`: an AppleStandin (state folder, release, label) plus
  `apple_standin.create(workspace, **kwargs)` for containers it can see. It speaks
  Apple release 1.2 unless parametrized indirectly: `@both_apple_releases` (from
  tests.support.apple) runs a test on a 0.x and a 1.x release.

Tests using these fixtures get the `podman` marker automatically.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.support import dockerd as dk  # noqa: E402
from tests.support import podman as pm  # noqa: E402
from tests.support.apple import AppleStandin  # noqa: E402

PODMAN_FIXTURES = {"podman", "workspace_container", "apple_standin"}
DOCKER_FIXTURES = {"dockerd", "docker_container"}

MakeContainer = Callable[..., pm.Container]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if PODMAN_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.podman)
        if DOCKER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.docker)


@pytest.fixture(scope="session")
def podman() -> Iterator[None]:
    """Podman can run real containers here; skip (or fail under CI) with the reason."""
    reason = pm.podman_ok()
    if reason is not None:
        message = f"podman is not usable: {reason}"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    pm.remove_orphaned_test_containers()
    yield
    pm.remove_owned_test_containers()


@pytest.fixture(scope="session")
def dockerd() -> Iterator[dk.Dockerd]:
    """A dockerd of this session's own, the docker CLI on PATH, and the test image."""
    cli, daemon = dk.docker_cli(), dk.dockerd_bin()
    if cli is None or daemon is None:
        message = "no docker CLI or dockerd (run: bash scripts/setup --test)"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    d = dk.start(cli, daemon)
    try:
        d.import_image()
        yield d
    finally:
        dk.stop(d)


@pytest.fixture
def docker_container(dockerd: dk.Dockerd) -> Iterator[Callable[..., str]]:
    """Factory: make(workspace, name=None, **create_kwargs) -> the container's name."""
    made: list[str] = []

    def make(workspace: Path, name: str | None = None, **kwargs: Any) -> str:
        name = name or unique_name()
        made.append(name)
        dockerd.create(name, workspace, **kwargs)
        return name

    yield make
    if made:
        dockerd.run("rm", "-f", *made, check=False)


def unique_name(prefix: str = pm.TEST_PREFIX) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


@pytest.fixture
def workspace_container(podman: None) -> Iterator[MakeContainer]:
    """Factory: make(workspace, name=None, **create_kwargs) -> Container."""
    made: list[str] = []

    def make(workspace: Path, name: str | None = None, **kwargs: Any) -> pm.Container:
        name = name or unique_name()
        made.append(name)
        return pm.create_workspace_container(name, workspace, **kwargs)

    yield make
    for name in made:
        pm.run([pm.PODMAN, "rm", "-f", "-t", "0", name], check=False)


@pytest.fixture
def tmp_workspace(tmp_path: Path) -> Path:
    """An empty folder `.../my proj é/` (a space and a non-ASCII letter in its path)."""
    folder = tmp_path / "my proj é"
    folder.mkdir()
    return folder.resolve()


class StandinWithContainers(AppleStandin):
    """AppleStandin that also creates podman containers visible to it."""

    make: MakeContainer

    def create(self, workspace: Path, **kwargs: Any) -> pm.Container:
        labels = {**self.labels, **kwargs.pop("labels", {})}
        return self.make(workspace, labels=labels, **kwargs)


@pytest.fixture
def apple_standin(
    request: pytest.FixtureRequest, tmp_path: Path, workspace_container: MakeContainer
) -> StandinWithContainers:
    """The `container` stand-in, system running, seeing only this test's containers; release
    1.2, or the one an indirect parametrization names (`@both_apple_releases`)."""
    standin = StandinWithContainers(
        state_dir=tmp_path / "apple-state",
        label_key="ai.sero.test.standin",
        label_value=uuid.uuid4().hex[:12],
        release=getattr(request, "param", "1.2"),
    )
    standin.make = workspace_container
    standin.set_system("running")
    return standin
