"""Runtime status over LSP: initialize/folders/configuration, `sero/workspaceStatus`,
`sero/setRuntime`, the `sero/statusChanged` push and capability diagnostics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from sero_ls.lsp.boot import initial_folders
from sero_ls.lsp.diagnostics import (
    config_uri,
    folder_diagnostics,
    server_diagnostics,
    settings_diagnostics,
    trust_diagnostics,
)
from sero_ls.lsp.params import param
from sero_ls.runtime import status_cache
from sero_ls.runtime.model import FolderStatus, to_json
from sero_ls.settings import settings_from_init_options

if TYPE_CHECKING:
    from sero_ls.lsp.server import SeroLanguageServer

log = logging.getLogger(__name__)

RUNTIMES = ("auto", "container", "host")


def push_status(ls: SeroLanguageServer, changed: list[FolderStatus] | None = None) -> None:
    """Send `sero/statusChanged` with every folder, and update the diagnostics."""
    statuses = ls.manager.statuses()
    if ls.proxy.router.own_diagnostics:
        ls.notify_raw("sero/statusChanged", {"folders": [to_json(s) for s in statuses]})
    else:  # a wrapper adds nothing to the server's stream but one log line per change
        for st in statuses:
            said = (st.mode, st.reason, st.message)
            if ls.logged_status.get(st.uri) != said:
                ls.logged_status[st.uri] = said
                ls.notify_raw("window/logMessage", {
                    "type": 2 if st.degraded else 3,
                    "message": f"sero-ls: {st.name}: {st.mode} ({st.reason}) {st.message}".strip(),
                })  # fmt: skip
    status_cache.store_statuses(statuses)  # for `sero-ls status` outside the editor
    publish_diagnostics(ls)


def publish_diagnostics(ls: SeroLanguageServer) -> None:
    from sero_ls.lsp.workflow_requests import (
        dockerfile_diagnostics,  # (workflows imports this module)
    )

    wanted: dict[str, list[types.Diagnostic]] = {}
    for st in ls.manager.folders.values():
        if st.status is not None:
            (status,) = ls.manager.statuses(st.folder.uri) or [st.status]
            wanted[st.folder.uri] = folder_diagnostics(status) + server_diagnostics(status)
            for uri, diags in dockerfile_diagnostics(
                status
            ).items():  # see lsp/workflow_requests.py
                wanted.setdefault(uri, []).extend(diags)
        wanted[config_uri(st.folder.uri)] = settings_diagnostics(st.problems) + trust_diagnostics(
            st.status
        )
    for uri in set(ls.published) - set(wanted):
        wanted[uri] = []  # a folder that went away: clear what we said about it
    for uri, diags in wanted.items():
        if ls.published.get(uri, []) == diags:
            continue
        # merged with the language servers' diagnostics for the same document
        ls.proxy.publish_own(uri, ls.protocol.unstructure(diags))
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
    @ls.feature(types.INITIALIZE)
    async def initialize(ls: SeroLanguageServer, params: types.InitializeParams) -> None:
        raw = ls.proxy.client_init  # the params as the client sent them
        ls.manager.init_settings = settings_from_init_options(raw.get("initializationOptions"))
        ls.manager.set_folders(
            initial_folders(raw, wrapper=ls.proxy.wrapper is not None, default=ls.default_folder)
        )
        if params.process_id:
            ls.client_pid = params.process_id
            ls.spawn(ls.watch_client_pid(params.process_id))
        await ls.manager.refresh(reload=False)
        await ls.apply_trace_setting()  # before the servers start: their initialize is traced
        # Servers the start-up path placed from the cached status move if that was wrong.
        await ls.proxy.runtime_changed()
        await ls.proxy.sync_folders()  # start the language servers: their capabilities are ours

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
        if ls.proxy.client_init and not ls.initialized.is_set():
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
