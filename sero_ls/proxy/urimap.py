"""Rewrite the URI-typed fields of raw LSP messages, and nothing else.

The proxy forwards messages as ``json.loads`` dicts. This module applies a caller's mapping
function to exactly the fields that ``uri_table.json`` lists for a method (generated from the
LSP meta model by :mod:`sero_ls.proxy.uri_table_gen`): document text, ``data``, command
``arguments``, settings and every other string stay untouched, even when they contain a URI.

* ``map_params(method, direction, params, fn)`` maps a request's or notification's params.
  ``client/registerCapability`` also maps each registration's ``registerOptions`` with the
  paths of that registration's own method (``workspace/didChangeWatchedFiles`` watchers...).
* ``map_result(method, direction, result, fn)`` maps the result of request ``method``
  travelling in ``direction`` (a backend's ``textDocument/definition`` result goes to_client).
* ``map_partial_result(...)`` maps a ``$/progress`` value that carries a partial result of
  ``method`` (the caller knows which request owns the partialResultToken).

The value is mutated in place and returned (new strings are stored into their parent
container; map keys are rebuilt in the same dict). Unknown methods, a direction the protocol
does not define for the method, methods without URI fields and malformed values (None, wrong
types, missing keys) are returned unchanged without raising.

The table is compiled on first use into a tree of :class:`_Node` per (method, direction): walking
touches only the branches that can hold a URI, and a method without URI fields costs one dict
lookup.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Mapping
from importlib import resources
from typing import Any, Final, Literal, Protocol, cast

log = logging.getLogger(__name__)

Kind = Literal["uri", "path", "glob"]
Direction = Literal["to_server", "to_client"]
KINDS: Final[frozenset[str]] = frozenset({"uri", "path", "glob"})


class UriMapper(Protocol):
    def __call__(self, value: str, kind: Kind) -> str:
        """The mapped value; ``value`` itself when the mapping does not apply."""
        ...


class _Node:
    """Where URIs sit inside one value. Every member is optional; the walker applies each part
    only when the value has the matching JSON type (string / object / array)."""

    __slots__ = ("fields", "flat", "index", "items", "key_kind", "kind", "leaves", "refs", "values")

    def __init__(self) -> None:
        self.kind: Kind | None = None  # the value itself, when it is a string
        self.leaves: tuple[tuple[str, Kind], ...] = ()  # properties that are just a URI string
        self.fields: tuple[tuple[str, _Node], ...] = ()  # properties with more inside
        self.items: _Node | None = None  # every element of an array
        self.index: tuple[tuple[int, _Node], ...] = ()  # elements of a tuple
        self.values: _Node | None = None  # every value of a map
        self.key_kind: Kind | None = None  # the keys of a map
        self.refs: tuple[_Node, ...] = ()  # recursive definitions applied here too
        self.flat = False  # only `leaves`: array elements are mapped inline (Location[])

    def is_leaf(self) -> bool:
        return self.kind is not None and not (
            self.leaves
            or self.fields
            or self.items
            or self.index
            or self.values
            or self.key_kind
            or self.refs
        )


def _tokens(path: str) -> list[str]:
    """``$.a[].b{}{key}[0]`` -> ``['.a', '[]', '.b', '{}', '{key}', '[0]']``."""
    if not path.startswith("$"):
        raise ValueError(f"path must start with '$': {path!r}")
    out: list[str] = []
    i, n = 1, len(path)
    while i < n:
        c = path[i]
        if c == ".":
            j = i + 1
            while j < n and path[j] not in ".[{":
                j += 1
            if j == i + 1:
                raise ValueError(f"empty field name in {path!r}")
            out.append(path[i:j])
            i = j
        elif c in "[{":
            j = path.index("]" if c == "[" else "}", i) + 1
            out.append(path[i:j])
            i = j
        else:
            raise ValueError(f"unexpected {c!r} at {i} in {path!r}")
    return out


class _Builder:
    """Mutable trie used while compiling; frozen into :class:`_Node` afterwards."""

    def __init__(self) -> None:
        self.kind: Kind | None = None
        self.fields: dict[str, _Builder] = {}
        self.items: _Builder | None = None
        self.index: dict[int, _Builder] = {}
        self.values: _Builder | None = None
        self.key_kind: Kind | None = None
        self.refs: list[str] = []

    def add(self, path: str, kind: str) -> None:
        node = self
        for tok in _tokens(path):
            if tok == "{key}":
                node.key_kind = _check_kind(kind, path)
                return
            if tok.startswith("."):
                node = node.fields.setdefault(tok[1:], _Builder())
            elif tok == "[]":
                node.items = node.items or _Builder()
                node = node.items
            elif tok == "{}":
                node.values = node.values or _Builder()
                node = node.values
            else:
                node = node.index.setdefault(int(tok[1:-1]), _Builder())
        if kind.startswith("@"):
            node.refs.append(kind[1:])
        else:
            node.kind = _check_kind(kind, path)

    def freeze(self, into: _Node, definitions: Mapping[str, _Node]) -> _Node:
        def sub(b: _Builder | None) -> _Node | None:
            return None if b is None else b.freeze(_Node(), definitions)

        into.kind = self.kind
        children = [(k, v.freeze(_Node(), definitions)) for k, v in self.fields.items()]
        into.leaves = tuple((k, v.kind) for k, v in children if v.kind and v.is_leaf())
        into.fields = tuple((k, v) for k, v in children if not v.is_leaf())
        into.items = sub(self.items)
        into.index = tuple((k, v.freeze(_Node(), definitions)) for k, v in self.index.items())
        into.values = sub(self.values)
        into.key_kind = self.key_kind
        into.refs = tuple(definitions[name] for name in self.refs)
        into.flat = bool(into.leaves) and not (
            into.kind
            or into.fields
            or into.items
            or into.index
            or into.values
            or into.key_kind
            or into.refs
        )
        return into


def _check_kind(kind: str, path: str) -> Kind:
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r} for {path!r}")
    return cast(Kind, kind)


def _compile(
    paths: Mapping[str, str], definitions: Mapping[str, _Node], into: _Node | None = None
) -> _Node | None:
    """The tree for ``paths`` (None when empty), built into ``into`` when given."""
    if not paths and into is None:
        return None
    builder = _Builder()
    for path, kind in paths.items():
        builder.add(path, kind)
    return builder.freeze(into or _Node(), definitions)


# Which way params and results travel, per meta model messageDirection.
_TRAVELS: Final[Mapping[str, Mapping[str, tuple[Direction, ...]]]] = {
    "clientToServer": {"params": ("to_server",), "result": ("to_client",)},
    "serverToClient": {"params": ("to_client",), "result": ("to_server",)},
    "both": {"params": ("to_server", "to_client"), "result": ("to_server", "to_client")},
}


_REGISTER: Final = "client/registerCapability"


class UriTable:
    """The compiled table: one tree per (method, direction) and per registration method."""

    def __init__(self, table: Mapping[str, Any]) -> None:
        self.raw = table
        defs_raw: Mapping[str, Mapping[str, str]] = table.get("definitions", {})
        definitions = {name: _Node() for name in defs_raw}  # first, so they can refer to any
        for name, paths in defs_raw.items():
            _compile(paths, definitions, into=definitions[name])
        self.params: dict[tuple[str, str], _Node] = {}
        self.result: dict[tuple[str, str], _Node] = {}
        self.partial: dict[tuple[str, str], _Node] = {}
        slots = (("params", self.params), ("result", self.result), ("partialResult", self.partial))
        for method, entry in table.get("methods", {}).items():
            travels = _TRAVELS[entry["direction"]]
            for slot, target in slots:
                node = _compile(entry.get(slot, {}), definitions)
                if node is not None:
                    for direction in travels["params" if slot == "params" else "result"]:
                        target[(method, direction)] = node
        self.registration: dict[str, _Node] = {}
        for method, paths in table.get("registrationOptions", {}).items():
            node = _compile(paths, definitions)
            if node is not None:
                self.registration[method] = node

    def map_params(self, method: str, direction: Direction, params: Any, fn: UriMapper) -> Any:
        """See :func:`map_params`."""
        node = self.params.get((method, direction))
        if node is not None:
            params = _apply(node, params, fn, method)
        if method == _REGISTER and direction == "to_client" and type(params) is dict:
            registrations = params.get("registrations")
            if type(registrations) is list:
                for reg in registrations:
                    if type(reg) is dict:
                        self._map_registration(reg, fn)
        return params

    def _map_registration(self, reg: dict[str, Any], fn: UriMapper) -> None:
        reg_method = reg.get("method")
        if type(reg_method) is str:
            node = self.registration.get(reg_method)
            if node is not None and reg.get("registerOptions") is not None:
                reg["registerOptions"] = _apply(node, reg["registerOptions"], fn, reg_method)

    def map_result(self, method: str, direction: Direction, result: Any, fn: UriMapper) -> Any:
        """See :func:`map_result`."""
        return _apply(self.result.get((method, direction)), result, fn, method)

    def map_partial_result(
        self, method: str, direction: Direction, value: Any, fn: UriMapper
    ) -> Any:
        """See :func:`map_partial_result`."""
        return _apply(self.partial.get((method, direction)), value, fn, method)

    def map_registration_options(self, method: str, options: Any, fn: UriMapper) -> Any:
        """Map the ``registerOptions`` of a registration of ``method`` (file watchers...)."""
        return _apply(self.registration.get(method), options, fn, method)

    def uri_fields_of(self, method: str) -> dict[str, Any] | None:
        """See :func:`uri_fields_of`."""
        entry = self.raw.get("methods", {}).get(method)
        registration = self.raw.get("registrationOptions", {}).get(method)
        if entry is None and registration is None:
            return None
        entry = entry or {}
        return {
            "type": entry.get("type"),
            "direction": entry.get("direction"),
            "params": dict(entry.get("params", {})),
            "result": dict(entry.get("result", {})),
            "partialResult": dict(entry.get("partialResult", {})),
            "registrationOptions": dict(registration or {}),
        }

    @classmethod
    def load(cls) -> UriTable:
        text = resources.files("sero_ls.proxy").joinpath("uri_table.json").read_text("utf-8")
        return cls(json.loads(text))


def _walk(node: _Node, value: Any, fn: UriMapper) -> Any:
    """Map ``value`` along ``node``; returns the value to store (a new str, or ``value``)."""
    t = type(value)
    if t is dict:
        for name, kind in node.leaves:
            v = value.get(name)
            if type(v) is str:
                value[name] = fn(v, kind)
        for name, child in node.fields:
            v = value.get(name)
            if v is not None:
                value[name] = _walk(child, v, fn)
        if node.values is not None:
            vnode = node.values
            for k, v in value.items():
                if v is not None:
                    value[k] = _walk(vnode, v, fn)
        if node.key_kind is not None:
            kind = node.key_kind
            pairs = list(value.items())
            value.clear()
            for k, v in pairs:
                value[fn(k, kind) if type(k) is str else k] = v
    elif t is list:
        inode = node.items
        if inode is not None:
            if inode.flat:  # e.g. Location[]: no call per element
                leaves = inode.leaves
                for v in value:
                    if type(v) is dict:
                        for name, kind in leaves:
                            s = v.get(name)
                            if type(s) is str:
                                v[name] = fn(s, kind)
            else:
                for i, v in enumerate(value):
                    if v is not None:
                        value[i] = _walk(inode, v, fn)
        for i, child in node.index:
            if i < len(value) and value[i] is not None:
                value[i] = _walk(child, value[i], fn)
    elif t is str and node.kind is not None:
        value = fn(value, node.kind)
    for ref in node.refs:
        value = _walk(ref, value, fn)
    return value


def _apply(node: _Node | None, value: Any, fn: UriMapper, what: str) -> Any:
    if node is None or value is None:
        return value
    try:
        return _walk(node, value, fn)
    except RecursionError:
        log.warning("%s: value nested too deeply to map its URIs; forwarded partly mapped", what)
        return value


@functools.cache
def table() -> UriTable:
    """The table generated from the LSP meta model (``uri_table.json``), compiled on first
    use: a server on the host never needs it, and start-up should not pay for it."""
    return UriTable.load()


def map_params(method: str, direction: Direction, params: Any, fn: UriMapper) -> Any:
    """Map the URI fields of ``params`` of ``method`` travelling in ``direction`` (in place).

    For ``client/registerCapability``, each registration's ``registerOptions`` is mapped with
    the paths of the registration's own method."""
    return table().map_params(method, direction, params, fn)


def map_result(method: str, direction: Direction, result: Any, fn: UriMapper) -> Any:
    """Map the URI fields of the result of request ``method`` travelling in ``direction``."""
    return table().map_result(method, direction, result, fn)


def map_partial_result(method: str, direction: Direction, value: Any, fn: UriMapper) -> Any:
    """Map a partial result of request ``method`` (the ``value`` of its ``$/progress``)."""
    return table().map_partial_result(method, direction, value, fn)


def uri_fields_of(method: str) -> dict[str, Any] | None:
    """The table entry of ``method``: ``type``, ``direction`` and the path -> kind dicts
    ``params``, ``result``, ``partialResult``, ``registrationOptions`` (empty when none).
    None when the meta model knows neither the method nor a registration under that name."""
    return table().uri_fields_of(method)
