"""Real pylsp (Debian's /usr/bin/pylsp) behind sero-ls, in wrapper mode
(`sero-ls proxy -- pylsp`) and in hub mode (the `servers` setting), driven by
pytest-lsp's client with the capabilities of Neovim and of VS Code.

Every answer is checked for what pylsp computes (not merely "something came
back"), with the client's exact document URI (a space and a non-ASCII letter in
the path), and pytest-lsp checks each result against the client's capabilities.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types

from sero_ls.uris import path_to_uri
from tests.support.lsp import Session, session

PYLSP = "/usr/bin/pylsp"

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(shutil.which(PYLSP) is None, reason="Debian's python3-pylsp is missing"),
    # pylsp 1.7 sends $/progress without window/workDoneProgress/create (its own doing:
    # pylsp/workspace.py _progress_begin), which pytest-lsp's client flags.
    pytest.mark.filterwarnings("ignore:Unknown progress token"),
]

SOURCE = '''import os


def greet(name):
    """Say hello."""
    return "hi " + name


message = greet("x")
print(mesage)
x=1
os.pa
'''
# positions in SOURCE (0-based)
GREET_DEF = (3, 4)
GREET_CALL = (8, 10)
OS_PA = (11, 5)


@asynccontextmanager
async def pylsp_session(mode: str, editor: str, tmp: Path) -> AsyncIterator[tuple[Session, str]]:
    ws = tmp / "proj é x"
    (ws / ".sero").mkdir(parents=True)
    (ws / ".sero" / "config.toml").write_text('runtime = "host"\n')
    (ws / "mod.py").write_text(SOURCE)
    if mode == "wrapper":
        args: tuple[str, ...] = ("proxy", "--", PYLSP)
        settings = None
    else:
        args = ()
        settings = {
            "runtime": "host",
            "servers": {"pylsp": {"command": [PYLSP], "languages": ["python"]}},
        }
    async with session([ws], tmp=tmp, settings=settings, editor=editor, args=args) as s:
        uri = path_to_uri(str(ws / "mod.py"))
        s.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="python", version=1, text=SOURCE
                )
            )
        )
        yield s, uri


def pos(line_char: tuple[int, int]) -> types.Position:
    return types.Position(line=line_char[0], character=line_char[1])


def doc(uri: str) -> types.TextDocumentIdentifier:
    return types.TextDocumentIdentifier(uri=uri)


def codes(diags: list[types.Diagnostic]) -> set[tuple[str | None, str]]:
    return {(d.source, d.message) for d in diags}


def edits_for(edit: types.WorkspaceEdit, uri: str) -> list[Any]:
    """The text edits a WorkspaceEdit makes to ``uri`` (changes or documentChanges)."""
    if edit.changes:
        return list(edit.changes.get(uri, []))
    out: list[Any] = []
    for change in edit.document_changes or []:
        if isinstance(change, types.TextDocumentEdit) and change.text_document.uri == uri:
            out += change.edits
    return out


@pytest.mark.parametrize("editor", ["neovim", "visual-studio-code"])
@pytest.mark.parametrize("mode", ["wrapper", "hub"])
async def test_pylsp_features_through_the_proxy(tmp_path: Path, mode: str, editor: str) -> None:
    async with pylsp_session(mode, editor, tmp_path) as (s, uri):
        c = s.client
        caps = s.initialize_result.capabilities if s.initialize_result else None
        assert caps is not None and caps.hover_provider and caps.rename_provider
        assert caps.completion_provider is not None

        # diagnostics, published by pylsp on open: pyflakes and pycodestyle
        diags = await s.wait_diagnostics(
            uri, lambda d: any("mesage" in x.message for x in d), timeout=60
        )
        assert ("pyflakes", "undefined name 'mesage'") in codes(diags)
        assert any(d.source == "pycodestyle" and d.code == "E225" for d in diags)
        undefined = next(d for d in diags if "mesage" in d.message)
        assert undefined.range.start == types.Position(line=9, character=6)

        # hover
        hover = await c.text_document_hover_async(
            types.HoverParams(text_document=doc(uri), position=pos(GREET_CALL))
        )
        assert hover is not None
        text = hover.contents.value if hasattr(hover.contents, "value") else str(hover.contents)
        assert "greet" in text and "Say hello." in text

        # definition: the client's own URI, byte for byte
        defs = await c.text_document_definition_async(
            types.DefinitionParams(text_document=doc(uri), position=pos(GREET_CALL))
        )
        assert isinstance(defs, list) and len(defs) == 1
        target = defs[0]
        target_uri = target.uri if isinstance(target, types.Location) else target.target_uri
        assert target_uri == uri
        start = (
            target.range.start if isinstance(target, types.Location) else target.target_range.start
        )
        assert (start.line, start.character) == GREET_DEF

        # completion
        comp = await c.text_document_completion_async(
            types.CompletionParams(text_document=doc(uri), position=pos(OS_PA))
        )
        items = comp.items if isinstance(comp, types.CompletionList) else comp or []
        assert "path" in {i.label for i in items}

        # references
        refs = await c.text_document_references_async(
            types.ReferenceParams(
                text_document=doc(uri),
                position=pos(GREET_DEF),
                context=types.ReferenceContext(include_declaration=True),
            )
        )
        assert refs is not None
        assert {(r.uri, r.range.start.line) for r in refs} == {(uri, 3), (uri, 8)}

        # rename: a WorkspaceEdit on the client's URI
        edit = await c.text_document_rename_async(
            types.RenameParams(text_document=doc(uri), position=pos(GREET_DEF), new_name="salute")
        )
        assert edit is not None
        text_edits = edits_for(edit, uri)
        assert text_edits, edit
        assert all("greet" not in e.new_text for e in text_edits)
        assert any("salute" in e.new_text for e in text_edits)

        # formatting (autopep8): `x=1` becomes `x = 1`
        fmt = await c.text_document_formatting_async(
            types.DocumentFormattingParams(
                text_document=doc(uri),
                options=types.FormattingOptions(tab_size=4, insert_spaces=True),
            )
        )
        assert fmt and any("x = 1" in e.new_text for e in fmt)

        # an incremental change fixes the typo: pylsp sees it and republishes
        c.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=types.Range(start=pos((9, 6)), end=pos((9, 12))),
                        text="message",
                    )
                ],
            )
        )
        diags = await s.wait_diagnostics(
            uri, lambda d: not any("mesage" in x.message for x in d), timeout=60
        )
        assert any(d.code == "E225" for d in diags)  # the rest is still reported
