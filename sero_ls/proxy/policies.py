"""What the hub does when several language servers answer for one document: one policy per
method, and the pure functions that merge their answers (../shared/multi-server.md).

Behind the hub the editor sees one client, so the per-feature logic that VS Code and Neovim
apply to several clients side by side has to live here:

* ``MERGE``: ask every capable server, combine the answers in priority order;
* ``FIRST``: ask every capable server, take the first non-null answer in priority order
  (VS Code asks one after another and stops at the first; asking in parallel gives the same
  answer sooner);
* ``OWNER``: only the first capable server in priority order (formatting, rename, semantic
  tokens: one legend, one set of edits);
* ``PRODUCER``: the server that produced the object (every ``*/resolve``, hierarchy
  follow-ups), found by the tag the hub put in the object's ``data``.

Where VS Code and Neovim differ, the module doc of each merge function says which editor the
choice matches. Merge functions take ``[(server key, result)]`` in priority order, results
already URI-mapped to the client, and never raise on odd shapes: an answer that is not what
the protocol says is left out.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, Literal

Kind = Literal["merge", "first", "owner", "producer"]
Answers = Sequence[tuple[str, Any]]

# The key of the hub's tag inside an object's ``data``: {TAG: server key, "d": original}.
TAG = "seroHub"

OWNER = {
    "textDocument/formatting",
    "textDocument/rangeFormatting",
    "textDocument/rangesFormatting",
    "textDocument/onTypeFormatting",
    "textDocument/rename",
    "textDocument/prepareRename",
    "textDocument/semanticTokens/full",
    "textDocument/semanticTokens/full/delta",
    "textDocument/semanticTokens/range",
    "textDocument/willSaveWaitUntil",
    "textDocument/inlineCompletion",
    "textDocument/moniker",
    "textDocument/inlineValue",
}

FIRST = {
    "textDocument/signatureHelp",
    "textDocument/documentHighlight",
    "textDocument/linkedEditingRange",
    "textDocument/prepareCallHierarchy",
    "textDocument/prepareTypeHierarchy",
}

# Requests about an object a server produced: routed back by the object's tag.
PRODUCER = {
    "completionItem/resolve": "params",
    "codeAction/resolve": "params",
    "codeLens/resolve": "params",
    "documentLink/resolve": "params",
    "inlayHint/resolve": "params",
    "workspaceSymbol/resolve": "params",
    "callHierarchy/incomingCalls": "item",
    "callHierarchy/outgoingCalls": "item",
    "typeHierarchy/supertypes": "item",
    "typeHierarchy/subtypes": "item",
}

# Feature names a `disabledFeatures` setting may use, besides full method names.
FEATURE_NAMES = {
    "hover": "textDocument/hover",
    "completion": "textDocument/completion",
    "signatureHelp": "textDocument/signatureHelp",
    "definition": "textDocument/definition",
    "declaration": "textDocument/declaration",
    "typeDefinition": "textDocument/typeDefinition",
    "implementation": "textDocument/implementation",
    "references": "textDocument/references",
    "documentHighlight": "textDocument/documentHighlight",
    "documentSymbol": "textDocument/documentSymbol",
    "codeAction": "textDocument/codeAction",
    "codeLens": "textDocument/codeLens",
    "documentLink": "textDocument/documentLink",
    "documentColor": "textDocument/documentColor",
    "formatting": "textDocument/formatting",
    "rangeFormatting": "textDocument/rangeFormatting",
    "onTypeFormatting": "textDocument/onTypeFormatting",
    "rename": "textDocument/rename",
    "foldingRange": "textDocument/foldingRange",
    "selectionRange": "textDocument/selectionRange",
    "semanticTokens": "textDocument/semanticTokens",
    "inlayHint": "textDocument/inlayHint",
    "diagnostics": "textDocument/publishDiagnostics",
    "workspaceSymbol": "workspace/symbol",
}


def feature_of(method: str) -> set[str]:
    """The names a setting may use to disable ``method`` (its short name, the method itself)."""
    names = {method}
    for short, full in FEATURE_NAMES.items():
        if method == full or method.startswith(full + "/"):
            names.add(short)
    if method in ("textDocument/prepareRename",):
        names.add("rename")
    if method == "textDocument/diagnostic":
        names.add("diagnostics")
    return names


def kind_of(method: str) -> Kind:
    if method in PRODUCER:
        return "producer"
    if method in OWNER:
        return "owner"
    if method in FIRST:
        return "first"
    return "merge"


# ---------------------------------------------------------------- tagging for resolve routing


def tag(obj: Any, key: str) -> Any:
    """Wrap ``obj["data"]`` so that a later resolve can be routed to server ``key``."""
    if isinstance(obj, dict):
        wrapped: dict[str, Any] = {TAG: key}
        if "data" in obj:
            wrapped["d"] = obj["data"]
        obj["data"] = wrapped
    return obj


def untag(obj: Any) -> tuple[str | None, Any]:
    """(server key, the object with its own data back) for an object the hub tagged."""
    if not isinstance(obj, dict):
        return None, obj
    data = obj.get("data")
    if not isinstance(data, dict) or not isinstance(data.get(TAG), str):
        return None, obj
    out = dict(obj)
    if "d" in data:
        out["data"] = data["d"]
    else:
        out.pop("data", None)
    return data[TAG], out


def tag_all(items: Any, key: str) -> Any:
    if isinstance(items, list):
        for it in items:
            tag(it, key)
    return items


# ---------------------------------------------------------------- merge functions


def _lists(answers: Answers) -> list[tuple[str, list[Any]]]:
    return [(k, r) for k, r in answers if isinstance(r, list)]


def concat(answers: Answers) -> list[Any] | None:
    """Every server's list, in priority order; null only when every server said null (both
    editors concatenate: folding ranges, code lenses, inlay hints, colours, symbols)."""
    lists = _lists(answers)
    if not lists and all(r is None for _, r in answers):
        return None
    return [item for _, items in lists for item in items]


def concat_tagged(answers: Answers) -> list[Any] | None:
    """As ``concat``, each object tagged with its producer for its resolve request."""
    for key, items in _lists(answers):
        tag_all(items, key)
    return concat(answers)


def first_non_null(answers: Answers) -> Any:
    """The first answer that is not null, in priority order (VS Code's ``ordered`` walk for
    signature help, document highlights, hierarchies: Neovim would concatenate)."""
    for _, r in answers:
        if r is not None:
            return r
    return None


def first_linked_editing(answers: Answers) -> Any:
    """The first answer with ranges (VS Code: first non-empty, in order)."""
    for _, r in answers:
        if isinstance(r, dict) and r.get("ranges"):
            return r
    return first_non_null(answers)


def first_hierarchy(answers: Answers) -> Any:
    """Hierarchy items of the first server that has any, tagged for the follow-ups."""
    for key, r in answers:
        if isinstance(r, list) and r:
            return tag_all(r, key)
    return first_non_null(answers)


def _markdown(contents: Any) -> str:
    if isinstance(contents, str):
        return contents
    if isinstance(contents, dict):
        if "kind" in contents:
            value = str(contents.get("value", ""))
            return value if contents.get("kind") == "markdown" else _fence("", value)
        if "language" in contents:
            return _fence(str(contents.get("language")), str(contents.get("value", "")))
    if isinstance(contents, list):
        return "\n\n".join(s for s in (_markdown(c) for c in contents) if s)
    return ""


def _fence(language: str, text: str) -> str:
    if not text:
        return ""
    return f"```{language}\n{text}\n```"


def merge_hover(answers: Answers) -> Any:
    """Every server's hover in order, joined by a rule (VS Code shows one section per
    provider, Neovim joins them with ``---``); the first server's range."""
    parts = [(k, r) for k, r in answers if isinstance(r, dict) and r.get("contents")]
    texts = [(k, r, _markdown(r.get("contents"))) for k, r in parts]
    texts = [t for t in texts if t[2].strip()]
    if not texts:
        return first_non_null(answers)
    if len(texts) == 1:
        return texts[0][1]
    out: dict[str, Any] = {
        "contents": {"kind": "markdown", "value": "\n\n---\n\n".join(t for _, _, t in texts)}
    }
    for _, r, _ in texts:
        if "range" in r:
            out["range"] = r["range"]
            break
    return out


def _completion_items(result: Any) -> tuple[list[Any], bool]:
    """(items with the list's itemDefaults applied, isIncomplete)."""
    if isinstance(result, list):
        return result, False
    if not isinstance(result, dict):
        return [], False
    found = result.get("items")
    items: list[Any] = found if isinstance(found, list) else []
    defaults = result.get("itemDefaults")
    if isinstance(defaults, dict):
        items = [apply_item_defaults(it, defaults) for it in items]
    return items, bool(result.get("isIncomplete"))


def apply_item_defaults(item: Any, defaults: dict[str, Any]) -> Any:
    """A CompletionItem with CompletionList.itemDefaults applied (LSP 3.17): a merged list
    cannot keep one server's defaults."""
    if not isinstance(item, dict):
        return item
    out = dict(item)
    for key in ("commitCharacters", "insertTextFormat", "insertTextMode", "data"):
        if key in defaults and key not in out:
            out[key] = defaults[key]
    edit_range = defaults.get("editRange")
    if edit_range is not None and "textEdit" not in out:
        text = out.get("textEditText", out.get("label", ""))
        if isinstance(edit_range, dict) and "insert" in edit_range:
            out["textEdit"] = {"newText": text, **edit_range}
        else:
            out["textEdit"] = {"newText": text, "range": edit_range}
    return out


def merge_completion(answers: Answers) -> Any:
    """Every server's items (each with its own defaults applied and tagged for resolve),
    ``isIncomplete`` OR-ed: both editors merge; each keeps its own sortText."""
    if all(r is None for _, r in answers):
        return None
    items: list[Any] = []
    incomplete = False
    for key, r in answers:
        its, inc = _completion_items(r)
        incomplete = incomplete or inc
        items.extend(tag_all(its, key))
    return {"isIncomplete": incomplete, "items": items}


def _as_link(loc: dict[str, Any]) -> dict[str, Any]:
    if "targetUri" in loc:
        return loc
    return {
        "targetUri": loc.get("uri"),
        "targetRange": loc.get("range"),
        "targetSelectionRange": loc.get("range"),
    }


def _as_location(loc: dict[str, Any]) -> dict[str, Any]:
    if "targetUri" in loc:
        return {
            "uri": loc.get("targetUri"),
            "range": loc.get("targetSelectionRange", loc.get("targetRange")),
        }
    return loc


def merge_locations(answers: Answers, link_support: bool = True) -> Any:
    """Definitions, declarations, implementations, type definitions, references: every
    server's locations in order, in one shape (links when the editor takes them and a
    server sent one), exact duplicates dropped (VS Code drops them too)."""
    flat: list[dict[str, Any]] = []
    for _, r in answers:
        for loc in r if isinstance(r, list) else [r] if isinstance(r, dict) else []:
            if isinstance(loc, dict):
                flat.append(loc)
    if not flat:
        return first_non_null(answers)
    links = link_support and any("targetUri" in loc for loc in flat)
    shaped = [_as_link(loc) if links else _as_location(loc) for loc in flat]
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for loc in shaped:
        key = json.dumps(loc, sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append(loc)
    return out


def _pos(p: Any) -> tuple[int, int]:
    if isinstance(p, dict):
        return (int(p.get("line", 0) or 0), int(p.get("character", 0) or 0))
    return (0, 0)


def _span(r: Any) -> tuple[tuple[int, int], tuple[int, int]]:
    r = r if isinstance(r, dict) else {}
    return _pos(r.get("start")), _pos(r.get("end"))


def merge_links(answers: Answers) -> Any:
    """Document links: a link that overlaps or touches one of a higher-priority server is
    dropped (VS Code's getLinks); each tagged for documentLink/resolve."""
    if all(r is None for _, r in answers):
        return None
    kept: list[Any] = []
    spans: list[tuple[tuple[int, int], tuple[int, int]]] = []
    for key, items in _lists(answers):
        for link in items:
            if not isinstance(link, dict):
                continue
            s, e = _span(link.get("range"))
            if any(not (e < s2 or e2 < s) for s2, e2 in spans):
                continue
            kept.append(tag(link, key))
        spans += [_span(li.get("range")) for li in kept if isinstance(li, dict)]
    return kept


def _contains(outer: Any, inner: Any) -> bool:
    (s1, e1), (s2, e2) = _span(outer), _span(inner)
    return s1 <= s2 and e2 <= e1


def merge_selection(answers: Answers) -> Any:
    """Selection ranges: per position, every server's chain flattened, sorted inner to outer,
    ranges that do not nest dropped, one chain rebuilt (VS Code's smartSelect)."""
    lists = _lists(answers)
    if not lists:
        return first_non_null(answers)
    n = max(len(items) for _, items in lists)
    out: list[Any] = []
    for i in range(n):
        ranges: list[Any] = []
        for _, items in lists:
            node = items[i] if i < len(items) else None
            while isinstance(node, dict):
                ranges.append(node.get("range"))
                node = node.get("parent")
        chain: list[Any] = []
        for r in sorted(ranges, key=_area):
            if chain and (r == chain[-1] or not _contains(r, chain[-1])):
                continue
            chain.append(r)
        node_out: Any = None
        for r in reversed(chain):
            node_out = {"range": r, **({"parent": node_out} if node_out else {})}
        out.append(
            node_out
            or {"range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}}
        )
    return out


def _area(r: Any) -> tuple[int, int]:
    (sl, sc), (el, ec) = _span(r)
    return (el - sl, (ec - sc) if el == sl else ec + 10**6 - sc)


def _symbol_info(sym: dict[str, Any], uri: str, container: str | None) -> list[dict[str, Any]]:
    info: dict[str, Any] = {
        "name": sym.get("name"),
        "kind": sym.get("kind"),
        "location": {"uri": uri, "range": sym.get("range")},
    }
    for key in ("tags", "deprecated"):
        if key in sym:
            info[key] = sym[key]
    if container:
        info["containerName"] = container
    out = [info]
    for child in sym.get("children") or []:
        if isinstance(child, dict):
            out += _symbol_info(child, uri, str(sym.get("name")))
    return out


def merge_symbols(answers: Answers, uri: str) -> Any:
    """Document symbols of every server in order, in one shape: hierarchical when all are,
    else flattened to SymbolInformation (a single provider cannot give VS Code one outline
    group per server; Neovim shows the last answer only)."""
    lists = [(k, r) for k, r in _lists(answers) if r]
    if not lists:
        return first_non_null(answers) if all(r is None for _, r in answers) else []
    nested = all(isinstance(s, dict) and "selectionRange" in s for _, r in lists for s in r)
    if nested or len(lists) == 1:
        return [s for _, r in lists for s in r]
    out: list[Any] = []
    for _, r in lists:
        for s in r:
            if isinstance(s, dict):
                out += _symbol_info(s, uri, None) if "selectionRange" in s else [s]
    return out


MERGERS: dict[str, Callable[[Answers], Any]] = {
    "textDocument/hover": merge_hover,
    "textDocument/completion": merge_completion,
    "textDocument/codeAction": concat_tagged,
    "textDocument/codeLens": concat_tagged,
    "textDocument/inlayHint": concat_tagged,
    "workspace/symbol": concat_tagged,
    "textDocument/documentLink": merge_links,
    "textDocument/foldingRange": concat,
    "textDocument/documentColor": concat,
    "textDocument/selectionRange": merge_selection,
    "textDocument/signatureHelp": first_non_null,
    "textDocument/documentHighlight": first_non_null,
    "textDocument/linkedEditingRange": first_linked_editing,
    "textDocument/prepareCallHierarchy": first_hierarchy,
    "textDocument/prepareTypeHierarchy": first_hierarchy,
}
LOCATION_METHODS = {
    "textDocument/definition",
    "textDocument/declaration",
    "textDocument/typeDefinition",
    "textDocument/implementation",
    "textDocument/references",
}


def merge(method: str, answers: Answers, *, uri: str = "", link_support: bool = True) -> Any:
    """The one answer the editor gets for ``method`` from several servers' answers."""
    if method in LOCATION_METHODS:
        return merge_locations(answers, link_support)
    if method == "textDocument/documentSymbol":
        return merge_symbols(answers, uri)
    merger = MERGERS.get(method)
    if merger is not None:
        return merger(answers)
    if kind_of(method) == "merge":
        # A method without a rule of its own (a vendor or future one): lists concatenate,
        # anything else is the first server's.
        lists = _lists(answers)
        if lists and len(lists) == len([r for _, r in answers if r is not None]):
            return concat(answers)
    return first_non_null(answers)


def tag_single(method: str, result: Any, key: str) -> Any:
    """Tag what one server produced when the editor may later resolve it through the hub
    (only needed when several servers may answer the same method for a folder)."""
    if method in (
        "textDocument/codeAction",
        "textDocument/codeLens",
        "textDocument/inlayHint",
        "workspace/symbol",
        "textDocument/documentLink",
    ):
        return tag_all(result, key)
    if method == "textDocument/completion":
        return merge_completion([(key, result)])
    if method in ("textDocument/prepareCallHierarchy", "textDocument/prepareTypeHierarchy"):
        return tag_all(result, key)
    return result
