"""Workspace trust over LSP: `sero/trustFolder` (and the `sero.trustFolder` command of
the quick fix on an untrusted `.sero/config.toml`).

Trusting re-reads the folder's settings and runs the folder hooks, so the servers its
config names start at once; a trust change seen by a status check (`sero-ls trust` in
a shell, or an edit of the file that revokes it) does the same, no editor restart.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pygls.exceptions import JsonRpcInvalidParams

from sero_ls.cli.trust import trust_current
from sero_ls.lsp.commands import TRUST as TRUST_COMMAND
from sero_ls.lsp.params import param
from sero_ls.lsp.runtime_status import publish_diagnostics
from sero_ls.runtime.model import FolderStatus, to_json
from sero_ls.runtime.trust import TrustStore

if TYPE_CHECKING:
    from sero_ls.lsp.server import SeroLanguageServer

log = logging.getLogger(__name__)


def register(ls: SeroLanguageServer) -> None:
    @ls.feature("sero/trustFolder")
    async def trust_folder(ls: SeroLanguageServer, params: Any) -> dict[str, Any]:
        uri = param(params, "uri", str, required=True)
        sha256 = param(params, "sha256", str)
        revoke = bool(param(params, "revoke", bool))
        return await apply_trust(ls, uri, sha256, revoke=revoke)

    @ls.command(TRUST_COMMAND)
    async def trust_command(ls: Any, *args: Any) -> dict[str, Any]:
        """(folderUri, sha256?): what the quick fix on .sero/config.toml runs."""
        uri = args[0] if args else None
        if isinstance(uri, dict):
            uri = uri.get("uri") or uri.get("folderUri")
        sha256 = args[1] if len(args) > 1 else None
        if not isinstance(uri, str) or not isinstance(sha256, str | None):
            raise JsonRpcInvalidParams(f"{TRUST_COMMAND} takes (folderUri, sha256?)")
        return await apply_trust(ls, uri, sha256)

    _follow_trust_changes(ls)


async def apply_trust(
    ls: SeroLanguageServer, uri: str, sha256: str | None, *, revoke: bool = False
) -> dict[str, Any]:
    st = ls.manager.folder_for(uri)
    if st is None:
        raise JsonRpcInvalidParams(f"{uri} is not in a workspace folder")
    folder = Path(st.folder.path)
    if revoke:
        TrustStore().revoke(folder)
    else:
        try:
            trust_current(folder, sha256)  # sha256: only the content the user was shown
        except ValueError as exc:
            raise JsonRpcInvalidParams(str(exc)) from None
    log.info("%s %s", "revoked" if revoke else "trusted", folder)
    await ls.manager.refresh([st.folder.uri])  # re-reads the settings: a trust change
    await _run_folder_hooks(ls)  # (again, if the change was seen already: a no-op)
    publish_diagnostics(ls)
    return to_json(ls.manager.statuses(st.folder.uri)[0])


async def _run_folder_hooks(ls: SeroLanguageServer) -> None:
    if ls.initialized.is_set():  # before, `initialized` runs them itself
        for hook in ls.folder_hooks:
            await hook()


def _follow_trust_changes(ls: SeroLanguageServer) -> None:
    """After each status change, run the folder hooks when a folder's trust changed (its
    servers start or stop: the settings they come from changed)."""
    seen: dict[str, str | None] = {}
    inner = ls.manager.on_change

    async def on_change(statuses: list[FolderStatus]) -> None:
        if inner is not None:
            await inner(statuses)
        moved = []
        for s in statuses:
            state = s.trust.state if s.trust else None
            if s.uri in seen and seen[s.uri] != state:
                moved.append(s.uri)
            seen[s.uri] = state
        if moved and ls.initialized.is_set():
            await _run_folder_hooks(ls)
            for uri in moved:  # the push above still listed the servers as they were
                await ls.manager.notify_servers_changed(uri)

    ls.manager.on_change = on_change
