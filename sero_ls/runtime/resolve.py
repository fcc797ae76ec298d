"""Deciding a folder's runtime: a pure function of what the probes found.

``resolve(folder, settings, probe)`` -> FolderStatus. No processes, no clock
(``checked_at`` is passed in), so every branch is tested on plain data.
"""

from __future__ import annotations

import datetime as dt
import os
import posixpath
import shlex
import sys

import attrs

from sero_ls.runtime import reasons as R
from sero_ls.runtime.backends.base import Backend, make_backend
from sero_ls.runtime.capabilities import capabilities_for
from sero_ls.runtime.devcontainer import (
    CONFIG_FILE_LABEL,
    LOCAL_FOLDER_LABEL,
    METADATA_LABEL,
    exec_identity,
    is_devcontainer,
    merge_metadata,
    up_command,
)
from sero_ls.runtime.discovery import (
    WORKSPACE_LABEL,
    Match,
    container_path,
    covering_mount,
    find_workspace_container,
)
from sero_ls.runtime.model import (
    ContainerInfo,
    ContainerRecord,
    DevcontainerInfo,
    DockerfileInfo,
    FolderStatus,
    ImageRecord,
    Mount,
    RuntimeInfo,
    SystemState,
)
from sero_ls.settings import Settings

__all__ = ["WORKSPACE_LABEL", "Match", "covering_mount", "find_workspace_container"]

# Where Sero keeps the workspace image's Dockerfile, relative to the folder (first found wins).
DOCKERFILE_CANDIDATES = ("apps/desktop/images/Dockerfile.sero-node", "Dockerfile.sero-node")


@attrs.frozen
class Folder:
    uri: str
    path: str  # absolute host path
    name: str


@attrs.frozen
class Probe:
    """What the effects found for one folder (see probe.py)."""

    backend: Backend | None = None  # the chosen backend (its CLI located), None when none is
    searched: tuple[str, ...] = ()  # CLIs looked for, for the message when none was found
    wanted_backend: str | None = None  # the backend that would have been used (for remedies)
    system: SystemState = "unknown"
    system_detail: str | None = None
    containers: tuple[ContainerRecord, ...] | None = None
    image: ImageRecord | None = None  # the workspace image (when looked up)
    container_image: ImageRecord | None = None  # the found container's own image
    error: str | None = None  # a probe that failed: timeout, unparseable output
    failed_command: str | None = None
    dockerfile: str | None = None  # the Dockerfile the image is built from (host path)
    dockerfile_modified: dt.datetime | None = None
    # Dev Containers: the folder's own devcontainer.json, and what the userEnvProbe found.
    devcontainer_config: str | None = None
    user_env: dict[str, str] | None = None
    user_env_error: str | None = None
    dockerfile_image: str | None = None  # the image the Dockerfile builds, when not `image`'s


def dockerfile_candidates(folder: str, setting: str | None) -> list[str]:
    """Host paths where the folder's Dockerfile may be: the `dockerfile` setting (absolute, or
    relative to the folder) alone when set, else Sero's own places in the folder."""
    if setting:
        return [posixpath.normpath(posixpath.join(folder, setting))]
    return [posixpath.join(folder, c) for c in DOCKERFILE_CANDIDATES]


def container_name_for(folder: Folder) -> str:
    """`sero-<folder name>`, within every runtime's name rules (Apple's are the strictest:
    `^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`, at most 63 characters)."""
    base = "".join(
        ch if (ch.isascii() and ch.isalnum()) or ch in "_.-" else "-" for ch in folder.name.lower()
    )
    base = "-".join(part for part in base.split("-") if part).strip(".")
    return ("sero-" + base if base else "sero-workspace")[:63].rstrip("-.")


def resolve(
    folder: Folder, settings: Settings, probe: Probe, *, checked_at: str | None = None
) -> FolderStatus:
    requested = settings.runtime
    if requested == "host":
        return _status(
            folder,
            settings,
            probe,
            mode="host",
            reason=R.HOST_SELECTED,
            message="Host mode (selected); container-only features are off by choice.",
            checked_at=checked_at,
        )
    b = probe.backend
    if probe.error:
        what = f"the {b.name} runtime" if b else "the container runtime"
        return _status(
            folder, settings, probe, mode="host", reason=R.PROBE_FAILED,
            message=f"Could not check {what}: {probe.error}",
            remedy=[probe.failed_command] if probe.failed_command else [],
            checked_at=checked_at,
        )  # fmt: skip
    if b is None:
        looked = ", ".join(probe.searched) or "a container CLI"
        hint, remedy = _install_remedy(settings, probe)
        return _status(
            folder, settings, probe, mode="host", reason=R.CLI_MISSING,
            message=f"No container CLI found (looked for {looked}); install {hint}.",
            remedy=remedy, checked_at=checked_at,
        )  # fmt: skip
    if probe.system != "running":
        detail = f" ({probe.system_detail})" if probe.system_detail else ""
        return _status(
            folder, settings, probe, mode="host", reason=R.SYSTEM_NOT_RUNNING,
            message=f"The {b.name} container system is not running{detail}.",
            remedy=b.remedy_system(), checked_at=checked_at,
        )  # fmt: skip
    match = find_workspace_container(
        folder.path, probe.containers or (), settings.container, settings.service
    )
    c = match.container
    if c is None:
        return _no_container(folder, settings, probe, match, b, checked_at)
    stale = _Staleness.of(folder, settings, probe, c)
    if not c.running:
        return _status(
            folder, settings, probe, mode="host", reason=R.NOT_RUNNING, match=match,
            message=f"The workspace container {c.name} is {c.state}.",
            remedy=[b.cmd("start", c.name or c.id)], staleness=stale, checked_at=checked_at,
        )  # fmt: skip
    if is_devcontainer(c):  # the Dev Containers CLI recreates it from its config
        up = up_command(c.labels.get(LOCAL_FOLDER_LABEL) or folder.path, b.name, b.cli)
        recreate = [shlex.join([*up, "--remove-existing-container"])]
    else:
        recreate = [
            b.cmd(*b.remove_args(c.name or c.id)),
            b.cmd(*b.create_args(c.name or c.id, folder.path, c.image or settings.image)),
        ]
    if covering_mount(c.mounts, folder.path) is None:
        remote = (
            f" The engine is reached through the context {b.context!r}: path mapping needs "
            "this folder mounted from this machine, and a remote engine's mounts name paths on "
            "its own machine."
            if b.context
            else ""
        )
        return _status(
            folder, settings, probe, mode="host", reason=R.NOT_MOUNTED, match=match,
            message=f"The container {c.name} runs but no mount covers {folder.path}.{remote}",
            remedy=[*stale.rebuild, *recreate], staleness=stale, checked_at=checked_at,
        )  # fmt: skip
    if stale.messages:
        return _status(
            folder, settings, probe, mode="container", reason=R.STALE, match=match,
            message=f"Container-backed ({b.name}): {c.name} running, but "
            + " Also, ".join(stale.messages),
            remedy=[*stale.rebuild, *recreate], staleness=stale, checked_at=checked_at,
        )  # fmt: skip
    return _status(
        folder, settings, probe, mode="container", reason=None, match=match,
        message=f"Container-backed ({b.name}): {c.name} running{_found_by(match)}",
        staleness=stale, checked_at=checked_at,
    )  # fmt: skip


def _found_by(match: Match) -> str:
    if match.compose is not None and match.compose.service:
        return f" (Compose project {match.compose.project}, service {match.compose.service})"
    if match.via == f"label {LOCAL_FOLDER_LABEL}":
        return " (Dev Container)"
    return ""


def _no_container(
    folder: Folder,
    settings: Settings,
    probe: Probe,
    match: Match,
    b: Backend,
    checked_at: str | None,
) -> FolderStatus:
    """The folder has no container: which one to make (a tie, a Compose service, a Dev
    Container, or Sero's own workspace container)."""
    if match.tie:
        choose = "`service`" if match.via == "compose" else "`container`"
        return _status(
            folder, settings, probe, mode="host", reason=R.AMBIGUOUS, match=match,
            message=f"Several containers match this folder equally: {', '.join(match.tie)}; "
            f"set the {choose} setting to choose one.",
            remedy=[], checked_at=checked_at,
        )  # fmt: skip
    compose = match.compose
    if compose is not None and settings.service:
        have = ", ".join(compose.services) or "none running"
        up = [b.display_cli, *b.base_argv[1:], "compose", "--project-directory",
              compose.working_dir, "up", "-d", settings.service]  # fmt: skip
        return _status(
            folder, settings, probe, mode="host", reason=R.CONTAINER_MISSING, match=match,
            message=f"The Compose project {compose.project} has no container for the service "
            f"{settings.service!r} (services: {have}).",
            remedy=[shlex.join(up)], checked_at=checked_at,
        )  # fmt: skip
    if probe.devcontainer_config and not settings.container:
        up = up_command(folder.path, b.name, b.cli)
        return _status(
            folder, settings, probe, mode="host", reason=R.CONTAINER_MISSING,
            message=f"No container for this folder's Dev Container ({probe.devcontainer_config}"
            f", {b.name}).",
            remedy=[shlex.join(up)], checked_at=checked_at,
        )  # fmt: skip
    create = b.cmd(*b.create_args(container_name_for(folder), folder.path, settings.image))
    if probe.image is None and not settings.container:
        return _status(
            folder, settings, probe, mode="host", reason=R.IMAGE_MISSING,
            message=f"No workspace container, and the image {settings.image} is not present.",
            remedy=[b.cmd(*b.build_args(settings.image, settings.dockerfile)), create],
            checked_at=checked_at,
        )  # fmt: skip
    what = (
        f"No container named {settings.container!r}"
        if settings.container
        else "No workspace container for this folder"
    )
    if b.context:
        what += f" on the engine of context {b.context!r}"
    stale = _Staleness.of(folder, settings, probe, None)
    return _status(
        folder, settings, probe, mode="host", reason=R.CONTAINER_MISSING,
        message=f"{what} ({b.name}).", remedy=[*stale.rebuild, create],
        staleness=stale, checked_at=checked_at,
    )  # fmt: skip


def _day(when: dt.datetime) -> str:
    return f"{when.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC"


def _iso(when: dt.datetime | None) -> str | None:
    if when is None:
        return None
    return when.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _same_id(a: str | None, b: str | None) -> bool:
    return bool(a and b) and (a or "").removeprefix("sha256:") == (b or "").removeprefix("sha256:")


def container_stale(c: ContainerRecord, image: ImageRecord | None) -> str | None:
    """Why the container predates its image's last rebuild (None when it does not).

    ``image`` is what the container's image reference names *now*: when the container still
    runs that very image (same id), it is current whatever the clocks say."""
    if image is None or image.created is None or c.created is None:
        return None
    if _same_id(c.image_id, image.id) or image.created <= c.created:
        return None
    ref = c.image or image.reference
    return (
        f"it was created ({_day(c.created)}) before its image {ref} was last rebuilt "
        f"({_day(image.created)}): existing containers do not receive changes to the image; "
        "recreate it."
    )


@attrs.frozen
class _Staleness:
    """What is out of date for a folder: its container, its image, or both."""

    messages: list[str]
    dockerfile: DockerfileInfo | None = None
    rebuild: list[str] = attrs.field(factory=list)  # the image's build command, when stale

    @classmethod
    def of(
        cls, folder: Folder, settings: Settings, probe: Probe, c: ContainerRecord | None
    ) -> _Staleness:
        messages = []
        if c is not None:
            why = container_stale(c, probe.container_image)
            if why:
                messages.append(why)
        # The Dockerfile builds the workspace image (the `image` setting).
        info, rebuild = None, []
        if probe.dockerfile and probe.dockerfile_modified:
            # A Dev Container's Dockerfile builds the container's own image.
            ref = probe.dockerfile_image or settings.image
            image = probe.container_image if probe.dockerfile_image else probe.image
            built = image.created if image else None
            stale = built is not None and probe.dockerfile_modified > built
            info = DockerfileInfo(
                path=probe.dockerfile,
                modified=_iso(probe.dockerfile_modified),
                image=ref if image else None,
                image_created=_iso(built),
                stale=stale,
            )
            if stale and built is not None and probe.backend is not None:
                b = probe.backend
                rel = os.path.relpath(probe.dockerfile, folder.path)
                shown = probe.dockerfile if rel.startswith("..") else rel
                if probe.dockerfile_image:
                    up = up_command(folder.path, b.name, b.cli)
                    rebuild = [shlex.join([*up, "--remove-existing-container"])]
                else:
                    rebuild = [b.cmd(*b.build_args(ref, shown))]
                messages.append(
                    f"the image {ref} was built ({_day(built)}) before {shown} was last changed "
                    f"({_day(probe.dockerfile_modified)}): rebuild it (from the folder) and "
                    "recreate the workspace containers."
                )
        return cls(messages, info, rebuild)


def _install_remedy(settings: Settings, probe: Probe) -> tuple[str, list[str]]:
    """What to install (in words) and the commands for it, for the backend the folder wanted."""
    wanted = probe.wanted_backend or settings.container_backend
    if wanted not in ("apple", "docker", "podman"):
        wanted = "apple" if sys.platform == "darwin" else "podman"
    b = make_backend(wanted, "", 1)
    return b.install_hint, b.remedy_install()


def _status(
    folder: Folder,
    settings: Settings,
    probe: Probe,
    *,
    mode: str,
    reason: str | None,
    message: str,
    remedy: list[str] | None = None,
    match: Match | None = None,
    staleness: _Staleness | None = None,
    checked_at: str | None,
) -> FolderStatus:
    b = probe.backend
    degraded = mode == "host" and settings.runtime != "host"
    caps = capabilities_for(mode, reason)  # type: ignore[arg-type]
    if degraded:
        message = f"{message} Continuing in host mode (degraded)."
    container = match.container if match else None
    info = None
    mounts: list[Mount] = []
    devcontainer = None
    if container is not None:
        info = ContainerInfo(
            id=container.name or container.id,
            state=container.state,
            image=container.image,
            ip=container.ip,
            name=container.name,
            created=container.created.isoformat() if container.created else None,
            found_by=match.via if match else None,
        )
        mounts = list(container.mounts)
        devcontainer = _devcontainer(folder, probe, container, info)
    elif probe.devcontainer_config and b is not None:
        devcontainer = DevcontainerInfo(config_file=probe.devcontainer_config)
    return FolderStatus(
        uri=folder.uri,
        name=folder.name,
        requested=settings.runtime,
        mode=mode,  # type: ignore[arg-type]
        degraded=degraded,
        reason=reason,
        message=message,
        remedy=list(dict.fromkeys(remedy or [])),
        runtime=RuntimeInfo(
            backend=b.name if b else None,
            cli=b.cli if b else None,
            system=probe.system if b else "missing",
            container=info,
            mounts=mounts,
            context=b.context if b else None,
        ),
        capabilities=caps,
        servers=[],
        checked_at=checked_at,
        stale=list(staleness.messages) if staleness else [],
        dockerfile=staleness.dockerfile if staleness else None,
        devcontainer=devcontainer,
        compose=match.compose if match else None,
    )


def _devcontainer(
    folder: Folder, probe: Probe, c: ContainerRecord, info: ContainerInfo
) -> DevcontainerInfo | None:
    """A Dev Container's metadata; sets the user and environment every exec uses (info)."""
    if not is_devcontainer(c):
        return None
    meta = merge_metadata(c.labels.get(METADATA_LABEL))
    info.exec_user, info.exec_env = exec_identity(c, meta, probe.user_env)
    return DevcontainerInfo(
        config_file=c.labels.get(CONFIG_FILE_LABEL) or probe.devcontainer_config,
        local_folder=c.labels.get(LOCAL_FOLDER_LABEL),
        workspace_folder=container_path(c.mounts, folder.path),
        remote_user=meta.remote_user,
        container_user=meta.container_user,
        user_env_probe=meta.user_env_probe,
        remote_env={k: v for k, v in meta.remote_env.items() if v is not None},
        container_env=meta.container_env,
        probe_error=probe.user_env_error or meta.problem,
    )
