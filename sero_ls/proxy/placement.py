"""Where and how one language server runs: exec'd in its folder's container, or on the host.

A pure decision over the folder's resolved status: the argv, environment and working
directory of the process, the URI mappers between the editor's paths and the server's, and
the watchdog command that ends the server if sero-ls goes away.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Literal

import attrs

from sero_ls.proxy.connection import TELL_PID, WATCHDOG
from sero_ls.proxy.pathmap import PathMapper
from sero_ls.proxy.spec import ServerSpec
from sero_ls.proxy.urimap import UriMapper
from sero_ls.runtime.backends import make_backend
from sero_ls.runtime.model import FolderStatus
from sero_ls.runtime.resolve import Folder


@attrs.frozen
class Placement:
    mode: Literal["host", "container"]
    argv: list[str]
    env: dict[str, str]
    cwd: str | None
    watchdog: Callable[[int], list[str]]
    container_id: str | None = None
    backend: Any = None  # the container runtime's Backend, in a container
    # None: the identity (the host); else editor -> server and server -> editor.
    to_server: UriMapper | None = None
    to_client: UriMapper | None = None


def wants_container(status: FolderStatus | None) -> bool:
    return (
        status is not None
        and status.mode == "container"
        and status.runtime.container is not None
        and bool(status.runtime.backend)
        and bool(status.runtime.cli)
    )


def container_of(status: FolderStatus | None) -> str | None:
    """The container a folder's servers belong in (None: on the host)."""
    if status is None or not wants_container(status):
        return None
    assert status.runtime.container is not None
    return status.runtime.container.id


def place(
    spec: ServerSpec,
    folder: Folder,
    status: FolderStatus | None,
    *,
    probe_timeout: float = 5.0,
    force_host: bool = False,
) -> Placement:
    host_cwd = folder.path if os.path.isdir(folder.path) else None
    if status is not None and wants_container(status) and not force_host:
        rt = status.runtime
        assert rt.container is not None and rt.backend and rt.cli
        backend = make_backend(rt.backend, rt.cli, probe_timeout, rt.context)
        cid = rt.container.id
        mapper = PathMapper(cid, rt.mounts)
        cwd = mapper.host_to_container_path(folder.path)
        user, env = rt.container.exec_user, {**rt.container.exec_env, **spec.env}
        argv = backend.exec_argv(
            cid, [*TELL_PID, *spec.container_argv], cwd=cwd, env=env, user=user
        )
        return Placement(
            mode="container",
            argv=argv,
            env=dict(os.environ),
            cwd=host_cwd,
            watchdog=lambda pid: backend.exec_argv(cid, [*WATCHDOG, str(pid)], user=user),
            container_id=cid,
            backend=backend,
            to_server=mapper.to_container,
            to_client=mapper.to_host,
        )
    return Placement(
        mode="host",
        argv=list(spec.host_argv),
        env={**os.environ, **spec.env},
        cwd=host_cwd,
        watchdog=lambda pid: [*WATCHDOG, str(pid)],
    )
