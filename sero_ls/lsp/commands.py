"""`workspace/executeCommand` for sero's own commands, and the code actions offering them."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from sero_ls.lsp.diagnostics import SOURCE, UNTRUSTED
from sero_ls.lsp.params import uri_arg
from sero_ls.lsp.runtime_status import apply_runtime, publish_diagnostics
from sero_ls.runtime import reasons as R
from sero_ls.runtime.backends import backend_for
from sero_ls.runtime.invoke import ProbeError, run_cli
from sero_ls.runtime.model import to_json

if TYPE_CHECKING:
    from sero_ls.lsp.server import SeroLanguageServer

log = logging.getLogger(__name__)

REFRESH = "sero.refreshStatus"
SET_RUNTIME = "sero.setRuntime"
START_SYSTEM = "sero.startContainerSystem"
RESTART_SERVERS = "sero.restartServers"
TRUST = "sero.trustFolder"  # registered in lsp/trust.py
COMMANDS = (REFRESH, SET_RUNTIME, START_SYSTEM, RESTART_SERVERS)
SYSTEM_START_TIMEOUT = 180.0


def register(ls: SeroLanguageServer) -> None:
    # Handlers are typed `ls: Any`: pygls resolves command handlers' hints at call time.
    @ls.command(REFRESH)
    async def refresh(ls: Any, *args: Any) -> dict[str, Any]:
        uri = uri_arg(args)
        st = ls.manager.folder_for(uri) if uri else None
        await ls.manager.refresh([st.folder.uri] if st else None)
        publish_diagnostics(ls)
        return {"folders": [to_json(s) for s in ls.manager.statuses(uri)]}

    @ls.command(SET_RUNTIME)
    async def set_runtime(ls: Any, *args: Any) -> dict[str, Any]:
        uri = uri_arg(args)
        runtime = args[1] if len(args) > 1 else None
        if uri is None or not isinstance(runtime, str):
            raise JsonRpcInvalidParams("sero.setRuntime takes (folderUri, runtime)")
        return to_json(await apply_runtime(ls, uri, runtime))

    @ls.command(RESTART_SERVERS)
    async def restart_servers(ls: Any, *args: Any) -> dict[str, Any]:
        """(folderUri?, serverId?): restart those language servers (all by default)."""
        uri = uri_arg(args)
        st = ls.manager.folder_for(uri) if uri else None
        if uri and st is None:
            raise JsonRpcInvalidParams(f"{uri} is not in a workspace folder")
        server_id = args[1] if len(args) > 1 and isinstance(args[1], str) else None
        count = await ls.proxy.restart_servers(st.folder.uri if st else None, server_id)
        return {"restarted": count}

    @ls.command(START_SYSTEM)
    async def start_system(ls: Any, *args: Any) -> dict[str, Any]:
        return await start_container_system(ls, uri_arg(args))

    @ls.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]),
    )
    def code_actions(
        ls: SeroLanguageServer, params: types.CodeActionParams
    ) -> list[types.CodeAction]:
        return sero_code_actions(params.context.diagnostics)


def sero_code_actions(diagnostics: Sequence[types.Diagnostic]) -> list[types.CodeAction]:
    out: list[types.CodeAction] = []
    for d in diagnostics:
        if d.source != SOURCE or not isinstance(d.data, dict):
            continue
        folder = d.data.get("folderUri")
        if not isinstance(folder, str):
            continue

        def action(title: str, command: str, *arguments: Any, d: types.Diagnostic = d) -> None:
            out.append(
                types.CodeAction(
                    title=title,
                    kind=types.CodeActionKind.QuickFix,
                    diagnostics=[d],
                    command=types.Command(title=title, command=command, arguments=list(arguments)),
                )
            )

        if d.code == UNTRUSTED:  # lsp/trust.py: trusts only the content the diagnostic saw
            action("Trust this folder's sero config", TRUST, folder, d.data.get("sha256"))
            continue
        server = d.data.get("serverId")
        if isinstance(server, str):
            action(f"Restart language server {server}", RESTART_SERVERS, folder, server)
            continue
        if d.code == R.SYSTEM_NOT_RUNNING:
            action("Start the container system", START_SYSTEM, folder)
        action("Check the container runtime again", REFRESH, folder)
        if d.code != R.STALE:
            action("Use host mode for this folder", SET_RUNTIME, folder, "host")
    return out


async def start_container_system(ls: SeroLanguageServer, uri: str | None) -> dict[str, Any]:
    """`container system start --enable-kernel-install` with progress, then re-probe.

    Docker and Podman have no such command: say what to do instead."""
    states = [ls.manager.folder_for(uri)] if uri else list(ls.manager.folders.values())
    states = [s for s in states if s is not None]
    if not states:
        raise JsonRpcInvalidParams("no workspace folder to start a container system for")
    status = states[0].status
    backend_name = status.runtime.backend if status else None
    cli = status.runtime.cli if status else None
    if backend_name != "apple" or not cli:
        b = backend_for(status.runtime, 5) if status else None
        todo = " ; ".join(b.remedy_system()) if b else "install a container runtime first"
        text = (
            f"{backend_name or 'This runtime'} has no `system start` command: {todo}. "
            "sero-ls re-checks by itself once it runs."
        )
        ls.window_show_message(types.ShowMessageParams(types.MessageType.Info, text))
        return {"started": False, "backend": backend_name, "message": text}
    token = f"sero-start-{uuid.uuid4()}"
    progress = _supports_progress(ls)
    if progress:
        try:
            await ls.work_done_progress.create_async(token)
            ls.work_done_progress.begin(
                token,
                types.WorkDoneProgressBegin(
                    title="Starting the container system", message=f"{cli} system start"
                ),
            )
        except Exception as exc:
            log.info("no progress: %s", exc)
            progress = False
    argv = [cli, "system", "start", "--enable-kernel-install"]
    try:
        result = await run_cli(argv, SYSTEM_START_TIMEOUT)
        ok, text = result.ok, (result.error_text() if not result.ok else "started")
    except ProbeError as exc:
        ok, text = False, str(exc)
    if progress:
        ls.work_done_progress.end(token, types.WorkDoneProgressEnd(message=text))
    await ls.manager.refresh()
    publish_diagnostics(ls)
    if not ok:
        ls.window_show_message(
            types.ShowMessageParams(types.MessageType.Error, f"`{' '.join(argv)}` failed: {text}")
        )
    return {"started": ok, "backend": "apple", "message": text}


def _supports_progress(ls: SeroLanguageServer) -> bool:
    caps = ls.client_capabilities
    return bool(caps and caps.window and caps.window.work_done_progress)
