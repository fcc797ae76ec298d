"""Sero workflows over LSP: `sero/resolveTerminal`, `sero/previewUrl`, `sero/logs`, and the
Warning on a Dockerfile the workspace image predates (shapes in docs/protocol.md)."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from sero_ls import trace
from sero_ls.lsp.diagnostics import SOURCE
from sero_ls.lsp.params import param
from sero_ls.runtime import reasons as R
from sero_ls.runtime.backends import backend_for
from sero_ls.runtime.invoke import ProbeError
from sero_ls.runtime.model import ContainerRecord, FolderStatus
from sero_ls.runtime.workflows import (
    host_shell,
    list_logs,
    log_dir,
    own_log_file,
    preview_url,
    resolve_terminal,
)
from sero_ls.uris import path_to_uri, uri_to_path

if TYPE_CHECKING:
    from sero_ls.lsp.server import SeroLanguageServer
    from sero_ls.runtime.manager import FolderState

log = logging.getLogger(__name__)


def dockerfile_diagnostics(status: FolderStatus) -> dict[str, list[types.Diagnostic]]:
    """A Warning on the Dockerfile when the workspace image was built before its last change."""
    df = status.dockerfile
    if df is None or not df.stale:
        return {}
    image = df.image or "the workspace image"
    lines = [
        f"{image} was built ({df.image_created}) before this Dockerfile was last changed "
        f"({df.modified}): rebuild the image and recreate the workspace containers "
        "(existing containers do not receive changes made to the Dockerfile)."
    ]
    if status.remedy:
        lines.append("Fix: " + " ; ".join(status.remedy))
    diag = types.Diagnostic(
        range=types.Range(types.Position(0, 0), types.Position(0, 0)),
        message="\n".join(lines),
        severity=types.DiagnosticSeverity.Warning,
        source=SOURCE,
        code=R.STALE,
        data={"folderUri": status.uri, "remedy": status.remedy},
    )
    return {path_to_uri(df.path): [diag]}


async def _folder(ls: SeroLanguageServer, uri: str) -> tuple[FolderState, FolderStatus]:
    st = ls.manager.folder_for(uri)
    if st is None:
        raise JsonRpcInvalidParams(f"{uri} is not in a workspace folder")
    if st.status is None:  # asked before the first resolution finished
        await ls.manager.refresh([st.folder.uri], reload=False)
    if st.status is None:
        raise JsonRpcInvalidParams(f"{uri}: the folder is not resolved yet")
    return st, st.status


def _directory(uri: str, folder_path: str) -> str:
    """The folder, or the directory inside it that ``uri`` names (a file's own directory)."""
    path = uri_to_path(uri)
    if not path or not (path == folder_path or path.startswith(folder_path.rstrip("/") + "/")):
        return folder_path
    if not os.path.isdir(path):
        path = os.path.dirname(path)
    return path if os.path.isdir(path) else folder_path


async def _fresh_record(status: FolderStatus, probe_timeout: float) -> ContainerRecord | None:
    """The container as its runtime describes it now (its IP and ports change on restart)."""
    rt = status.runtime
    backend = backend_for(rt, probe_timeout)
    if status.mode != "container" or backend is None or rt.container is None:
        return None
    try:
        return await backend.inspect(rt.container.id)
    except ProbeError as exc:
        log.info("inspect for a preview URL failed (the cached status answers): %s", exc)
        return None


def register(ls: SeroLanguageServer) -> None:
    @ls.feature("sero/resolveTerminal")
    async def resolve_terminal_request(ls: SeroLanguageServer, params: Any) -> dict[str, Any]:
        uri = param(params, "uri", str, required=True)
        st, status = await _folder(ls, uri)
        directory = _directory(uri, st.folder.path)
        return resolve_terminal(status, st.folder.path, directory, host_shell())

    @ls.feature("sero/previewUrl")
    async def preview_url_request(ls: SeroLanguageServer, params: Any) -> dict[str, Any]:
        uri = param(params, "uri", str, required=True)
        port = param(params, "port", int, required=True)
        if not 0 < port < 65536:
            raise JsonRpcInvalidParams(f"'port' must be between 1 and 65535, not {port}")
        st, status = await _folder(ls, uri)
        return preview_url(status, port, await _fresh_record(status, st.settings.probe_timeout))

    @ls.feature("sero/logs")
    async def logs_request(ls: SeroLanguageServer, params: Any) -> dict[str, Any]:
        if params is not None and not isinstance(params, dict):
            param(params, "uri", str)  # raises the usual "params must be an object"
        return {"logs": list_logs(log_dir(), own_log_file(), trace.current_file())}
