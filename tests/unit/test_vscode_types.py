"""The VS Code extension's types for sero-ls' JSON (editors/vscode/src/protocol.ts) name
exactly the fields the Python model sends: a field added on one side fails here."""

from __future__ import annotations

import re
from pathlib import Path

import attrs
import pytest

from sero_ls.runtime import model

PROTOCOL_TS = Path(__file__).resolve().parents[2] / "editors" / "vscode" / "src" / "protocol.ts"
PAIRS = {
    "Mount": model.Mount,
    "ContainerInfo": model.ContainerInfo,
    "RuntimeInfo": model.RuntimeInfo,
    "Capability": model.Capability,
    "ServerEntry": model.ServerEntry,
    "DockerfileInfo": model.DockerfileInfo,
    "TrustInfo": model.TrustInfo,
    "DevcontainerInfo": model.DevcontainerInfo,
    "ComposeInfo": model.ComposeInfo,
    "FolderStatus": model.FolderStatus,
}


def ts_fields(name: str) -> set[str]:
    text = PROTOCOL_TS.read_text("utf-8")
    block = re.search(r"export interface " + name + r" \{\n(.*?)\n\}", text, re.S)
    assert block is not None, f"protocol.ts has no interface {name}"
    return set(re.findall(r"^    (\w+)\??:", block.group(1), re.M))


@pytest.mark.parametrize("name", list(PAIRS))
def test_the_extension_types_match_the_python_model(name: str) -> None:
    python = {model._camel(a.name) for a in attrs.fields(PAIRS[name])}
    assert ts_fields(name) == python
