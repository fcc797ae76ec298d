"""sero-ls reaches into pygls in one place only: ``sero_ls/lsp/protocol.py``. These tests
fail when pygls renames what that adapter uses, or when another module starts using a
private pygls name."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from pygls.protocol import LanguageServerProtocol

import sero_ls
from sero_ls.lsp.server import SeroLanguageServer

PRIVATE = ("_shutdown", "_request_futures", "_send_response", "_converter", "_server",
           "_send_data")  # fmt: skip
ADAPTER = Path(sero_ls.__file__).parent / "lsp" / "protocol.py"


def test_the_private_names_the_adapter_uses_still_exist_in_pygls() -> None:
    server = SeroLanguageServer()
    protocol = server.protocol
    for name in ("_shutdown", "_request_futures", "_converter", "_server"):
        assert hasattr(protocol, name), f"pygls' protocol has no {name} any more"
    assert protocol._server is server
    assert isinstance(protocol._request_futures, dict)
    params = list(inspect.signature(LanguageServerProtocol._send_response).parameters)
    assert params[:4] == ["self", "msg_id", "result", "error"], params


def test_no_module_but_the_adapter_uses_private_pygls_names() -> None:
    pattern = re.compile(r"\.(" + "|".join(PRIVATE) + r")\b")
    offenders = []
    for path in Path(sero_ls.__file__).parent.rglob("*.py"):
        if path == ADAPTER:
            continue
        for n, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            if pattern.search(line):
                offenders.append(f"{path.name}:{n}: {line.strip()}")
    assert not offenders, offenders
