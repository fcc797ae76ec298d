"""URI mapping of realistic raw LSP messages: URIs move, text, data and other strings do not."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sero_ls.proxy.urimap import (
    Kind,
    map_params,
    map_partial_result,
    map_result,
    uri_fields_of,
)

HOST = "file:///home/u/proj/"
CONTAINER = "file:///workspace/"
ONLY = "sero-container://c1/"  # container-only files, as the client sees them
A_HOST, A_CONT = HOST + "a.py", CONTAINER + "a.py"
B_HOST, B_CONT = HOST + "pkg/b%20c.py", CONTAINER + "pkg/b%20c.py"


class Recorder:
    """A mapper like the proxy's: host <-> container prefixes, container-only files to
    sero-container://; records every call so tests can see what was offered, with which kind."""

    def __init__(self, *, to_server: bool) -> None:
        self.to_server = to_server
        self.calls: list[tuple[str, Kind]] = []

    def __call__(self, value: str, kind: Kind) -> str:
        self.calls.append((value, kind))
        if kind == "uri":
            pairs = [(HOST, CONTAINER), (ONLY, "file:///")]
        elif kind == "glob":
            pairs = [("/home/u/proj/", "/workspace/")]
        else:
            pairs = [("/home/u/proj", "/workspace")]
        if not self.to_server:
            pairs = [(b, a) for a, b in pairs if a != ONLY] + [("file:///usr/", ONLY + "usr/")]
        for old, new in pairs:
            if value.startswith(old):
                return new + value[len(old) :]
            if value == old.rstrip("/"):  # the folder itself
                return new.rstrip("/")
        return value


def up() -> Recorder:
    return Recorder(to_server=True)


def down() -> Recorder:
    return Recorder(to_server=False)


def rng(line: int) -> dict[str, Any]:
    return {"start": {"line": line, "character": 0}, "end": {"line": line, "character": 4}}


def test_definition_results_location_and_location_link() -> None:
    locations = [
        {"uri": B_CONT, "range": rng(3)},
        {"uri": "file:///usr/lib/python3.11/os.py", "range": rng(1)},
    ]
    assert map_result("textDocument/definition", "to_client", locations, down()) == [
        {"uri": B_HOST, "range": rng(3)},
        {"uri": ONLY + "usr/lib/python3.11/os.py", "range": rng(1)},
    ]
    links = [
        {
            "originSelectionRange": rng(0),
            "targetUri": A_CONT,
            "targetRange": rng(2),
            "targetSelectionRange": rng(2),
        }
    ]
    assert map_result("textDocument/definition", "to_client", links, down())[0]["targetUri"] == (
        A_HOST
    )
    single = {"uri": A_CONT, "range": rng(0)}
    assert map_result("textDocument/definition", "to_client", single, down())["uri"] == A_HOST
    assert map_result("textDocument/definition", "to_client", None, down()) is None
    params = {"textDocument": {"uri": A_HOST}, "position": {"line": 1, "character": 2}}
    assert map_params("textDocument/definition", "to_server", params, up()) == {
        "textDocument": {"uri": A_CONT},
        "position": {"line": 1, "character": 2},
    }


def workspace_edit() -> dict[str, Any]:
    return {
        "changes": {
            A_CONT: [{"range": rng(0), "newText": f"import '{A_CONT}'"}],
            B_CONT: [],
        },
        "documentChanges": [
            {
                "textDocument": {"uri": A_CONT, "version": 3},
                "edits": [{"range": rng(1), "newText": A_CONT, "annotationId": "a1"}],
            },
            {"kind": "create", "uri": CONTAINER + "new.py", "options": {"overwrite": False}},
            {"kind": "rename", "oldUri": A_CONT, "newUri": CONTAINER + "renamed.py"},
            {"kind": "delete", "uri": B_CONT, "options": {"recursive": False}},
        ],
        "changeAnnotations": {"a1": {"label": A_CONT, "description": A_CONT}},
    }


def test_workspace_edit_in_rename_result_and_apply_edit() -> None:
    expected = {
        "changes": {
            A_HOST: [{"range": rng(0), "newText": f"import '{A_CONT}'"}],
            B_HOST: [],
        },
        "documentChanges": [
            {
                "textDocument": {"uri": A_HOST, "version": 3},
                "edits": [{"range": rng(1), "newText": A_CONT, "annotationId": "a1"}],
            },
            {"kind": "create", "uri": HOST + "new.py", "options": {"overwrite": False}},
            {"kind": "rename", "oldUri": A_HOST, "newUri": HOST + "renamed.py"},
            {"kind": "delete", "uri": B_HOST, "options": {"recursive": False}},
        ],
        "changeAnnotations": {"a1": {"label": A_CONT, "description": A_CONT}},
    }
    assert map_result("textDocument/rename", "to_client", workspace_edit(), down()) == expected
    params = {"label": "fix", "edit": workspace_edit()}
    mapped = map_params("workspace/applyEdit", "to_client", params, down())
    assert mapped == {"label": "fix", "edit": expected}
    # The keys of `changes` keep their order.
    assert list(mapped["edit"]["changes"]) == [A_HOST, B_HOST]


def test_publish_diagnostics_maps_related_information_not_messages_or_data() -> None:
    params = {
        "uri": A_CONT,
        "version": 2,
        "diagnostics": [
            {
                "range": rng(4),
                "severity": 1,
                "source": "pyflakes",
                "code": "E0602",
                "message": f"undefined name, see {A_CONT}",
                "codeDescription": {"href": "https://docs.example/E0602"},
                "relatedInformation": [
                    {"location": {"uri": B_CONT, "range": rng(7)}, "message": B_CONT}
                ],
                "data": {"uri": A_CONT, "fix": [A_CONT]},
            }
        ],
    }
    fn = down()
    out = map_params("textDocument/publishDiagnostics", "to_client", params, fn)
    diag = out["diagnostics"][0]
    assert out["uri"] == A_HOST
    assert diag["relatedInformation"] == [
        {"location": {"uri": B_HOST, "range": rng(7)}, "message": B_CONT}
    ]
    assert diag["message"] == f"undefined name, see {A_CONT}"
    assert diag["data"] == {"uri": A_CONT, "fix": [A_CONT]}
    # href is offered as a URI (the mapper leaves http URLs alone).
    assert ("https://docs.example/E0602", "uri") in fn.calls
    assert diag["codeDescription"] == {"href": "https://docs.example/E0602"}


def test_pull_diagnostics_related_documents_keys() -> None:
    report = {
        "kind": "full",
        "items": [],
        "relatedDocuments": {B_CONT: {"kind": "unchanged", "resultId": "r1"}},
    }
    out = map_result("textDocument/diagnostic", "to_client", report, down())
    assert out["relatedDocuments"] == {B_HOST: {"kind": "unchanged", "resultId": "r1"}}


def test_workspace_symbol_results_with_and_without_ranges() -> None:
    result = [
        {"name": "main", "kind": 12, "location": {"uri": A_CONT}, "data": {"uri": A_CONT}},
        {
            "name": "helper",
            "kind": 12,
            "containerName": A_CONT,
            "location": {"uri": B_CONT, "range": rng(9)},
        },
    ]
    assert map_result("workspace/symbol", "to_client", result, down()) == [
        {"name": "main", "kind": 12, "location": {"uri": A_HOST}, "data": {"uri": A_CONT}},
        {
            "name": "helper",
            "kind": 12,
            "containerName": A_CONT,
            "location": {"uri": B_HOST, "range": rng(9)},
        },
    ]
    resolved = map_result(
        "workspaceSymbol/resolve",
        "to_client",
        {"name": "main", "kind": 12, "location": {"uri": A_CONT}},
        down(),
    )
    assert resolved["location"] == {"uri": A_HOST}
    # Streamed partial results of the same request ($/progress value).
    partial = map_partial_result("workspace/symbol", "to_client", copy.deepcopy(result), down())
    assert partial[1]["location"]["uri"] == B_HOST


def test_register_capability_maps_each_registration_by_its_method() -> None:
    # A containerized server registers watchers and selectors in container terms.
    params = {
        "registrations": [
            {
                "id": "w",
                "method": "workspace/didChangeWatchedFiles",
                "registerOptions": {
                    "watchers": [
                        {"globPattern": "/workspace/**/*.py"},
                        {"globPattern": "**/*.toml", "kind": 7},
                        {"globPattern": {"baseUri": CONTAINER + "src", "pattern": "**/*.py"}},
                        {
                            "globPattern": {
                                "baseUri": {"uri": CONTAINER + "lib", "name": "lib"},
                                "pattern": "/workspace/x",
                            }
                        },
                    ]
                },
            },
            {
                "id": "o",
                "method": "textDocument/didOpen",
                "registerOptions": {
                    "documentSelector": [{"language": "python", "pattern": "/workspace/**"}]
                },
            },
            {"id": "v", "method": "vendor/thing", "registerOptions": {"uri": CONTAINER}},
            {"id": "n", "method": "workspace/didChangeWatchedFiles"},
            {"id": "x", "method": "workspace/didChangeWatchedFiles", "registerOptions": "junk"},
        ]
    }
    before = copy.deepcopy(params)
    assert map_params("client/registerCapability", "to_server", params, down()) == before
    fn = down()
    out = map_params("client/registerCapability", "to_client", params, fn)
    watchers = out["registrations"][0]["registerOptions"]["watchers"]
    assert watchers == [
        {"globPattern": "/home/u/proj/**/*.py"},
        {"globPattern": "**/*.toml", "kind": 7},
        {"globPattern": {"baseUri": HOST + "src", "pattern": "**/*.py"}},
        # RelativePattern.pattern is relative to baseUri: never offered to the mapper.
        {
            "globPattern": {
                "baseUri": {"uri": HOST + "lib", "name": "lib"},
                "pattern": "/workspace/x",
            }
        },
    ]
    assert ("/workspace/**/*.py", "glob") in fn.calls
    assert ("**/*.toml", "glob") in fn.calls  # relative globs are offered; the mapper decides
    assert ("/workspace/x", "glob") not in fn.calls
    assert out["registrations"][1]["registerOptions"]["documentSelector"] == [
        {"language": "python", "pattern": "/home/u/proj/**"}
    ]
    assert out["registrations"][2:] == [
        {"id": "v", "method": "vendor/thing", "registerOptions": {"uri": CONTAINER}},
        {"id": "n", "method": "workspace/didChangeWatchedFiles"},
        {"id": "x", "method": "workspace/didChangeWatchedFiles", "registerOptions": "junk"},
    ]


def test_initialize_params_root_uri_root_path_folders_but_not_options() -> None:
    params = {
        "processId": 42,
        "rootPath": "/home/u/proj",
        "rootUri": HOST.rstrip("/"),
        "workspaceFolders": [{"uri": HOST.rstrip("/"), "name": "proj"}],
        "initializationOptions": {"settings": {"root": HOST, "uri": HOST}},
        "capabilities": {"workspace": {"workspaceFolders": True}},
        "clientInfo": {"name": HOST},
    }
    fn = up()
    out = map_params("initialize", "to_server", params, fn)
    assert out == {
        "processId": 42,
        "rootPath": "/workspace",
        "rootUri": "file:///workspace",
        "workspaceFolders": [{"uri": "file:///workspace", "name": "proj"}],
        "initializationOptions": {"settings": {"root": HOST, "uri": HOST}},
        "capabilities": {"workspace": {"workspaceFolders": True}},
        "clientInfo": {"name": HOST},
    }
    assert ("/home/u/proj", "path") in fn.calls
    folders = {"event": {"added": [{"uri": HOST + "sub", "name": "sub"}], "removed": []}}
    assert map_params("workspace/didChangeWorkspaceFolders", "to_server", folders, up()) == {
        "event": {"added": [{"uri": CONTAINER + "sub", "name": "sub"}], "removed": []}
    }
    result = [{"uri": HOST.rstrip("/"), "name": "proj"}]
    assert map_result("workspace/workspaceFolders", "to_server", result, up()) == [
        {"uri": "file:///workspace", "name": "proj"}
    ]


def test_initialize_result_maps_static_registration_globs_only() -> None:
    result = {
        "capabilities": {
            "workspace": {
                "fileOperations": {
                    "didRename": {
                        "filters": [{"scheme": "file", "pattern": {"glob": "/workspace/**/*.py"}}]
                    }
                }
            },
            "executeCommandProvider": {"commands": [CONTAINER]},
            "experimental": {"uri": CONTAINER},
        },
        "serverInfo": {"name": "pylsp", "version": CONTAINER},
    }
    out = map_result("initialize", "to_client", result, down())
    ops = out["capabilities"]["workspace"]["fileOperations"]["didRename"]["filters"][0]
    assert ops == {"scheme": "file", "pattern": {"glob": "/home/u/proj/**/*.py"}}
    assert out["capabilities"]["executeCommandProvider"] == {"commands": [CONTAINER]}
    assert out["capabilities"]["experimental"] == {"uri": CONTAINER}
    assert out["serverInfo"]["version"] == CONTAINER


def test_call_and_type_hierarchy_items_keep_their_data() -> None:
    item = {
        "name": "f",
        "kind": 12,
        "uri": A_CONT,
        "range": rng(1),
        "selectionRange": rng(1),
        "data": {"uri": A_CONT, "id": 7},
        "detail": A_CONT,
    }
    items = map_result("textDocument/prepareCallHierarchy", "to_client", [item], down())
    assert items[0]["uri"] == A_HOST
    assert items[0]["data"] == {"uri": A_CONT, "id": 7} and items[0]["detail"] == A_CONT
    back = map_params("callHierarchy/incomingCalls", "to_server", {"item": items[0]}, up())
    assert back["item"]["uri"] == A_CONT and back["item"]["data"] == {"uri": A_CONT, "id": 7}
    outgoing = [{"to": {**item, "uri": "file:///usr/lib/x.py"}, "fromRanges": [rng(2)]}]
    assert (
        map_result("callHierarchy/outgoingCalls", "to_client", outgoing, down())[0]["to"]["uri"]
        == ONLY + "usr/lib/x.py"
    )
    supers = map_result("typeHierarchy/supertypes", "to_client", [dict(item)], down())
    assert supers[0]["uri"] == A_HOST and supers[0]["data"]["uri"] == A_CONT


def test_show_document_and_document_links() -> None:
    out = map_params(
        "window/showDocument",
        "to_client",
        {"uri": B_CONT, "takeFocus": True, "selection": rng(0)},
        down(),
    )
    assert out == {"uri": B_HOST, "takeFocus": True, "selection": rng(0)}
    external = {"uri": "https://example.org", "external": True}
    assert map_params("window/showDocument", "to_client", external, down()) == external
    links = [{"range": rng(0), "target": A_CONT, "tooltip": A_CONT, "data": A_CONT}]
    assert map_result("textDocument/documentLink", "to_client", links, down()) == [
        {"range": rng(0), "target": A_HOST, "tooltip": A_CONT, "data": A_CONT}
    ]


def test_notebook_did_open_maps_notebook_and_cell_uris_not_text() -> None:
    nb = HOST + "n.ipynb"
    cell = "vscode-notebook-cell:/home/u/proj/n.ipynb#W0"
    params = {
        "notebookDocument": {
            "uri": nb,
            "notebookType": "jupyter-notebook",
            "version": 1,
            "cells": [{"kind": 2, "document": HOST + "cell0.py", "metadata": {"uri": nb}}],
        },
        "cellTextDocuments": [
            {"uri": cell, "languageId": "python", "version": 1, "text": f"open('{nb}')"},
            {"uri": HOST + "cell0.py", "languageId": "python", "version": 1, "text": HOST},
        ],
    }
    fn = up()
    out = map_params("notebookDocument/didOpen", "to_server", params, fn)
    assert out["notebookDocument"]["uri"] == CONTAINER + "n.ipynb"
    assert out["notebookDocument"]["cells"][0] == {
        "kind": 2,
        "document": CONTAINER + "cell0.py",
        "metadata": {"uri": nb},
    }
    assert out["cellTextDocuments"][0]["uri"] == cell  # offered, not a file: left alone
    assert (cell, "uri") in fn.calls
    assert out["cellTextDocuments"][0]["text"] == f"open('{nb}')"
    assert out["cellTextDocuments"][1] == {
        "uri": CONTAINER + "cell0.py",
        "languageId": "python",
        "version": 1,
        "text": HOST,
    }


def test_document_text_is_never_touched() -> None:
    opened = {"textDocument": {"uri": A_HOST, "languageId": "python", "version": 1, "text": A_HOST}}
    assert map_params("textDocument/didOpen", "to_server", opened, up())["textDocument"] == {
        "uri": A_CONT,
        "languageId": "python",
        "version": 1,
        "text": A_HOST,
    }
    changed = {
        "textDocument": {"uri": A_HOST, "version": 2},
        "contentChanges": [{"text": A_HOST}, {"range": rng(0), "text": A_HOST}],
    }
    out = map_params("textDocument/didChange", "to_server", changed, up())
    assert out["contentChanges"] == [{"text": A_HOST}, {"range": rng(0), "text": A_HOST}]
    assert out["textDocument"]["uri"] == A_CONT


def test_file_operations_uris_typed_as_strings_are_mapped() -> None:
    params = {"files": [{"oldUri": A_HOST, "newUri": B_HOST}]}
    assert map_params("workspace/didRenameFiles", "to_server", params, up()) == {
        "files": [{"oldUri": A_CONT, "newUri": B_CONT}]
    }
    created = map_params(
        "workspace/willCreateFiles", "to_server", {"files": [{"uri": A_HOST}]}, up()
    )
    assert created == {"files": [{"uri": A_CONT}]}


def test_configuration_scope_uri_mapped_settings_result_untouched() -> None:
    params = {"items": [{"scopeUri": A_CONT, "section": "pylsp"}, {"section": "sero"}]}
    assert map_params("workspace/configuration", "to_client", params, down()) == {
        "items": [{"scopeUri": A_HOST, "section": "pylsp"}, {"section": "sero"}]
    }
    settings = [{"root": A_HOST}, None]
    fn = up()
    assert map_result("workspace/configuration", "to_server", settings, fn) == settings
    assert fn.calls == []


def test_text_document_content_request() -> None:
    params = {"uri": ONLY + "usr/lib/python3.11/os.py"}
    assert map_params("workspace/textDocumentContent", "to_server", params, up()) == {
        "uri": "file:///usr/lib/python3.11/os.py"
    }


@pytest.mark.parametrize(
    "method",
    [
        "$/progress",
        "$/cancelRequest",
        "pylsp/foo",
        "workspace/executeCommand",
        "textDocument/hover",
    ],
)
def test_methods_without_uri_fields_are_returned_as_is_without_calls(method: str) -> None:
    params = {
        "token": 1,
        "value": {"uri": A_HOST},
        "arguments": [A_HOST],
        "command": A_HOST,
        "textDocument": {"uri": A_HOST} if method == "pylsp/foo" else 1,
    }
    before = copy.deepcopy(params)
    fn = up()
    assert map_params(method, "to_server", params, fn) is params
    assert map_result(method, "to_client", params, fn) is params
    assert params == before and fn.calls == []


def test_in_place_mapping_returns_the_same_object() -> None:
    params = {"textDocument": {"uri": A_HOST}, "position": {"line": 0, "character": 0}}
    assert map_params("textDocument/hover", "to_server", params, up()) is params
    assert params["textDocument"]["uri"] == A_CONT


@pytest.mark.parametrize(
    "payload",
    [
        None,
        3,
        "x",
        [],
        [None, 1, "s", [], {}],
        {},
        {"textDocument": None},
        {"textDocument": "file:///x"},
        {"textDocument": {"uri": 5}},
        {"textDocument": [1, 2]},
        {"edit": {"changes": [A_HOST], "documentChanges": {"uri": 1}}},
        {"edit": {"changes": {A_HOST: None, 5: "x"}, "documentChanges": [None, 7, {"uri": None}]}},
        {"registrations": {"method": "x"}},
        {"registrations": [None, {"method": 5}]},
    ],
)
@pytest.mark.parametrize(
    "method",
    [
        "textDocument/didOpen",
        "workspace/applyEdit",
        "client/registerCapability",
        "textDocument/definition",
    ],
)
def test_malformed_payloads_never_raise(payload: Any, method: str) -> None:
    before = copy.deepcopy(payload)
    for direction in ("to_server", "to_client"):
        map_params(method, direction, payload, Recorder(to_server=direction == "to_server"))
        map_result(method, direction, payload, Recorder(to_server=direction == "to_server"))
    if not isinstance(payload, dict) or "edit" not in payload:
        assert payload == before  # nothing URI-shaped and well-typed in them


def test_uri_fields_of_introspection() -> None:
    definition = uri_fields_of("textDocument/definition")
    assert definition is not None
    assert definition["direction"] == "clientToServer" and definition["type"] == "request"
    assert definition["params"] == {"$.textDocument.uri": "uri"}
    assert definition["result"] == {"$.uri": "uri", "$[].targetUri": "uri", "$[].uri": "uri"}
    watched = uri_fields_of("workspace/didChangeWatchedFiles")
    assert watched is not None and watched["registrationOptions"] == {
        "$.watchers[].globPattern": "glob",
        "$.watchers[].globPattern.baseUri": "uri",
        "$.watchers[].globPattern.baseUri.uri": "uri",
    }
    tokens = uri_fields_of("textDocument/semanticTokens")  # a registration method only
    assert tokens is not None and tokens["type"] is None and tokens["registrationOptions"]
    assert uri_fields_of("vendor/unknown") is None
    init = uri_fields_of("initialize")
    assert init is not None and init["params"]["$.rootPath"] == "path"
