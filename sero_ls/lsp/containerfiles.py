"""Container-only files: `workspace/textDocumentContent` (LSP 3.18) and `sero/containerFile`.

A location a server reports inside its container but outside every mount
(stdlib, site-packages, generated code) reaches the editor as
``sero-container://<container-id>/<absolute path>``; these requests return its text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams

from sero_ls.lsp.params import param
from sero_ls.proxy.pathmap import SCHEME, parse_container_uri
from sero_ls.runtime.backends import Backend
from sero_ls.runtime.backends import backend_for as runtime_backend
from sero_ls.runtime.files import ContainerFileError, read_container_file

if TYPE_CHECKING:
    from sero_ls.lsp.server import SeroLanguageServer


class ContainerFileMissing(JsonRpcException):
    CODE = -32803  # RequestFailed (LSP 3.17); JsonRpcException.__init__ sets code from CODE


def backend_for(ls: SeroLanguageServer, container_id: str) -> Backend | None:
    for inst in ls.proxy.all_instances():
        if inst.container_id == container_id and inst.backend is not None:
            return inst.backend  # type: ignore[no-any-return]
    for st in ls.manager.folders.values():
        rt = st.status.runtime if st.status else None
        if rt and rt.container and rt.container.id == container_id:
            return runtime_backend(rt, st.settings.probe_timeout)
    return None


async def container_file(ls: SeroLanguageServer, params: Any) -> dict[str, Any]:
    uri = param(params, "uri", str, required=True)
    parsed = parse_container_uri(uri)
    if parsed is None:
        raise JsonRpcInvalidParams(f"not a {SCHEME}:// URI: {uri}")
    container_id, path = parsed
    backend = backend_for(ls, container_id)
    if backend is None:
        raise ContainerFileMissing(f"container {container_id} is not one of this workspace's")
    try:
        return {"text": await read_container_file(backend, container_id, path)}
    except ContainerFileError as exc:
        raise ContainerFileMissing(str(exc)) from None


def register(ls: SeroLanguageServer) -> None:
    @ls.feature("sero/containerFile")
    async def sero_container_file(ls: SeroLanguageServer, params: Any) -> dict[str, Any]:
        return await container_file(ls, params)

    @ls.feature("workspace/textDocumentContent")
    async def text_document_content(ls: SeroLanguageServer, params: Any) -> dict[str, Any]:
        raw = {"uri": getattr(params, "uri", None)} if not isinstance(params, dict) else params
        return await container_file(ls, raw)
