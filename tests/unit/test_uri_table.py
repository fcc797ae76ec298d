"""The generated URI table against the LSP meta model.

* the committed ``uri_table.json`` is what the generator produces now;
* an independent walker in this file builds sample messages for every method and registration
  from the meta model, with a unique marker in every URI-typed field, and checks that the
  runtime mapper rewrites exactly those fields: every URI, glob and path field, and no other
  string (the others all look like URIs on purpose, and so does every ``LSPAny`` payload).
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import random
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sero_ls.proxy import uri_table_gen, urimap
from sero_ls.proxy.uri_table_gen import MetaModelError, generate, render
from sero_ls.proxy.urimap import UriTable

REPO = Path(__file__).resolve().parents[2]
META_MODEL = Path(
    os.environ.get(uri_table_gen.META_MODEL_ENV)
    or REPO.parent / "shared" / "lsp" / "metaModel.json"
)
REGENERATE = "regenerate with: python -m sero_ls.proxy.uri_table_gen"


@pytest.fixture(scope="module")
def meta() -> dict[str, Any]:
    if not META_MODEL.is_file():
        msg = (
            f"LSP meta model not found at {META_MODEL}: CI clones shared/ next to the repo; "
            f"elsewhere set {uri_table_gen.META_MODEL_ENV}=/path/to/metaModel.json"
        )
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    data: dict[str, Any] = json.loads(META_MODEL.read_text(encoding="utf-8"))
    return data


def test_committed_table_is_generated_from_the_meta_model(meta: dict[str, Any]) -> None:
    committed = json.loads(uri_table_gen.TABLE_PATH.read_text(encoding="utf-8"))
    fresh = generate(meta)
    stale = sorted(
        f"{section}/{key}"
        for section in ("methods", "registrationOptions", "definitions")
        for key in set(fresh[section]) | set(committed[section])
        if fresh[section].get(key) != committed[section].get(key)
    )
    assert not stale, f"uri_table.json is out of date for {stale}; {REGENERATE}"
    assert uri_table_gen.TABLE_PATH.read_text(encoding="utf-8") == render(fresh), REGENERATE


def test_generator_check_mode(meta: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "table.json"
    argv = ["--meta-model", str(META_MODEL), "--output", str(out)]
    assert uri_table_gen.main([*argv, "--check"]) == 1  # missing output is out of date
    assert uri_table_gen.main(argv) == 0
    assert out.read_text(encoding="utf-8") == uri_table_gen.TABLE_PATH.read_text(encoding="utf-8")
    assert uri_table_gen.main([*argv, "--check"]) == 0
    assert uri_table_gen.main(["--meta-model", str(tmp_path / "absent.json")]) == 2


def test_meta_model_location_defaults_next_to_the_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(uri_table_gen.META_MODEL_ENV, raising=False)
    assert uri_table_gen.default_meta_model_path() == (
        REPO.parent / "shared" / "lsp" / "metaModel.json"
    )
    monkeypatch.setenv(uri_table_gen.META_MODEL_ENV, "/elsewhere/metaModel.json")
    assert uri_table_gen.default_meta_model_path() == Path("/elsewhere/metaModel.json")


# -- the independent walker --------------------------------------------------------------------

URI_BASES = {"DocumentUri", "URI"}
# Decisions of the spec, restated here on purpose (the generator has its own copy, compared
# below): (structure, property) -> kind, None for "a Pattern that is relative, never mapped".
SPECIAL: dict[tuple[str, str], str | None] = {
    ("_InitializeParams", "rootPath"): "path",
    ("FileCreate", "uri"): "uri",
    ("FileRename", "oldUri"): "uri",
    ("FileRename", "newUri"): "uri",
    ("FileDelete", "uri"): "uri",
    ("FileOperationPattern", "glob"): "glob",
    ("RelativePattern", "pattern"): None,
}
LSP_ANY = {"LSPAny", "LSPObject", "LSPArray"}
PLAIN = "file:///home/u/proj/a.py"  # every non-URI string: it must survive unchanged


def hostile_any() -> dict[str, Any]:
    """An LSPAny payload shaped like LSP values, full of URIs: must never be touched."""
    return {
        "uri": PLAIN,
        "textDocument": {"uri": PLAIN},
        "targetUri": PLAIN,
        "changes": {PLAIN: []},
        "items": [{"uri": PLAIN, "location": {"uri": PLAIN}}],
        "watchers": [{"globPattern": "/home/u/proj/**"}],
    }


def mark(value: str, kind: str) -> str:
    return f"<{kind}>{value}"


def mapper(value: str, kind: str) -> str:
    return mark(value, kind)


class Sampler:
    """Builds (message, expected mapped message) pairs for a meta model type."""

    def __init__(self, meta: dict[str, Any], rng: random.Random) -> None:
        self.structs = {s["name"]: s for s in meta["structures"]}
        self.aliases = {a["name"]: a["type"] for a in meta["typeAliases"]}
        self.enums = {e["name"]: e for e in meta["enumerations"]}
        self.rng = rng
        self.ids = itertools.count()
        self.covered: set[tuple[str, str]] = set()

    def special(self, ctx: str, kind: str) -> tuple[str, str]:
        n = next(self.ids)
        value = f"/home/u/proj/**/{n}.py" if kind == "glob" else f"file:///u/{n}"
        if kind == "path":
            value = f"/home/u/{n}"
        self.covered.add((ctx, kind))
        return value, mark(value, kind)

    def props(self, name: str) -> Iterator[tuple[str, dict[str, Any]]]:
        s = self.structs[name]
        for parent in (*s.get("extends", []), *s.get("mixins", [])):
            yield from self.props(parent["name"])
        for p in s["properties"]:
            yield name, p

    def sample(self, t: dict[str, Any], ctx: str, stack: tuple[str, ...]) -> tuple[Any, Any]:
        cut = len(stack) > 14 or len(set(stack)) < len(stack)
        kind = t["kind"]
        if kind == "base":
            name = t["name"]
            if name in URI_BASES:
                return self.special(ctx, "uri")
            return {
                "string": (PLAIN, PLAIN),
                "RegExp": (PLAIN, PLAIN),
                "null": (None, None),
                "boolean": (True, True),
                "decimal": (0.5, 0.5),
            }.get(name, (7, 7))
        if kind in ("stringLiteral", "integerLiteral", "booleanLiteral"):
            return t["value"], t["value"]
        if kind == "array":
            pairs = [] if cut else [self.sample(t["element"], ctx, stack) for _ in range(2)]
            return [a for a, _ in pairs], [b for _, b in pairs]
        if kind == "tuple":
            pairs = [self.sample(item, ctx, stack) for item in t["items"]]
            return [a for a, _ in pairs], [b for _, b in pairs]
        if kind == "map":
            value_in, value_out = {}, {}
            for _ in range(0 if cut else 2):
                key = t["key"]
                if key["kind"] == "base" and key["name"] in URI_BASES:
                    k_in, k_out = self.special(ctx + "{key}", "uri")
                else:
                    k_in = k_out = f"{PLAIN}#{next(self.ids)}"
                value_in[k_in], value_out[k_out] = self.sample(t["value"], ctx, stack)
            return value_in, value_out
        if kind == "or":
            items = t["items"]
            if cut:
                items = [i for i in items if i["kind"] != "reference"] or items
            return self.sample(self.rng.choice(items), ctx, stack)
        if kind == "and":
            value_in, value_out = {}, {}
            for item in t["items"]:
                a, b = self.sample(item, ctx, stack)
                value_in.update(a)
                value_out.update(b)
            return value_in, value_out
        if kind == "literal":
            value_in, value_out = {}, {}
            for p in t["value"]["properties"]:
                if p.get("optional") and cut:
                    continue
                value_in[p["name"]], value_out[p["name"]] = self.sample(
                    p["type"], f"{ctx}.{p['name']}", stack
                )
            return value_in, value_out
        assert kind == "reference", t
        name = t["name"]
        if name in LSP_ANY:
            return hostile_any(), hostile_any()
        if name == "Pattern":
            return self.special(ctx, "glob")
        if name in self.enums:
            value = self.enums[name]["values"][0]["value"]
            return value, value
        if name in self.aliases:
            return self.sample(self.aliases[name], ctx, (*stack, name))
        value_in, value_out = {}, {}
        for owner, p in self.props(name):
            if p.get("optional") and cut:
                continue
            sub = f"{owner}.{p['name']}"
            if (owner, p["name"]) in SPECIAL:
                special = SPECIAL[(owner, p["name"])]
                if special is None:
                    a = b = "**/*.py"
                else:
                    a, b = self.special(sub, special)
            else:
                a, b = self.sample(p["type"], sub, (*stack, name))
            value_in[p["name"]], value_out[p["name"]] = a, b
        return value_in, value_out


def reachable(meta: dict[str, Any], root: dict[str, Any]) -> set[tuple[str, str]]:
    """Every (field context, kind) a value of type ``root`` can hold, by plain graph search."""
    structs = {s["name"]: s for s in meta["structures"]}
    aliases = {a["name"]: a["type"] for a in meta["typeAliases"]}
    found: set[tuple[str, str]] = set()
    seen: set[tuple[str, str]] = set()
    todo: list[tuple[dict[str, Any], str]] = [(root, "$")]
    while todo:
        t, ctx = todo.pop()
        kind = t["kind"]
        if kind == "base" and t["name"] in URI_BASES:
            found.add((ctx, "uri"))
        elif kind == "array":
            todo.append((t["element"], ctx))
        elif kind == "map":
            if t["key"]["kind"] == "base" and t["key"]["name"] in URI_BASES:
                found.add((ctx + "{key}", "uri"))
            todo.append((t["value"], ctx))
        elif kind in ("or", "and", "tuple"):
            todo.extend((i, ctx) for i in t["items"])
        elif kind == "literal":
            todo.extend((p["type"], f"{ctx}.{p['name']}") for p in t["value"]["properties"])
        elif kind == "reference":
            name = t["name"]
            if name == "Pattern":
                found.add((ctx, "glob"))
            elif (name, ctx) in seen:
                continue
            elif name in aliases:
                seen.add((name, ctx))
                todo.append((aliases[name], ctx))
            elif name in structs:
                seen.add((name, ctx))
                s = structs[name]
                todo.extend((p, ctx) for p in (*s.get("extends", []), *s.get("mixins", [])))
                for p in s["properties"]:
                    sub = f"{name}.{p['name']}"
                    special = SPECIAL.get((name, p["name"]), "none")
                    if special == "none":
                        todo.append((p["type"], sub))
                    elif special is not None:
                        found.add((sub, special))
    return found


def cases(meta: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(label, slot, type) for every params/result/partialResult and registration options."""
    for entry in (*meta["requests"], *meta["notifications"]):
        for slot in ("params", "result", "partialResult"):
            if slot in entry:
                yield entry["method"], slot, entry[slot]
        if "registrationOptions" in entry:
            reg = entry.get("registrationMethod", entry["method"])
            yield reg, "registrationOptions", entry["registrationOptions"]


def directions(meta: dict[str, Any], method: str, slot: str) -> list[str]:
    if slot == "registrationOptions":
        return ["to_client"]  # inside client/registerCapability, server -> client
    entry = next(e for e in (*meta["requests"], *meta["notifications"]) if e["method"] == method)
    towards = {"clientToServer": "to_server", "serverToClient": "to_client"}
    if entry["messageDirection"] == "both":
        return ["to_server", "to_client"]
    there = towards[entry["messageDirection"]]
    back = "to_client" if there == "to_server" else "to_server"
    return [there] if slot == "params" else [back]


def apply(method: str, slot: str, direction: str, value: Any) -> Any:
    if slot == "params":
        return urimap.map_params(method, direction, value, mapper)  # type: ignore[arg-type]
    if slot == "result":
        return urimap.map_result(method, direction, value, mapper)  # type: ignore[arg-type]
    if slot == "partialResult":
        return urimap.map_partial_result(method, direction, value, mapper)  # type: ignore[arg-type]
    params = {"registrations": [{"id": "r1", "method": method, "registerOptions": value}]}
    mapped = urimap.map_params("client/registerCapability", "to_client", params, mapper)
    return mapped["registrations"][0]["registerOptions"]


def first_difference(a: Any, b: Any, where: str = "$") -> str:
    if type(a) is not type(b):
        return f"{where}: {a!r} != {b!r}"
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b), key=str):
            if k not in a or k not in b:
                return f"{where}: key {k!r} only on one side"
            if a[k] != b[k]:
                return first_difference(a[k], b[k], f"{where}.{k}")
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{where}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return first_difference(x, y, f"{where}[{i}]")
    return f"{where}: {a!r} != {b!r}"


def test_every_uri_field_of_the_meta_model_is_mapped_and_nothing_else(
    meta: dict[str, Any],
) -> None:
    failures: list[str] = []
    checked = 0
    for method, slot, type_ in cases(meta):
        want = reachable(meta, type_)
        sampler = Sampler(meta, random.Random())
        wrong: list[str] = []
        # Random choices among `or` alternatives, until every reachable field was produced.
        for seed in range(200):
            sampler.rng.seed(f"{method}/{slot}/{seed}")
            message, expected = sampler.sample(type_, "$", ())
            for direction in directions(meta, method, slot):
                mapped = apply(method, slot, direction, copy.deepcopy(message))
                checked += 1
                if mapped != expected:
                    wrong.append(
                        f"{method} {slot} {direction}: {first_difference(mapped, expected)}"
                    )
            if wrong or (want <= sampler.covered and seed >= 3):
                break
        failures += wrong
        if not wrong and want - sampler.covered:
            failures.append(
                f"{method} {slot}: the sampler never produced {sorted(want - sampler.covered)}"
            )
        if len(failures) > 20:
            break
    assert not failures, "\n".join(failures)
    assert checked > 400


def test_misdirected_and_unknown_messages_are_left_alone(meta: dict[str, Any]) -> None:
    for method, slot, type_ in cases(meta):
        if slot == "registrationOptions":
            continue
        wrong = {"to_server", "to_client"} - set(directions(meta, method, slot))
        message, _ = Sampler(meta, random.Random(method)).sample(type_, "$", ())
        for direction in wrong:
            assert apply(method, slot, direction, copy.deepcopy(message)) == message, method
        assert apply("vendor/" + method, slot, "to_client", copy.deepcopy(message)) == message


def test_spec_decisions_match_the_generator() -> None:
    assert dict(uri_table_gen.OVERRIDES) == SPECIAL


# -- generator mechanics on a small synthetic meta model ---------------------------------------


def ref(name: str) -> dict[str, Any]:
    return {"kind": "reference", "name": name}


def prop(name: str, type_: dict[str, Any], optional: bool = False) -> dict[str, Any]:
    return {"name": name, "type": type_, "optional": optional}


URI_T = {"kind": "base", "name": "DocumentUri"}
STRING_T = {"kind": "base", "name": "string"}


def synthetic(**extra_structs: list[dict[str, Any]]) -> dict[str, Any]:
    structures = [
        # A recursive type that carries URIs: must end in a recursion marker.
        {
            "name": "Tree",
            "properties": [
                prop("uri", URI_T),
                prop("children", {"kind": "array", "element": ref("Tree")}, optional=True),
                prop("data", ref("LSPAny"), optional=True),
            ],
        },
        # A recursive type without URIs (SelectionRange-like): pruned entirely.
        {
            "name": "Plain",
            "properties": [prop("parent", ref("Plain"), True), prop("name", STRING_T)],
        },
        {
            "name": "Holder",
            "properties": [
                prop("tree", ref("Tree")),
                prop("plain", ref("Plain")),
                prop("pair", {"kind": "tuple", "items": [STRING_T, URI_T]}),
            ],
        },
    ]
    structures += [{"name": n, "properties": p} for n, p in extra_structs.items()]
    return {
        "metaData": {"version": "test"},
        "requests": [
            {
                "method": "x/tree",
                "messageDirection": "clientToServer",
                "params": ref("Holder"),
                "result": ref("Plain"),
            }
        ],
        "notifications": [],
        "structures": structures,
        "enumerations": [],
        "typeAliases": [
            {"name": "LSPAny", "type": {"kind": "or", "items": [ref("LSPObject"), STRING_T]}},
            {"name": "LSPObject", "type": {"kind": "map", "key": STRING_T, "value": ref("LSPAny")}},
        ],
    }


def test_generator_marks_recursion_and_prunes_types_without_uris() -> None:
    table = generate(synthetic())
    entry = table["methods"]["x/tree"]
    assert entry["params"] == {
        "$.pair[1]": "uri",
        "$.tree.children[]": "@Tree",
        "$.tree.uri": "uri",
    }
    assert "result" not in entry  # Plain is recursive but carries no URI
    assert table["definitions"] == {"Tree": {"$.children[]": "@Tree", "$.uri": "uri"}}


def test_runtime_follows_recursion_markers_to_any_depth() -> None:
    table = UriTable(generate(synthetic()))

    def tree(depth: int) -> dict[str, Any]:
        node: dict[str, Any] = {"uri": "file:///leaf", "data": {"uri": "file:///leaf"}}
        for i in range(depth):
            node = {"uri": f"file:///n{i}", "children": [node], "data": PLAIN}
        return node

    params = {"tree": tree(30), "plain": {"name": PLAIN}, "pair": [PLAIN, "file:///p"]}
    out = table.map_params("x/tree", "to_server", params, mapper)
    node = out["tree"]
    for _ in range(30):
        assert node["uri"].startswith("<uri>") and node["data"] == PLAIN
        node = node["children"][0]
    assert node == {"uri": "<uri>file:///leaf", "data": {"uri": "file:///leaf"}}
    assert out["pair"] == [PLAIN, "<uri>file:///p"] and out["plain"] == {"name": PLAIN}

    # Nesting beyond Python's recursion limit: forwarded (partly mapped), never raises.
    deep = tree(sys.getrecursionlimit() + 100)
    assert table.map_params("x/tree", "to_server", {"tree": deep}, mapper)["tree"] is deep


def test_generator_rejects_a_field_of_two_kinds() -> None:
    bad = synthetic(Clash=[prop("x", {"kind": "or", "items": [URI_T, ref("Pattern")]})])
    bad["typeAliases"].append({"name": "Pattern", "type": STRING_T})
    bad["notifications"].append(
        {"method": "x/clash", "messageDirection": "serverToClient", "params": ref("Clash")}
    )
    with pytest.raises(MetaModelError, match=r"\$\.x is both"):
        generate(bad)
