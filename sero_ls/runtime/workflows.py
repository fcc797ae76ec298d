"""Sero workflows on top of a folder's status: its terminal, its preview URLs, its logs.

Pure decisions over plain data (FolderStatus, a fresh ContainerRecord, a log folder's
listing); the LSP layer (sero_ls/lsp/workflow_requests.py) gathers the inputs. JSON shapes are
documented in docs/protocol.md.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import os
import pwd
import re
from pathlib import Path
from typing import Any

from sero_ls.runtime.backends import backend_for
from sero_ls.runtime.capabilities import CONTAINER_ONLY
from sero_ls.runtime.discovery import container_path
from sero_ls.runtime.model import ContainerRecord, FolderStatus, PortBinding

__all__ = ["container_path", "preview_url", "resolve_terminal"]

# The shell opened inside a container: bash when the image has it, else sh; a login shell,
# so the image's profile applies. A constant script: no path is ever interpolated into it.
CONTAINER_SHELL = (
    "sh",
    "-c",
    "if command -v bash >/dev/null 2>&1; then exec bash -l; fi; exec sh -l",
)
LOG_DIR_ENV = "SERO_LS_LOG_DIR"
DEFAULT_LOG_DIR = "/tmp"
KNOWN_LOGS = (
    ("vite", "sero-vite.log"),
    ("electron", "sero-electron.log"),
    ("web-remote-watch", "sero-web-remote-watch.log"),
)
PLUGIN_LOG = re.compile(r"^sero-remote-(?P<plugin>.+)\.log$")


# ---------------------------------------------------------------- paths


# ---------------------------------------------------------------- terminal


def host_shell(environ: dict[str, str] | None = None) -> str:
    """The user's shell: $SHELL, else the password database's, else /bin/sh."""
    env = os.environ if environ is None else environ
    shell = env.get("SHELL")
    if shell:
        return shell
    try:
        return pwd.getpwuid(os.getuid()).pw_shell or "/bin/sh"
    except KeyError:
        return "/bin/sh"


def resolve_terminal(
    status: FolderStatus, folder_path: str, directory: str, shell: str
) -> dict[str, Any]:
    """The shell to open for a folder (CONTRACT §5 `sero/resolveTerminal`).

    Container mode: an interactive exec shell (`-i -t`, the editor's terminal is the TTY) in
    the container at the directory's mapped path. Host mode: the user's shell in the folder.
    ``argv`` is run as given (no shell in between); ``cwd`` is on the host."""
    rt = status.runtime
    backend = backend_for(rt, 5.0)
    if status.mode == "container" and rt.container and backend is not None:
        inside = container_path(rt.mounts, directory)
        if inside is not None:
            c = rt.container  # a Dev Container's shell: its remoteUser, with its remoteEnv
            argv = backend.exec_argv(
                c.id, list(CONTAINER_SHELL), cwd=inside, env=c.exec_env, user=c.exec_user,
                interactive=True, tty=True,
            )  # fmt: skip
            return {
                "mode": "container",
                "argv": argv,
                "cwd": folder_path,
                "env": {},
                "container": rt.container.id,
                "containerCwd": inside,
                "title": f"{rt.container.id}: {inside}",
                "user": c.exec_user,
                "message": f"A shell in {c.id} ({rt.backend}) at {inside}"
                + (f" as {c.exec_user}." if c.exec_user else "."),
            }
        why = f"no mount of {rt.container.id} covers {directory}"
    elif status.mode == "container":
        why = "the container is not known"
    else:
        why = status.message
    return {
        "mode": "host",
        "argv": [shell],
        "cwd": directory,
        "env": {},
        "container": None,
        "containerCwd": None,
        "user": None,
        "title": f"{os.path.basename(shell)}: {directory}",
        "message": f"A host shell in {directory}: {why}",
    }


# ---------------------------------------------------------------- preview URLs


def _host_for_url(host: str) -> str:
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return host
    if addr.is_unspecified:  # published on every interface: the loopback one answers
        return "localhost"
    return f"[{host}]" if addr.version == 6 else host


def published(ports: tuple[PortBinding, ...], port: int) -> str | None:
    """`http://HOST:PORT` where the runtime publishes the container's TCP `port` (or None)."""
    for b in ports:
        if b.container_port == port and b.protocol == "tcp" and b.host_port:
            return f"http://{_host_for_url(b.host_ip or '0.0.0.0')}:{b.host_port}"
    return None


def preview_url(
    status: FolderStatus, port: int, record: ContainerRecord | None = None
) -> dict[str, Any]:
    """Where a dev server on ``port`` is reached (CONTRACT §5 `sero/previewUrl`).

    Container mode: the container's IP from the runtime's network data (``record`` is a
    fresh inspect; the status's IP otherwise). Docker and Podman reach containers from the
    host through published ports (Docker Desktop and podman machine cannot route to the
    container IP), so a published port is the answer there when there is one; Apple's
    containers have their own routable IP, and their published ports
    (`configuration.publishedPorts`) answer when they have none. Host mode: localhost, and
    `managed-preview` (container-IP URLs) is unavailable, which the answer says."""
    if status.mode != "container":
        reason = status.reason or "runtime-host-selected"
        return {
            "url": f"http://localhost:{port}",
            "mode": "host",
            "via": "localhost",
            "containerIp": None,
            "containerUrl": None,
            "publishedUrl": None,
            "managedPreview": {"available": False, "reason": reason},
            "message": f"Host mode: managed-preview ({CONTAINER_ONLY['managed-preview']}) is "
            f"unavailable ({reason}); a host dev server on port {port} is at localhost.",
        }
    rt = status.runtime
    # a fresh inspect is the truth: a container that lost its address has none now
    ip = record.ip if record else (rt.container.ip if rt.container else None)
    container_url = f"http://{_host_for_url(ip)}:{port}" if ip else None
    published_url = published(record.ports, port) if record else None
    name = rt.container.id if rt.container else "the container"
    url: str | None
    via: str | None
    if rt.backend in ("docker", "podman") and published_url:
        url, via = published_url, "published"
    elif container_url:
        url, via = container_url, "container-ip"
    else:
        url, via = published_url, "published" if published_url else None
    if url is None:
        message = (
            f"{name} has no network address and publishes no port {port}: recreate it on a "
            "network (or with the port published) to reach a dev server in it."
        )
    elif via == "published":
        message = f"Port {port} of {name} is published at {url}."
    else:
        message = f"Port {port} of {name} on its container IP: {url}."
    return {
        "url": url,
        "mode": "container",
        "via": via,
        "containerIp": ip,
        "containerUrl": container_url,
        "publishedUrl": published_url,
        "managedPreview": {"available": True, "reason": None},
        "message": message,
    }


# ---------------------------------------------------------------- logs


def log_dir(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return Path(env.get(LOG_DIR_ENV) or DEFAULT_LOG_DIR)


def own_log_file() -> str | None:
    """The file sero-ls logs to (`--log-file`), None when it logs to stderr."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            return handler.baseFilename
    return None


def log_entry(name: str, kind: str, path: str | None) -> dict[str, Any]:
    size = modified = None
    exists = False
    if path is not None:
        try:
            st = os.stat(path)
        except OSError:
            pass
        else:
            exists = True
            size = st.st_size
            when = dt.datetime.fromtimestamp(st.st_mtime, dt.UTC).replace(microsecond=0)
            modified = when.isoformat().replace("+00:00", "Z")
    return {
        "name": name,
        "kind": kind,
        "path": path,
        "exists": exists,
        "size": size,
        "modified": modified,
    }


def list_logs(
    directory: Path, own_log: str | None, trace_file: str | None = None
) -> list[dict[str, Any]]:
    """Sero's known logs (always listed, present or not), every plugin's remote log found,
    then sero-ls's own, and its message trace while one is written."""
    out = [log_entry(name, "sero", str(directory / file)) for name, file in KNOWN_LOGS]
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        names = []
    for file in names:
        m = PLUGIN_LOG.match(file)
        if m:
            out.append(log_entry(f"remote-{m.group('plugin')}", "plugin", str(directory / file)))
    out.append(log_entry("sero-ls", "sero-ls", own_log))
    if trace_file is not None:
        out.append(log_entry("sero-ls-trace", "sero-ls-trace", trace_file))
    return out
