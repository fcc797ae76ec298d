"""The data of runtime resolution: what probes found and what a folder resolved to.

Plain attrs classes; JSON (camelCase, CONTRACT §4) goes through ``CONVERTER``.
Unknown or absent parts are ``None`` or ``[]``, never left out.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

Mode = Literal["container", "host"]
Requested = Literal["auto", "container", "host"]
SystemState = Literal["running", "not-running", "missing", "unknown"]
ServerState = Literal["starting", "running", "restarting", "failed", "stopped"]


@attrs.frozen
class Mount:
    host: str
    container: str
    read_only: bool = False
    # "bind" (a host folder: mapped both ways), or "volume", "tmpfs", ... (storage of the
    # runtime's own: what lies below the destination exists only in the container).
    type: str = "bind"

    @property
    def is_bind(self) -> bool:
        return self.type == "bind"


@attrs.frozen
class ContainerRecord:
    """One container as a backend's CLI describes it (normalised across backends)."""

    id: str
    name: str
    state: str  # running | stopped | exited | created | paused | stopping | unknown ...
    image: str | None = None
    image_id: str | None = None
    ip: str | None = None
    mounts: tuple[Mount, ...] = ()
    labels: dict[str, str] = attrs.field(factory=dict)
    created: dt.datetime | None = None
    started: dt.datetime | None = None
    ports: tuple[PortBinding, ...] = ()
    env: dict[str, str] = attrs.field(factory=dict)  # Config.Env: the container's environment
    user: str | None = None  # Config.User: who its processes run as by default

    @property
    def running(self) -> bool:
        return self.state == "running"


@attrs.frozen
class PortBinding:
    container_port: int
    protocol: str = "tcp"
    host_ip: str | None = None
    host_port: int | None = None


@attrs.frozen
class ImageRecord:
    reference: str
    id: str | None = None
    created: dt.datetime | None = None


@attrs.define
class ContainerInfo:
    id: str
    state: str
    image: str | None = None
    ip: str | None = None
    name: str | None = None
    created: str | None = None
    # Extensions (docs/protocol.md): how the container was found ("setting", "mount",
    # "label ai.sero.workspacePath", "label devcontainer.local_folder", "compose"), and the
    # user and environment every exec into it uses (Dev Containers' remoteUser/remoteEnv).
    found_by: str | None = None
    exec_user: str | None = None
    exec_env: dict[str, str] = attrs.field(factory=dict)


@attrs.define
class RuntimeInfo:
    backend: str | None = None
    cli: str | None = None
    system: SystemState = "unknown"
    container: ContainerInfo | None = None
    mounts: list[Mount] = attrs.field(factory=list)
    context: str | None = None  # extension: the `containerContext` every CLI call names


@attrs.define
class DevcontainerInfo:
    """A Dev Container (containers.dev): its config file, and what its metadata asks for."""

    config_file: str | None  # host path of devcontainer.json (the label's, else the folder's)
    local_folder: str | None = None  # the `devcontainer.local_folder` label
    workspace_folder: str | None = None  # where the folder is inside (from the mount)
    remote_user: str | None = None
    container_user: str | None = None
    user_env_probe: str | None = None
    remote_env: dict[str, str] = attrs.field(factory=dict)
    container_env: dict[str, str] = attrs.field(factory=dict)
    probe_error: str | None = None  # why the userEnvProbe gave nothing, when it failed


@attrs.define
class ComposeInfo:
    """The Docker Compose project a container belongs to."""

    project: str
    service: str | None
    working_dir: str
    services: list[str] = attrs.field(factory=list)  # every service of the project seen


@attrs.define
class Capability:
    id: str
    available: bool
    requires: Literal["container", "any"]
    reason: str | None = None


@attrs.define
class ServerEntry:
    id: str
    languages: list[str] = attrs.field(factory=list)
    mode: Mode | None = None
    state: ServerState = "starting"
    pid: int | None = None
    restarts: int = 0
    reason: str | None = None
    message: str | None = None


@attrs.define
class DockerfileInfo:
    """The Dockerfile the workspace image is built from, and whether the image predates it."""

    path: str  # host path
    modified: str | None  # ISO-8601 UTC
    image: str | None = None  # the image compared with it
    image_created: str | None = None
    stale: bool = False


@attrs.define
class TrustInfo:
    """Whether the folder's `.sero/config.toml` may run what it names (runtime/trust.py)."""

    state: Literal["trusted", "untrusted"]
    config: str  # the file's host path
    sha256: str  # of its current content
    ignored: list[str] = attrs.field(factory=list)  # keys held back (dotted), while untrusted
    changed: bool = False  # trusted before with another content: the edit revoked it
    line: int = 0  # 0-based line of the first key that runs something


@attrs.define
class FolderStatus:
    uri: str
    name: str
    requested: Requested
    mode: Mode
    degraded: bool
    reason: str | None
    message: str
    remedy: list[str] = attrs.field(factory=list)
    runtime: RuntimeInfo = attrs.field(factory=RuntimeInfo)
    capabilities: list[Capability] = attrs.field(factory=list)
    servers: list[ServerEntry] = attrs.field(factory=list)
    checked_at: str | None = None
    # Extensions to CONTRACT §4 (documented in docs/protocol.md).
    stale: list[str] = attrs.field(factory=list)
    dockerfile: DockerfileInfo | None = None
    trust: TrustInfo | None = None  # None: the folder's config names nothing to run
    devcontainer: DevcontainerInfo | None = None
    compose: ComposeInfo | None = None

    def same_as(self, other: FolderStatus | None) -> bool:
        """Equal apart from ``checkedAt`` (a change of the time alone is not a change)."""
        if other is None:
            return False
        return attrs.evolve(self, checked_at=None) == attrs.evolve(other, checked_at=None)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.capitalize() for p in rest)


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(omit_if_default=False)
    classes = (
        Mount,
        ContainerInfo,
        RuntimeInfo,
        Capability,
        ServerEntry,
        DockerfileInfo,
        TrustInfo,
        DevcontainerInfo,
        ComposeInfo,
    )
    for cls in (*classes, FolderStatus):
        overrides = {a.name: override(rename=_camel(a.name)) for a in attrs.fields(cls)}
        conv.register_unstructure_hook(cls, make_dict_unstructure_fn(cls, conv, **overrides))  # type: ignore[arg-type]
        conv.register_structure_hook(cls, make_dict_structure_fn(cls, conv, **overrides))  # type: ignore[arg-type]
    conv.register_unstructure_hook(dt.datetime, lambda d: d.isoformat())
    conv.register_structure_hook(dt.datetime, lambda v, _: dt.datetime.fromisoformat(v))
    return conv


CONVERTER = _make_converter()


def to_json(status: FolderStatus) -> dict[str, Any]:
    out: dict[str, Any] = CONVERTER.unstructure(status)
    # Capabilities say "reason" only when unavailable; servers only when they have one.
    for cap in out["capabilities"]:
        if cap["reason"] is None:
            del cap["reason"]
    return out


def from_json(data: Any) -> FolderStatus | None:
    """A FolderStatus from its JSON (e.g. the status cache); None when it does not read as
    one (written by another version)."""
    try:
        status: FolderStatus = CONVERTER.structure(data, FolderStatus)
    except Exception:  # cattrs raises ClassValidationError and friends, with causes inside
        return None
    return status


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
