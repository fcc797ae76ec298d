"""One small interface over the apple, docker and podman CLIs.

A Backend answers: is my system running, which containers exist (full records
with mounts, labels, state, IP, creation time), is an image present, and how to
exec into a container. Every call has a deadline (``timeout``) and raises
ProbeError with the CLI's own words when it cannot answer.
"""

from __future__ import annotations

import abc
import asyncio
import os
import shlex
import shutil
import sys
from collections.abc import Callable
from typing import ClassVar, TypeVar

import attrs

from sero_ls.runtime.backends.parse import ParseError
from sero_ls.runtime.invoke import CliResult, ProbeError, find_executable, run_cli, shared
from sero_ls.runtime.model import ContainerRecord, ImageRecord, RuntimeInfo, SystemState

T = TypeVar("T")


@attrs.frozen
class SystemProbe:
    state: SystemState
    detail: str | None = None  # the CLI's own words when not running


class Backend(abc.ABC):
    name: ClassVar[str]
    install_hint: ClassVar[str]  # what to install, in words
    default_cli: ClassVar[tuple[str, ...]]
    # `run --init`: an init as PID 1 that reaps orphans (docker, podman; not Apple's CLI)
    has_init: ClassVar[bool] = True

    # The flag that names a remote engine (`containerContext`); None: the CLI has none.
    context_flag: ClassVar[str | None] = None

    def __init__(self, cli: str, timeout: float, context: str | None = None) -> None:
        self.cli = cli
        self.timeout = timeout
        self.context = context if self.context_flag else None
        # Within one round of resolution (runtime/probe.py) the same call is made once: its
        # answer is shared by every question asked of it (None: no sharing).
        self.shared_runs: dict[tuple[str, ...], asyncio.Future[CliResult]] | None = None

    @property
    def base_argv(self) -> list[str]:
        """The CLI and its global flags: every call starts with these."""
        if self.context and self.context_flag:
            return [self.cli, self.context_flag, self.context]
        return [self.cli]

    @classmethod
    def locate(cls, configured: str | None) -> str | None:
        """The CLI's path: the configured one if given (and present), else the defaults."""
        if configured:
            return find_executable(configured)
        for candidate in cls.default_cli:
            found = find_executable(candidate)
            if found:
                return found
        return None

    async def run(self, *args: str, stdin: bytes | None = None) -> CliResult:
        argv = [*self.base_argv, *args]
        if self.shared_runs is None or stdin is not None:
            return await run_cli(argv, self.timeout, stdin=stdin)
        result: CliResult = await shared(
            self.shared_runs, tuple(argv), lambda: run_cli(argv, self.timeout)
        )
        return result

    def _parsed(self, result: CliResult, parse: Callable[[str], T]) -> T:
        try:
            return parse(result.stdout)
        except ParseError as exc:
            raise ProbeError(f"{exc}; stderr: {result.error_text()}") from None

    @abc.abstractmethod
    async def system(self) -> SystemProbe: ...

    @abc.abstractmethod
    async def containers(self) -> list[ContainerRecord]:
        """Every container, running or not, with mounts and labels."""

    @abc.abstractmethod
    async def image(self, reference: str) -> ImageRecord | None:
        """The image a reference names now (None when absent), with its build time."""

    @abc.abstractmethod
    async def inspect(self, container: str) -> ContainerRecord | None:
        """One container by name or id, fresh (None when it does not exist)."""

    def exec_argv(
        self,
        container: str,
        argv: list[str],
        *,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        interactive: bool = True,
        tty: bool = False,
        user: str | None = None,
    ) -> list[str]:
        """`<cli> exec -i [-t] [-u USER] [-w DIR] [-e K=V]... <container> CMD...` (the same
        flags in all three CLIs: docker/podman `exec --help`, Apple's `container exec`)."""
        out = [*self.base_argv, "exec"]
        if interactive:
            out.append("-i")
        if tty:
            out.append("-t")
        if user:
            out += ["-u", user]
        if cwd:
            out += ["-w", cwd]
        for key, value in (env or {}).items():
            out += ["-e", f"{key}={value}"]
        return [*out, container, *argv]

    # ---- what a user can run to fix things (strings for display; argv-quoted)

    def cmd(self, *args: str) -> str:
        return shlex.join([self.display_cli, *self.base_argv[1:], *args])

    @property
    def display_cli(self) -> str:
        """The CLI as a user would type it: its bare name when PATH finds this very file."""
        base = os.path.basename(self.cli)
        return base if base and shutil.which(base) == self.cli else self.cli

    def remedy_system(self) -> list[str]:
        return []

    def remedy_install(self) -> list[str]:
        return []

    def start_argv(self, container: str) -> list[str]:
        return [*self.base_argv, "start", container]

    def remove_args(self, container: str) -> list[str]:
        return ["rm", "-f", container]

    def create_args(self, name: str, folder: str, image: str) -> list[str]:
        return [
            "run", "--name", name, "-d", *(["--init"] if self.has_init else []),
            "--label", "ai.sero.managed=true",
            "--label", f"ai.sero.workspacePath={folder}",
            "--volume", f"{folder}:/workspace",
            image, "sleep", "infinity",
        ]  # fmt: skip

    def build_args(self, image: str, dockerfile: str | None) -> list[str]:
        return [
            "build",
            "-t",
            image,
            "-f",
            dockerfile or "apps/desktop/images/Dockerfile.sero-node",
            ".",
        ]

    def same_image(self, reference: str, wanted: str) -> bool:
        """Whether an image reference names the wanted image, as this runtime normalises names."""
        return normalise_image(reference) == normalise_image(wanted)


def normalise_image(ref: str) -> str:
    """`sero-node`, `sero-node:latest`, `localhost/sero-node:latest`, `docker.io/library/x:latest`
    all name the same thing for our purposes."""
    ref = ref.strip()
    if "@" in ref:
        ref = ref.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    if ":" not in last:
        ref += ":latest"
    for prefix in ("localhost/", "docker.io/library/", "docker.io/"):
        if ref.startswith(prefix):
            ref = ref[len(prefix) :]
            break
    return ref


def on_macos() -> bool:
    return sys.platform == "darwin"


def make_backend(name: str, cli: str, timeout: float, context: str | None = None) -> Backend:
    from sero_ls.runtime.backends.apple import AppleBackend
    from sero_ls.runtime.backends.docker import DockerBackend, PodmanBackend

    classes: dict[str, Callable[[str, float, str | None], Backend]] = {
        "apple": AppleBackend,
        "docker": DockerBackend,
        "podman": PodmanBackend,
    }
    return classes[name](cli, timeout, context)


def backend_for(runtime: RuntimeInfo, timeout: float) -> Backend | None:
    """The backend a resolved folder uses (its CLI and `containerContext`), None in host mode."""
    if not runtime.backend or not runtime.cli:
        return None
    return make_backend(runtime.backend, runtime.cli, timeout, runtime.context)
