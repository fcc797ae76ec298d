"""The capabilities the hub advertises: what its merge policies can deliver (pure).

Neovim and other clients without dynamic registration only use what the initialize
result says, so the hub advertises the union of its servers' static capabilities
(servers in priority order): the first server's value for one-owner providers (formatting,
rename, semantic tokens with their one legend), unions of trigger characters, code action
kinds (omitted when any server accepts every kind) and commands, `resolveProvider` where
any server resolves, and incremental document sync (sero-ls keeps the text and sends full
text to servers that want it). See ../shared/multi-server.md, "Capability advertisement".
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

INCREMENTAL = 2
FULL = 1
# Providers whose objects the editor may resolve: resolveProvider if any server resolves.
RESOLVABLE = (
    "codeLensProvider",
    "documentLinkProvider",
    "inlayHintProvider",
    "workspaceSymbolProvider",
)


def sync_kind(caps: dict[str, Any]) -> int:
    """The TextDocumentSyncKind a server asked for (0 none, 1 full, 2 incremental)."""
    sync = caps.get("textDocumentSync")
    if isinstance(sync, int):
        return sync
    if isinstance(sync, dict):
        change = sync.get("change", 0)
        return change if isinstance(change, int) else 0
    return 0


def wants_save_text(caps: dict[str, Any]) -> bool:
    sync = caps.get("textDocumentSync")
    if isinstance(sync, dict):
        save = sync.get("save")
        return isinstance(save, dict) and bool(save.get("includeText"))
    return False


def _union(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        for item in v or []:
            if item not in out:
                out.append(item)
    return out


def merge(backends: Sequence[dict[str, Any]], own_commands: Sequence[str]) -> dict[str, Any]:
    """ServerCapabilities (raw dict) for the hub, from its backends' capabilities."""
    merged: dict[str, Any] = {}
    for caps in backends:
        for key, value in caps.items():
            if value in (None, False):
                continue
            if key not in merged:
                merged[key] = copy.deepcopy(value)
                continue
            current = merged[key]
            if key in ("completionProvider", "signatureHelpProvider") and isinstance(value, dict):
                if not isinstance(current, dict):
                    current = merged[key] = {}
                for trig in ("triggerCharacters", "retriggerCharacters", "allCommitCharacters"):
                    if trig in value or trig in current:
                        current[trig] = _union([current.get(trig), value.get(trig)])
                if value.get("resolveProvider"):
                    current["resolveProvider"] = True
            elif key == "codeActionProvider":
                if isinstance(value, dict) and isinstance(current, dict):
                    if "codeActionKinds" in current and "codeActionKinds" in value:
                        current["codeActionKinds"] = _union(
                            [current.get("codeActionKinds"), value.get("codeActionKinds")]
                        )
                    else:  # a server that takes every kind: VS Code must ask it for any
                        current.pop("codeActionKinds", None)
                    current["resolveProvider"] = bool(
                        current.get("resolveProvider") or value.get("resolveProvider")
                    )
                else:  # `true`: every kind
                    merged[key] = {
                        "resolveProvider": bool(
                            isinstance(current, dict) and current.get("resolveProvider")
                        )
                    }
            elif key in RESOLVABLE and isinstance(value, dict):
                if not isinstance(current, dict):
                    current = merged[key] = {}
                if value.get("resolveProvider"):
                    current["resolveProvider"] = True
            elif (
                key == "renameProvider" and isinstance(value, dict) and value.get("prepareProvider")
            ):
                merged[key] = {
                    **(current if isinstance(current, dict) else {}),
                    "prepareProvider": True,
                }
            elif key == "documentOnTypeFormattingProvider" and isinstance(value, dict):
                if isinstance(current, dict):
                    more = _union(
                        [
                            current.get("moreTriggerCharacter"),
                            [value.get("firstTriggerCharacter")],
                            value.get("moreTriggerCharacter"),
                        ]
                    )
                    current["moreTriggerCharacter"] = [
                        c for c in more if c != current.get("firstTriggerCharacter")
                    ]
            elif key == "workspace" and isinstance(value, dict) and isinstance(current, dict):
                for sub, subval in value.items():
                    current.setdefault(sub, copy.deepcopy(subval))
            elif key == "experimental" and isinstance(value, dict) and isinstance(current, dict):
                for sub, subval in value.items():
                    current.setdefault(sub, copy.deepcopy(subval))
            # any other provider: the first backend's value stands
    commands = _union(
        [(c.get("executeCommandProvider") or {}).get("commands") for c in backends]
        + [list(own_commands)]
    )
    merged["executeCommandProvider"] = {"commands": commands}
    save_text = any(wants_save_text(c) for c in backends)
    merged["textDocumentSync"] = {
        "openClose": True,
        "change": INCREMENTAL,
        "willSave": any(_sync_flag(c, "willSave") for c in backends),
        "willSaveWaitUntil": any(_sync_flag(c, "willSaveWaitUntil") for c in backends),
        "save": {"includeText": save_text},
    }
    action = merged.get("codeActionProvider")
    if not action:
        merged["codeActionProvider"] = {"codeActionKinds": ["quickfix"]}
    elif isinstance(action, dict) and "codeActionKinds" in action:
        action["codeActionKinds"] = _union([action.get("codeActionKinds"), ["quickfix"]])
    if any(c.get("diagnosticProvider") for c in backends):
        pull = [
            c["diagnosticProvider"]
            for c in backends
            if isinstance(c.get("diagnosticProvider"), dict)
        ]
        merged["diagnosticProvider"] = {
            "identifier": "sero-ls",
            "interFileDependencies": any(p.get("interFileDependencies") for p in pull),
            "workspaceDiagnostics": any(p.get("workspaceDiagnostics") for p in pull),
        }
    ws = merged.setdefault("workspace", {})
    ws["workspaceFolders"] = {"supported": True, "changeNotifications": True}
    merged.pop("positionEncoding", None)  # utf-16, the default, end to end
    return merged


def _sync_flag(caps: dict[str, Any], name: str) -> bool:
    sync = caps.get("textDocumentSync")
    return isinstance(sync, dict) and bool(sync.get(name))


# Which capability a request needs, to pick the backend that can answer it.
METHOD_CAPABILITY = {
    "textDocument/hover": "hoverProvider",
    "textDocument/definition": "definitionProvider",
    "textDocument/declaration": "declarationProvider",
    "textDocument/typeDefinition": "typeDefinitionProvider",
    "textDocument/implementation": "implementationProvider",
    "textDocument/references": "referencesProvider",
    "textDocument/documentHighlight": "documentHighlightProvider",
    "textDocument/documentSymbol": "documentSymbolProvider",
    "textDocument/completion": "completionProvider",
    "completionItem/resolve": "completionProvider",
    "textDocument/signatureHelp": "signatureHelpProvider",
    "textDocument/codeAction": "codeActionProvider",
    "codeAction/resolve": "codeActionProvider",
    "textDocument/codeLens": "codeLensProvider",
    "codeLens/resolve": "codeLensProvider",
    "textDocument/documentLink": "documentLinkProvider",
    "documentLink/resolve": "documentLinkProvider",
    "textDocument/documentColor": "colorProvider",
    "textDocument/colorPresentation": "colorProvider",
    "textDocument/formatting": "documentFormattingProvider",
    "textDocument/rangeFormatting": "documentRangeFormattingProvider",
    "textDocument/rangesFormatting": "documentRangeFormattingProvider",
    "textDocument/onTypeFormatting": "documentOnTypeFormattingProvider",
    "textDocument/rename": "renameProvider",
    "textDocument/prepareRename": "renameProvider",
    "textDocument/foldingRange": "foldingRangeProvider",
    "textDocument/selectionRange": "selectionRangeProvider",
    "textDocument/prepareCallHierarchy": "callHierarchyProvider",
    "textDocument/semanticTokens/full": "semanticTokensProvider",
    "textDocument/semanticTokens/full/delta": "semanticTokensProvider",
    "textDocument/semanticTokens/range": "semanticTokensProvider",
    "textDocument/linkedEditingRange": "linkedEditingRangeProvider",
    "textDocument/moniker": "monikerProvider",
    "textDocument/prepareTypeHierarchy": "typeHierarchyProvider",
    "textDocument/inlineValue": "inlineValueProvider",
    "textDocument/inlayHint": "inlayHintProvider",
    "textDocument/diagnostic": "diagnosticProvider",
    "textDocument/inlineCompletion": "inlineCompletionProvider",
}


def supports(caps: dict[str, Any], method: str) -> bool:
    key = METHOD_CAPABILITY.get(method)
    return key is None or caps.get(key) not in (None, False)
