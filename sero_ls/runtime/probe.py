"""Probing the container runtimes for a set of folders (the effects side of resolution).

One ``ProbeRound`` serves many folders: calls that do not depend on the folder
(system status, the container list, an image lookup) run once per backend and
are shared, so ten folders cost about as much as one. Every call is bounded by
the folder's ``probeTimeout``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import stat
from collections.abc import Awaitable, Callable
from typing import Any

from sero_ls.runtime.backends import Backend, SystemProbe, make_backend
from sero_ls.runtime.backends.apple import AppleBackend
from sero_ls.runtime.backends.base import normalise_image
from sero_ls.runtime.backends.docker import DockerBackend, PodmanBackend
from sero_ls.runtime.devcontainer import (
    CONFIG_FILE_LABEL,
    METADATA_LABEL,
    config_dockerfile,
    find_config,
    is_devcontainer,
    merge_metadata,
    parse_probe,
    probe_argv,
    probe_kind,
)
from sero_ls.runtime.invoke import ProbeError, shared
from sero_ls.runtime.model import ContainerRecord, FolderStatus, ImageRecord, utc_now
from sero_ls.runtime.resolve import (
    Folder,
    Probe,
    dockerfile_candidates,
    find_workspace_container,
    resolve,
)
from sero_ls.settings import Settings

log = logging.getLogger(__name__)

BACKEND_CLASSES: dict[str, type[Backend]] = {
    "apple": AppleBackend,
    "docker": DockerBackend,
    "podman": PodmanBackend,
}
AUTO_ORDER = ("apple", "docker", "podman")
CLI_BASENAMES = {"container": "apple", "docker": "docker", "podman": "podman"}


def wanted_backend(settings: Settings) -> str:
    """The backend the settings name: explicit, or inferred from `containerCli`'s name."""
    name: str = settings.container_backend
    if name == "auto" and settings.container_cli:
        base = settings.container_cli.rstrip("/").rsplit("/", 1)[-1]
        name = CLI_BASENAMES.get(base, "apple")
    return name


class ProbeRound:
    """Memoised backend calls for one round of resolution."""

    def __init__(self) -> None:
        self._memo: dict[tuple[Any, ...], asyncio.Future[Any]] = {}
        self._runs: dict[tuple[str, ...], asyncio.Future[Any]] = {}  # CLI calls, by argv

    def _once(self, key: tuple[Any, ...], make: Callable[[], Awaitable[Any]]) -> Awaitable[Any]:
        return shared(self._memo, key, make)

    def backend(self, name: str, cli: str, timeout: float, context: str | None = None) -> Backend:
        b = make_backend(name, cli, timeout, context)
        b.shared_runs = self._runs
        return b

    async def system(self, b: Backend) -> SystemProbe:
        result: SystemProbe = await self._once(("system", *_key(b)), b.system)
        return result

    async def containers(self, b: Backend) -> list[ContainerRecord]:
        result: list[ContainerRecord] = await self._once(("containers", *_key(b)), b.containers)
        return result

    async def image(self, b: Backend, ref: str) -> ImageRecord | None:
        # `sero-node`, `localhost/sero-node:latest`, ... are one lookup.
        result: ImageRecord | None = await self._once(
            ("image", *_key(b), normalise_image(ref)), lambda: b.image(ref)
        )
        return result

    async def user_env(
        self, b: Backend, c: ContainerRecord, user: str | None, kind: str
    ) -> tuple[dict[str, str] | None, str | None]:
        """A Dev Container's userEnvProbe: (environment, None) or (None, why it failed).
        Kept per container start, user and kind (failures too): the shell's profile runs once
        per start, not once per round; a new start probes again."""
        key = (*_key(b), c.id, c.started, user, kind)
        if key not in _USER_ENV:
            argv = probe_argv(kind)
            if argv is None:
                return None, None
            inside = b.exec_argv(c.id, argv, user=user, interactive=False)[len(b.base_argv) :]
            try:
                result = await self._once(("user-env", *key), lambda: b.run(*inside))
            except ProbeError as exc:  # never fails the folder: remoteEnv still applies
                _USER_ENV[key] = (None, f"userEnvProbe {kind} failed: {exc}")
            else:
                env = parse_probe(result.stdout)
                why = None if env is not None else result.error_text()
                _USER_ENV[key] = (env, why and f"userEnvProbe {kind} failed: {why}")
            while len(_USER_ENV) > 64:
                _USER_ENV.pop(next(iter(_USER_ENV)))
        return _USER_ENV[key]

    async def _images_if_any(self, b: Backend, *refs: str | None) -> list[ImageRecord | None]:
        """Several image lookups at once; one that fails is None (and logged)."""
        wanted = [r for r in refs if r]
        found = await asyncio.gather(*(self.image(b, r) for r in wanted), return_exceptions=True)
        by_ref: dict[str, ImageRecord | None] = {}
        for ref, result in zip(wanted, found, strict=True):
            if isinstance(result, ProbeError):
                log.info("image lookup of %s for staleness failed: %s", ref, result)
            elif isinstance(result, BaseException):
                raise result
            by_ref[ref] = result if isinstance(result, ImageRecord) else None
        return [by_ref.get(r) if r else None for r in refs]

    async def choose_backend(self, settings: Settings) -> tuple[Backend | None, tuple[str, ...]]:
        """The backend per `containerBackend`/`containerCli` (CONTRACT §2); what was searched."""
        timeout = settings.probe_timeout
        name = wanted_backend(settings)
        if name != "auto":
            cls = BACKEND_CLASSES[name]
            cli = cls.locate(settings.container_cli)
            looked = (settings.container_cli,) if settings.container_cli else cls.default_cli
            context = settings.container_context
            return (self.backend(name, cli, timeout, context) if cli else None), looked
        # auto: apple where its CLI exists; else the first of docker, podman whose system answers.
        searched: tuple[str, ...] = ()
        located: list[Backend] = []
        for candidate in AUTO_ORDER:
            cls = BACKEND_CLASSES[candidate]
            searched += cls.default_cli
            cli = cls.locate(None)
            if cli:
                b = self.backend(candidate, cli, timeout, settings.container_context)
                if candidate == "apple":
                    return b, searched
                located.append(b)
        # every located engine is asked at once; the first in AUTO_ORDER that runs is taken
        answers = await asyncio.gather(*(self.system(b) for b in located), return_exceptions=True)
        for b, answer in zip(located, answers, strict=True):
            if isinstance(answer, SystemProbe) and answer.state == "running":
                return b, searched
            if isinstance(answer, BaseException) and not isinstance(answer, ProbeError):
                raise answer
        return (located[0] if located else None), searched

    async def probe(self, folder: Folder, settings: Settings) -> Probe:
        if settings.runtime == "host":
            return Probe()
        b, searched = await self.choose_backend(settings)
        if b is None:
            wanted = wanted_backend(settings)
            return Probe(searched=searched, wanted_backend=None if wanted == "auto" else wanted)
        try:
            system = await self.system(b)
            if system.state != "running":
                return Probe(
                    backend=b, searched=searched, system=system.state, system_detail=system.detail
                )
            containers = tuple(await self.containers(b))
            match = find_workspace_container(
                folder.path, containers, settings.container, settings.service
            )
            c = match.container
            image = container_image = None
            if c is None:  # is the image there to create one from?
                image = await self.image(b, settings.image)
            else:  # staleness is a bonus: never fail a folder that has its container on it
                # c.image by reference: what the name means now, not the id it was created from
                image, container_image = await self._images_if_any(b, settings.image, c.image)
            config = find_config(folder.path)
            dockerfile, modified = find_dockerfile(folder.path, settings.dockerfile)
            dockerfile_image = user_env = user_env_error = None
            if c is not None and is_devcontainer(c):
                config = c.labels.get(CONFIG_FILE_LABEL) or config
                dockerfile, modified = _modified(config_dockerfile(config) if config else None)
                dockerfile_image = c.image
                meta = merge_metadata(c.labels.get(METADATA_LABEL))
                if c.running:
                    user_env, user_env_error = await self.user_env(
                        b, c, meta.user, probe_kind(meta)
                    )
            return Probe(
                backend=b,
                searched=searched,
                system="running",
                containers=containers,
                image=image,
                container_image=container_image,
                dockerfile=dockerfile,
                dockerfile_modified=modified,
                devcontainer_config=config,
                user_env=user_env,
                user_env_error=user_env_error,
                dockerfile_image=dockerfile_image,
            )
        except ProbeError as exc:
            check = ("system", "status") if b.name == "apple" else ("ps", "-a")
            return Probe(backend=b, searched=searched, error=str(exc), failed_command=b.cmd(*check))


def find_dockerfile(folder: str, setting: str | None) -> tuple[str | None, dt.datetime | None]:
    """The folder's Dockerfile (see resolve.dockerfile_candidates) and when it last changed."""
    for path in dockerfile_candidates(folder, setting):
        found = _modified(path)
        if found[0] is not None:
            return found
    return None, None


def _modified(path: str | None) -> tuple[str | None, dt.datetime | None]:
    """(path, when it last changed) for a regular file, else (None, None)."""
    try:
        st = os.stat(path) if path else None
    except OSError:
        return None, None
    if st is None or not stat.S_ISREG(st.st_mode):
        return None, None
    return path, dt.datetime.fromtimestamp(st.st_mtime, dt.UTC)


def _key(b: Backend) -> tuple[str, str, float, str | None]:
    return (b.name, b.cli, b.timeout, b.context)


# userEnvProbe results, per (backend, container, start time, user, kind): see user_env.
_USER_ENV: dict[tuple[Any, ...], tuple[dict[str, str] | None, str | None]] = {}


async def resolve_folders(
    folders: list[tuple[Folder, Settings]], round_: ProbeRound | None = None
) -> list[FolderStatus]:
    """Resolve every folder concurrently (shared probe calls)."""
    round_ = round_ or ProbeRound()
    now = utc_now()

    async def one(folder: Folder, settings: Settings) -> FolderStatus:
        # Hard deadline for the whole folder: a few probes, each bounded by probeTimeout.
        try:
            async with asyncio.timeout(settings.probe_timeout * 4 + 1):
                probe = await round_.probe(folder, settings)
        except TimeoutError:
            probe = Probe(error=f"probing took longer than {settings.probe_timeout * 4 + 1:g} s")
        return resolve(folder, settings, probe, checked_at=now)

    return list(await asyncio.gather(*(one(f, s) for f, s in folders)))
