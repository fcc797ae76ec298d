"""The start-up path's own pieces: sero-ls' capabilities as pygls would compute them, and
the folders an initialize request names."""

from __future__ import annotations

from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import client_capabilities

from sero_ls.lsp.boot import initial_folders
from sero_ls.lsp.own_capabilities import own_capabilities
from sero_ls.lsp.server import SeroLanguageServer


def pygls_capabilities(profile: str | None) -> dict[str, Any]:
    ls = SeroLanguageServer()
    caps = client_capabilities(profile) if profile else types.ClientCapabilities()
    gen = ls.protocol.lsp_initialize(
        types.InitializeParams(capabilities=caps, process_id=None, root_uri=None)
    )
    next(gen)  # the user handler: not run here
    with pytest.raises(StopIteration) as stop:
        gen.send(None)
    result = ls.protocol.unstructure(stop.value.value)
    return result["capabilities"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("profile", ["neovim", "visual-studio-code", None])
def test_own_capabilities_are_what_pygls_computes(profile: str | None) -> None:
    computed = pygls_capabilities(profile)
    computed.pop("positionEncoding", None)  # the hub speaks utf-16, whatever pygls picks
    computed.pop("experimental", None)  # the proxy adds experimental.sero
    computed.get("workspace", {}).pop("textDocumentContent", None)  # the proxy adds it
    assert own_capabilities() == computed


def test_initial_folders() -> None:
    folders = [{"uri": "file:///a", "name": "a"}, {"uri": "file:///b"}, {"name": "no uri"}]
    assert initial_folders({"workspaceFolders": folders}, wrapper=False, default=None) == [
        ("file:///a", "a"),
        ("file:///b", None),
    ]
    assert initial_folders({"rootUri": "file:///r"}, wrapper=False, default=None) == [
        ("file:///r", None)
    ]
    assert initial_folders({"rootPath": "/r p"}, wrapper=False, default=None) == [
        ("file:///r%20p", None)
    ]
    assert initial_folders({}, wrapper=False, default=None) == []
    assert initial_folders(None, wrapper=True, default="/w") == [("file:///w", None)]
