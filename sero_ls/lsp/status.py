"""Runtime status over LSP: initialize/folders/configuration, `sero/workspaceStatus`,
`sero/setRuntime`, the `sero/statusChanged` push and capability diagnostics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from sero_ls.lsp.diagnostics import (
    config_uri,
    folder_diagnostics,
    server_diagnostics,
    settings_diagnostics,
)
from sero_ls.runtime import status_cache
from sero_ls.runtime.model import FolderStatus, to_json
from sero_ls.uris import path_to_uri

if TYPE_CHECKING:
    from sero_ls.lsp.server import SeroLanguageServer

log = logging.getLogger(__name__)

RUNTIMES = ("auto", "container", "host")


def param(params: Any, key: str, kind: type | tuple[type, ...], *, required: bool = False) -> Any:
    """One field of a custom request's params, or InvalidParams saying what is wrong."""
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise JsonRpcInvalidParams(f"params must be an object, not {type(params).__name__}")
    value = params.get(key)
    if value is None:
        if required:
            raise JsonRpcInvalidParams(f"missing required parameter {key!r}")
        return None
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise JsonRpcInvalidParams(f"{key!r} must be {_kind_name(kind)}, not a boolean")
    if not isinstance(value, kind):
        raise JsonRpcInvalidParams(f"{key!r} must be {_kind_name(kind)}, not {value!r:.60}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        list: "a list",
        dict: "an object",
    }
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def push_status(ls: SeroLanguageServer, changed: list[FolderStatus] | None = None) -> None:
    """Send `sero/statusChanged` with every folder, and update the diagnostics."""
    statuses = ls.manager.statuses()
    ls.notify_raw("sero/statusChanged", {"folders": [to_json(s) for s in statuses]})
    status_cache.store_statuses(statuses)  # for `sero-ls status` outside the editor
    publish_diagnostics(ls)


def publish_diagnostics(ls: SeroLanguageServer) -> None:
    from sero_ls.lsp.workflows import dockerfile_diagnostics  # (workflows imports this module)

    wanted: dict[str, list[types.Diagnostic]] = {}
    for st in ls.manager.folders.values():
        if st.status is not None:
            (status,) = ls.manager.statuses(st.folder.uri) or [st.status]
            wanted[st.folder.uri] = folder_diagnostics(status) + server_diagnostics(status)
            for uri, diags in dockerfile_diagnostics(status).items():  # see lsp/workflows.py
                wanted.setdefault(uri, []).extend(diags)
        wanted[config_uri(st.folder.uri)] = settings_diagnostics(st.problems)
    for uri in set(ls.published) - set(wanted):
        wanted[uri] = []  # a folder that went away: clear what we said about it
    for uri, diags in wanted.items():
        if ls.published.get(uri, []) == diags:
            continue
        ls.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=diags)
        )
        if diags:
            ls.published[uri] = diags
        else:
            ls.published.pop(uri, None)


async def pull_configuration(ls: SeroLanguageServer) -> None:
    """Ask the client for section `sero` scoped to each folder (when it can answer)."""
    caps = ls.client_capabilities
    if not (caps and caps.workspace and caps.workspace.configuration):
        return
    uris = list(ls.manager.folders)
    if not uris:
        return
    try:
        result = await ls.workspace_configuration_async(
            types.ConfigurationParams(
                items=[types.ConfigurationItem(scope_uri=u, section="sero") for u in uris]
            )
        )
    except Exception as exc:
        log.warning("workspace/configuration failed: %s", exc)
        return
    for uri, value in zip(uris, result or [], strict=False):
        value = _plain(value)
        ls.manager.set_client_settings(uri, value if isinstance(value, dict) else None)


def _plain(value: Any) -> Any:
    """Results of requests we send come back as namedtuples in pygls: make them dicts."""
    if hasattr(value, "_asdict"):
        return {k: _plain(v) for k, v in value._asdict().items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def register(ls: SeroLanguageServer) -> None:
    from sero_ls.lsp.server import settings_from_init_options

    @ls.feature(types.INITIALIZE)
    async def initialize(ls: SeroLanguageServer, params: types.InitializeParams) -> None:
        ls.manager.init_settings = settings_from_init_options(params.initialization_options)
        folders: list[tuple[str, str | None]] = []
        if params.workspace_folders:
            folders = [(f.uri, f.name) for f in params.workspace_folders]
        elif params.root_uri:
            folders = [(params.root_uri, None)]
        elif params.root_path:
            folders = [(path_to_uri(params.root_path), None)]
        elif ls.hub.wrapper is not None:  # wrapper mode: --folder, else the working directory
            folders = [(path_to_uri(ls.default_folder or os.getcwd()), None)]
        ls.manager.set_folders(folders)
        if params.process_id:
            ls.client_pid = params.process_id
            ls.spawn(ls.watch_client_pid(params.process_id))
        await ls.manager.refresh(reload=False)
        await ls.apply_trace_setting()  # before the servers start: their initialize is traced
        await ls.hub.sync_folders()  # start the language servers: their capabilities are ours

    @ls.feature(types.INITIALIZED)
    async def initialized(ls: SeroLanguageServer, params: types.InitializedParams) -> None:
        ls.spawn(_after_initialized(ls))

    @ls.feature(types.SHUTDOWN)
    async def shutdown(ls: SeroLanguageServer, params: Any) -> None:
        await ls.cleanup()

    @ls.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    async def folders_changed(
        ls: SeroLanguageServer, params: types.DidChangeWorkspaceFoldersParams
    ) -> None:
        for f in params.event.removed:
            ls.manager.remove_folder(f.uri)
        added = [f.uri for f in params.event.added]
        for f in params.event.added:
            ls.manager.add_folder(f.uri, f.name)
        await pull_configuration(ls)
        await ls.manager.refresh(added)
        push_status(ls)
        for hook in ls.folder_hooks:
            await hook()

    @ls.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def configuration_changed(
        ls: SeroLanguageServer, params: types.DidChangeConfigurationParams
    ) -> None:
        await pull_configuration(ls)
        await ls.manager.refresh()
        publish_diagnostics(ls)
        for hook in ls.folder_hooks:  # e.g. the `servers` setting changed
            await hook()

    @ls.feature("sero/workspaceStatus")
    async def workspace_status(ls: SeroLanguageServer, params: Any) -> dict[str, Any]:
        uri = param(params, "uri", str)
        refresh = param(params, "refresh", bool)
        if ls.hub.client_init and not ls.initialized.is_set():
            # Asked right after initialize: answer with the folder settings the client gives
            # through workspace/configuration (pulled after `initialized`), not without them.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(10):
                    await ls.initialized.wait()
        if refresh:
            target = ls.manager.folder_for(uri) if uri else None
            await ls.manager.refresh([target.folder.uri] if target else None)
        return {"folders": [to_json(s) for s in ls.manager.statuses(uri)]}

    @ls.feature("sero/setRuntime")
    async def set_runtime(ls: SeroLanguageServer, params: Any) -> dict[str, Any]:
        uri = param(params, "uri", str, required=True)
        runtime = param(params, "runtime", str, required=True)
        return to_json(await apply_runtime(ls, uri, runtime))


async def apply_runtime(ls: SeroLanguageServer, uri: str, runtime: str) -> FolderStatus:
    if runtime not in RUNTIMES:
        raise JsonRpcInvalidParams(f"runtime must be one of {', '.join(RUNTIMES)}, not {runtime!r}")
    try:
        st = ls.manager.set_runtime(uri, runtime)
    except KeyError:
        raise JsonRpcInvalidParams(f"{uri} is not in a workspace folder") from None
    await ls.manager.refresh([st.folder.uri], reload=False)
    publish_diagnostics(ls)
    status = ls.manager.statuses(st.folder.uri)[0]
    return status


async def _after_initialized(ls: SeroLanguageServer) -> None:
    await pull_configuration(ls)
    await ls.manager.refresh()
    ls.initialized.set()
    push_status(ls)  # once after initialized, whatever changed
    for hook in ls.folder_hooks:
        await hook()
    ls.manager.start_monitor()
