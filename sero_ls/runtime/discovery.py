"""Which container is a folder's (CONTRACT §2, extended): a pure function over the list.

In order: the `container` setting; a label naming the folder (Sero's
`ai.sero.workspacePath` or the Dev Containers' `devcontainer.local_folder`, the same
rank); a Docker Compose project whose working directory covers the folder (the service
whose mount covers it, or the `service` setting's); else the most specific mount. A tie
is reported, never guessed.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence

import attrs

from sero_ls.runtime.devcontainer import LOCAL_FOLDER_LABEL
from sero_ls.runtime.model import ComposeInfo, ContainerRecord, Mount

WORKSPACE_LABEL = "ai.sero.workspacePath"
FOLDER_LABELS = (WORKSPACE_LABEL, LOCAL_FOLDER_LABEL)
COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"
COMPOSE_DIR = "com.docker.compose.project.working_dir"


@attrs.frozen
class Match:
    container: ContainerRecord | None
    via: str | None = None  # "setting" | "label <key>" | "compose" | "mount"
    tie: tuple[str, ...] = ()
    compose: ComposeInfo | None = None


def _norm(path: str) -> str:
    return posixpath.normpath(path) if path else path


def covers(source: str, folder: str) -> bool:
    source, folder = _norm(source), _norm(folder)
    return folder == source or folder.startswith(source.rstrip("/") + "/")


def covering_mount(mounts: Sequence[Mount], folder: str) -> Mount | None:
    """The mount whose host source contains ``folder``; the longest prefix wins."""
    best = None
    for m in mounts:
        if covers(m.host, folder) and (best is None or len(_norm(m.host)) > len(_norm(best.host))):
            best = m
    return best


def container_path(mounts: Sequence[Mount], host_path: str) -> str | None:
    """Where ``host_path`` is inside the container (the most specific mount), or None."""
    mount = covering_mount(mounts, host_path)
    if mount is None:
        return None
    rel = posixpath.relpath(_norm(host_path), _norm(mount.host))
    return mount.container if rel == "." else posixpath.join(mount.container, rel)


def find_workspace_container(
    folder: str,
    containers: Sequence[ContainerRecord],
    wanted: str | None,
    service: str | None = None,
) -> Match:
    if wanted:
        for c in containers:
            if wanted in (c.id, c.name) or (len(wanted) >= 12 and c.id.startswith(wanted)):
                return Match(c, "setting", compose=compose_info(c, containers))
        return Match(None, "setting")
    for key in FOLDER_LABELS:
        labelled = [c for c in containers if _norm(c.labels.get(key, "")) == _norm(folder)]
        if labelled:
            m = _pick(labelled, f"label {key}")
            return attrs.evolve(m, compose=compose_info(m.container, containers))
    project = [c for c in containers if covers(c.labels.get(COMPOSE_DIR, "") or "\0", folder)]
    if project:
        m = _compose_pick(folder, project, service)
        if m.container is not None or m.tie or service:
            return m
    best = _most_specific(folder, containers)
    return _pick(best, "mount") if best else Match(None)


def _most_specific(folder: str, containers: Sequence[ContainerRecord]) -> list[ContainerRecord]:
    best_len = -1
    best: list[ContainerRecord] = []
    for c in containers:
        m = covering_mount(c.mounts, folder)
        if m is None:
            continue
        n = len(_norm(m.host))
        if n > best_len:
            best_len, best = n, [c]
        elif n == best_len:
            best.append(c)
    return best


def _compose_pick(folder: str, project: list[ContainerRecord], service: str | None) -> Match:
    """A Compose project's container for the folder: the `service` setting's, else the one
    service whose mount covers the folder (most specific); several: a tie naming services."""
    if service:
        chosen = [c for c in project if c.labels.get(COMPOSE_SERVICE) == service]
        m = _pick(chosen, "compose") if chosen else Match(None, "compose")
    else:
        m = _pick(_most_specific(folder, project), "compose")
        if m.tie:
            named = {c.name or c.id: c.labels.get(COMPOSE_SERVICE) or "?" for c in project}
            m = attrs.evolve(m, tie=tuple(f"{n} (service {named.get(n, '?')})" for n in m.tie))
    info = compose_info(m.container or project[0], project)
    if info is not None and m.container is None:
        info = attrs.evolve(info, service=service)
    return attrs.evolve(m, compose=info)


def compose_info(
    c: ContainerRecord | None, containers: Sequence[ContainerRecord]
) -> ComposeInfo | None:
    if c is None or COMPOSE_PROJECT not in c.labels:
        return None
    project = c.labels[COMPOSE_PROJECT]
    services = {
        o.labels.get(COMPOSE_SERVICE, "")
        for o in containers
        if o.labels.get(COMPOSE_PROJECT) == project
    }
    return ComposeInfo(
        project=project,
        service=c.labels.get(COMPOSE_SERVICE),
        working_dir=c.labels.get(COMPOSE_DIR, ""),
        services=sorted(s for s in services if s),
    )


def _pick(candidates: list[ContainerRecord], via: str) -> Match:
    if not candidates:
        return Match(None, via)
    if len(candidates) == 1:
        return Match(candidates[0], via)
    running = [c for c in candidates if c.running]
    if len(running) == 1:
        return Match(running[0], via)
    return Match(None, via, tuple(sorted(c.name or c.id for c in candidates)))
