"""The start-up path's own pieces: sero-ls' capabilities as pygls would compute them, and
the folders an initialize request names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import client_capabilities

from sero_ls.lsp.boot import guess, initial_folders
from sero_ls.lsp.own_capabilities import own_capabilities
from sero_ls.lsp.server import SeroLanguageServer
from sero_ls.settings import Settings
from tests.support.status_cli import sample_status


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


def test_a_cached_status_is_a_guess_only_for_the_settings_it_was_resolved_under(
    tmp_path: Path,
) -> None:
    cached = sample_status(tmp_path, mode="container", requested="auto")
    assert guess(cached, Settings()) is not None
    assert guess(cached, Settings(runtime="host")) is None  # resolved for auto
    assert guess(cached, Settings(container_backend="podman")) is not None
    assert guess(cached, Settings(container_backend="docker")) is None
    assert guess(cached, Settings(container="sero-proj")) is not None
    assert guess(cached, Settings(container="another")) is None
    host = sample_status(tmp_path, mode="host", requested="host", container=None)
    assert guess(host, Settings(runtime="host", container_backend="docker")) is not None
    assert guess(host, Settings()) is None
    assert guess({"not": "a status"}, Settings()) is None
