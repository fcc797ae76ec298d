"""Generate ``uri_table.json``: where URIs sit in every LSP message, from the LSP meta model.

lsprotocol's Python types erase ``DocumentUri``/``URI`` to ``str``; the meta model
(``shared/lsp/metaModel.json``) does not. This module walks it once and writes, per method,
the paths of every field that the URI mapper (:mod:`sero_ls.proxy.urimap`) must rewrite.

Regenerate after a meta model update (a unit test fails until you do)::

    python -m sero_ls.proxy.uri_table_gen [--meta-model PATH] [--output PATH] [--check]

Path syntax (one string per field, rooted at the params/result value ``$``):

* ``.name``   the property ``name`` of an object
* ``[]``      every element of an array
* ``[N]``     element N of a tuple
* ``{}``      every value of a map
* ``{key}``   the keys of a map (always the last segment)

Each path maps to a kind: ``"uri"`` (DocumentUri/URI), ``"glob"`` (a glob pattern string,
absolute globs need mapping), ``"path"`` (a filesystem path: ``initialize`` rootPath), or
``"@Name"`` (apply ``definitions[Name]`` here: the marker for recursive types).

Alternatives of an ``or`` are merged: ``Location | LocationLink`` yields both ``.uri`` and
``.targetUri``; ``baseUri: WorkspaceFolder | URI`` yields ``.baseUri`` (when a string) and
``.baseUri.uri`` (when an object). The walker applies a path only where the value has the
expected shape, so the merged union is safe. ``LSPAny`` never carries a URI by construction,
so ``data``, command ``arguments``, ``initializationOptions`` and settings are never listed.

Direction: ``clientToServer`` request params travel to the server and its result/partialResult
to the client; the reverse for ``serverToClient``. ``registrationOptions`` is keyed by the
registration method (``registrationMethod`` or the method itself) because
``client/registerCapability`` carries the options as ``LSPAny``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

log = logging.getLogger(__name__)

JsonObj = Mapping[str, Any]
Paths = dict[str, str]

TABLE_PATH: Final = Path(__file__).with_name("uri_table.json")
META_MODEL_ENV: Final = "SERO_LSP_META_MODEL"

URI_BASES: Final = frozenset({"DocumentUri", "URI"})
# Type aliases whose string values are glob patterns (GlobPattern = Pattern | RelativePattern).
GLOB_ALIASES: Final = frozenset({"Pattern"})

# Properties the meta model types wrongly for our purpose, with the kind they really hold.
# None removes a property from the walk.
OVERRIDES: Final[Mapping[tuple[str, str], str | None]] = {
    # A filesystem path, not a URI: the caller maps it with a path function.
    ("_InitializeParams", "rootPath"): "path",
    # Typed `string` but documented "A file:// URI" (workspace/did|will{Create,Rename,Delete}Files).
    ("FileCreate", "uri"): "uri",
    ("FileRename", "oldUri"): "uri",
    ("FileRename", "newUri"): "uri",
    ("FileDelete", "uri"): "uri",
    # Typed `string`, documented as a glob pattern (file operation filters).
    ("FileOperationPattern", "glob"): "glob",
    # Relative to baseUri by definition (baseUri is mapped instead): never an absolute glob.
    ("RelativePattern", "pattern"): None,
}

DIRECTIONS: Final = ("clientToServer", "serverToClient", "both")


class MetaModelError(ValueError):
    """The meta model has a shape this generator does not understand."""


def default_meta_model_path() -> Path:
    """``$SERO_LSP_META_MODEL``, else ``<repo>/../shared/lsp/metaModel.json``."""
    env = os.environ.get(META_MODEL_ENV)
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[2]
    return repo.parent / "shared" / "lsp" / "metaModel.json"


class _Walker:
    """Expands meta model types into path -> kind dicts, pruning types without URIs."""

    def __init__(self, meta: JsonObj) -> None:
        self.structures: dict[str, JsonObj] = {s["name"]: s for s in meta.get("structures", [])}
        self.aliases: dict[str, JsonObj] = {a["name"]: a for a in meta.get("typeAliases", [])}
        self.enums: frozenset[str] = frozenset(e["name"] for e in meta.get("enumerations", []))
        self._carriers = self._find_carriers()
        self.definitions: dict[str, Paths] = {}
        self._pending: list[str] = []

    # -- which named types can reach a URI at all -------------------------------------------
    def _find_carriers(self) -> frozenset[str]:
        edges: dict[str, set[str]] = {}
        leaves: set[str] = set(GLOB_ALIASES)
        for name, struct in self.structures.items():
            refs: set[str] = set()
            for parent in (*struct.get("extends", []), *struct.get("mixins", [])):
                refs |= self._refs_of(parent)
            for prop in struct.get("properties", []):
                key = (name, prop["name"])
                if key in OVERRIDES:
                    if OVERRIDES[key] is not None:
                        leaves.add(name)
                    continue
                if self._has_uri_base(prop["type"]):
                    leaves.add(name)
                refs |= self._refs_of(prop["type"])
            edges[name] = refs
        for name, alias in self.aliases.items():
            if name in GLOB_ALIASES:
                continue
            if self._has_uri_base(alias["type"]):
                leaves.add(name)
            edges[name] = self._refs_of(alias["type"])
        # Reverse reachability from the leaves.
        reverse: dict[str, set[str]] = {}
        for src, dsts in edges.items():
            for dst in dsts:
                reverse.setdefault(dst, set()).add(src)
        carriers = set(leaves)
        todo = list(leaves)
        while todo:
            for src in reverse.get(todo.pop(), ()):
                if src not in carriers:
                    carriers.add(src)
                    todo.append(src)
        return frozenset(carriers)

    @staticmethod
    def _subtypes(t: JsonObj) -> Iterator[JsonObj]:
        kind = t["kind"]
        if kind == "array":
            yield t["element"]
        elif kind == "map":
            yield t["key"]
            yield t["value"]
        elif kind in ("or", "and", "tuple"):
            yield from t["items"]
        elif kind == "literal":
            for prop in t["value"]["properties"]:
                yield prop["type"]

    def _refs_of(self, t: JsonObj) -> set[str]:
        if t["kind"] == "reference":
            return {t["name"]}
        out: set[str] = set()
        for sub in self._subtypes(t):
            out |= self._refs_of(sub)
        return out

    def _has_uri_base(self, t: JsonObj) -> bool:
        if t["kind"] == "base":
            return t["name"] in URI_BASES
        return any(self._has_uri_base(sub) for sub in self._subtypes(t))

    # -- expansion ---------------------------------------------------------------------------
    def paths(self, t: JsonObj | None) -> Paths:
        """Paths (rooted at ``$``) of URI-bearing fields in a value of type ``t``."""
        out: Paths = {}
        if t is not None:
            self._expand(t, "$", (), out)
        self._flush_definitions()
        return out

    def _flush_definitions(self) -> None:
        while self._pending:
            name = self._pending.pop()
            if name in self.definitions:
                continue
            self.definitions[name] = {}  # placeholder: a self-reference resolves to itself
            body: Paths = {}
            self._expand_named(name, "$", (name,), body)
            self.definitions[name] = body

    @staticmethod
    def _emit(out: Paths, path: str, kind: str) -> None:
        previous = out.setdefault(path, kind)
        if previous != kind:
            raise MetaModelError(f"{path} is both {previous!r} and {kind!r}")

    def _expand(self, t: JsonObj, path: str, stack: tuple[str, ...], out: Paths) -> None:
        kind = t["kind"]
        if kind == "base":
            if t["name"] in URI_BASES:
                self._emit(out, path, "uri")
        elif kind == "reference":
            name = t["name"]
            if name in GLOB_ALIASES:
                self._emit(out, path, "glob")
            elif name in self._carriers:
                if name in stack:
                    self._emit(out, path, "@" + name)
                    if name not in self.definitions:
                        self._pending.append(name)
                else:
                    self._expand_named(name, path, (*stack, name), out)
        elif kind == "array":
            self._expand(t["element"], path + "[]", stack, out)
        elif kind == "map":
            key = t["key"]
            if key["kind"] == "base" and key["name"] in URI_BASES:
                self._emit(out, path + "{key}", "uri")
            elif self._has_uri_base(key) or self._refs_of(key) & self._carriers:
                raise MetaModelError(f"{path}: unsupported map key type {key}")
            self._expand(t["value"], path + "{}", stack, out)
        elif kind in ("or", "and"):
            for item in t["items"]:
                self._expand(item, path, stack, out)
        elif kind == "tuple":
            for i, item in enumerate(t["items"]):
                self._expand(item, f"{path}[{i}]", stack, out)
        elif kind == "literal":
            for prop in t["value"]["properties"]:
                self._expand(prop["type"], f"{path}.{prop['name']}", stack, out)
        elif kind not in ("stringLiteral", "integerLiteral", "booleanLiteral"):
            raise MetaModelError(f"{path}: unknown type kind {kind!r}")

    def _expand_named(self, name: str, path: str, stack: tuple[str, ...], out: Paths) -> None:
        if name in self.aliases:
            self._expand(self.aliases[name]["type"], path, stack, out)
            return
        if name in self.enums:
            return
        if name not in self.structures:
            raise MetaModelError(f"{path}: unknown type {name!r}")
        for prop_name, (owner, prop) in self._properties(name).items():
            sub = f"{path}.{prop_name}"
            key = (owner, prop_name)
            if key in OVERRIDES:
                override = OVERRIDES[key]
                if override is not None:
                    self._emit(out, sub, override)
                continue
            self._expand(prop["type"], sub, stack, out)

    def _properties(self, name: str) -> dict[str, tuple[str, JsonObj]]:
        """Own, inherited (extends) and mixed-in properties: name -> (declaring struct, prop)."""
        struct = self.structures[name]
        props: dict[str, tuple[str, JsonObj]] = {}
        for parent in (*struct.get("extends", []), *struct.get("mixins", [])):
            if parent["kind"] != "reference":
                raise MetaModelError(f"{name}: unsupported base {parent}")
            props.update(self._properties(parent["name"]))
        for prop in struct.get("properties", []):
            props[prop["name"]] = (name, prop)
        return props


def _slots(entry: JsonObj, walker: _Walker) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for slot in ("params", "result", "partialResult"):
        if slot in entry:
            paths = walker.paths(entry[slot])
            if paths:
                out[slot] = dict(sorted(paths.items()))
    return out


def generate(meta: JsonObj) -> dict[str, Any]:
    """The URI table for a parsed meta model (see the module docstring for its format)."""
    walker = _Walker(meta)
    methods: dict[str, Any] = {}
    registration: dict[str, Paths] = {}
    for type_, entries in (("request", meta["requests"]), ("notification", meta["notifications"])):
        for entry in entries:
            direction = entry["messageDirection"]
            if direction not in DIRECTIONS:
                raise MetaModelError(f"{entry['method']}: unknown direction {direction!r}")
            params = entry.get("params")
            if isinstance(params, list):
                entry = {**entry, "params": {"kind": "tuple", "items": params}}
            methods[entry["method"]] = {"type": type_, "direction": direction}
            methods[entry["method"]].update(_slots(entry, walker))
            if "registrationOptions" in entry:
                reg_method = entry.get("registrationMethod", entry["method"])
                paths = walker.paths(entry["registrationOptions"])
                merged = registration.setdefault(reg_method, {})
                for path, kind in paths.items():
                    walker._emit(merged, path, kind)
    return {
        "$comment": (
            "Generated from shared/lsp/metaModel.json by `python -m sero_ls.proxy.uri_table_gen`;"
            " do not edit. Format: see that module's docstring."
        ),
        "metaModelVersion": meta.get("metaData", {}).get("version"),
        "overrides": {f"{s}.{p}": k for (s, p), k in sorted(OVERRIDES.items())},
        "methods": dict(sorted(methods.items())),
        "registrationOptions": {
            k: dict(sorted(v.items())) for k, v in sorted(registration.items()) if v
        },
        "definitions": {k: dict(sorted(v.items())) for k, v in sorted(walker.definitions.items())},
    }


def render(table: Mapping[str, Any]) -> str:
    """The committed text form: stable key order, one path per line, trailing newline."""
    return json.dumps(table, indent=1, ensure_ascii=False) + "\n"


def generate_text(meta_model: Path) -> str:
    with meta_model.open(encoding="utf-8") as f:
        return render(generate(json.load(f)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sero_ls.proxy.uri_table_gen",
        description="Generate the URI path table of sero-ls's proxy from the LSP meta model.",
    )
    parser.add_argument(
        "--meta-model",
        type=Path,
        default=None,
        help=f"metaModel.json (default: ${META_MODEL_ENV}, else "
        "<repo>/../shared/lsp/metaModel.json)",
    )
    parser.add_argument("--output", type=Path, default=TABLE_PATH, help="default: %(default)s")
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not write; exit 1 when the output file is out of date",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    meta_model: Path = args.meta_model or default_meta_model_path()
    if not meta_model.is_file():
        log.error(
            "meta model not found: %s (pass --meta-model or set %s)", meta_model, META_MODEL_ENV
        )
        return 2
    text = generate_text(meta_model)
    output: Path = args.output
    current = output.read_text(encoding="utf-8") if output.is_file() else None
    if args.check:
        if current != text:
            log.error("%s is out of date: run python -m sero_ls.proxy.uri_table_gen", output)
            return 1
        log.info("%s is up to date", output)
        return 0
    if current != text:
        output.write_text(text, encoding="utf-8")
        log.info("wrote %s", output)
    else:
        log.info("%s unchanged", output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
