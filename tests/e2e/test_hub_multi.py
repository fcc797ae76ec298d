"""Two real language servers on one file through the hub: pyright (npm) and `ruff server`
(PyPI), installed by scripts/setup.d/40-language-servers.sh, on the host and in a Podman
container. The baseline is each server run alone, directly (its own process on the host,
or a plain `podman exec -i` in the container), in the same test: through the hub the
editor must see the union of what each publishes, every server's code actions, and none
of the diagnostics of a server that is gone (gave up after crashes, or removed from the
settings) while the other's stay (issue #12: the hub used to forward each
`publishDiagnostics` unchanged, so the later one replaced the earlier in the editor, and
asked only the first server for code actions)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import psutil
import pytest

from sero_ls.uris import path_to_uri
from tests.support import podman as pm
from tests.support.rawclient import RawClient

BIN = Path(sys.executable).parent
PYRIGHT = [str(BIN / "pyright-langserver"), "--stdio"]
RUFF = [str(BIN / "ruff"), "server"]
MISSING = [c[0] for c in (PYRIGHT, RUFF) if not os.access(c[0], os.X_OK)]


class SetupError(RuntimeError):
    """The test could not get to its check."""


pytestmark = [
    pytest.mark.timeout(240),
    pytest.mark.skipif(bool(MISSING), reason=f"missing {MISSING}: run bash scripts/setup --test"),
]

# An unused import (ruff F401; a pyright "not accessed" hint) and a type error (pyright).
SOURCE = "import os\n\n\ndef half(x: int) -> str:\n    return x / 2\n"
IMPORT_RANGE = {"start": {"line": 0, "character": 7}, "end": {"line": 0, "character": 9}}
# What shows that a server has analysed the file: a diagnostic only it publishes.
SIGNATURE: dict[str, Callable[[dict[str, Any]], bool]] = {
    "pyright": lambda d: d.get("code") == "reportReturnType",
    "ruff": lambda d: d.get("code") == "F401",
}
CAPABILITIES: dict[str, Any] = {
    "textDocument": {
        "synchronization": {"didSave": True},
        "publishDiagnostics": {
            "relatedInformation": True,
            "versionSupport": True,
            "tagSupport": {"valueSet": [1, 2]},
            "codeDescriptionSupport": True,
            "dataSupport": True,
        },
        "codeAction": {
            "codeActionLiteralSupport": {
                "codeActionKind": {
                    "valueSet": [
                        "quickfix",
                        "refactor",
                        "source",
                        "source.organizeImports",
                        "source.fixAll",
                    ]
                }
            },
            "resolveSupport": {"properties": ["edit"]},
            "dataSupport": True,
        },
    },
    "workspace": {"configuration": True, "workspaceFolders": True},
}


def canon(diags: list[dict[str, Any]]) -> list[str]:
    """A diagnostics list as a sorted multiset (the order between servers is free)."""
    return sorted(json.dumps(d, sort_keys=True) for d in diags)


def brief(diags: list[dict[str, Any]]) -> list[str]:
    return sorted(
        f"{d.get('source')} {d.get('code')}: {d['message'].splitlines()[0]}" for d in diags
    )


def overlaps(d: dict[str, Any], rng: dict[str, Any]) -> bool:
    def key(p: dict[str, int]) -> tuple[int, int]:
        return p["line"], p["character"]

    return key(d["range"]["start"]) <= key(rng["end"]) and key(rng["start"]) <= key(
        d["range"]["end"]
    )


class Place:
    """Where the servers run: the host, or a Podman container holding the workspace."""

    def __init__(self, ws: Path, container: pm.Container | None) -> None:
        self.ws = ws
        self.container = container

    @property
    def name(self) -> str:
        return "container" if self.container else "host"

    def direct_argv(self, argv: list[str]) -> tuple[list[str], str]:
        """The server run alone, and the folder as that server sees it."""
        if self.container is None:
            return argv, str(self.ws)
        dest = self.container.dest
        return [pm.PODMAN, "exec", "-i", "-w", dest, self.container.name, *argv], dest

    def settings(self, servers: dict[str, Any]) -> dict[str, Any]:
        where = {"containerBackend": "podman"} if self.container else {"runtime": "host"}
        return {**where, "servers": servers}


def init_params(root: str, settings: dict[str, Any] | None) -> dict[str, Any]:
    uri = path_to_uri(root)
    params: dict[str, Any] = {
        # A server alone in a container cannot see our PID (pyright exits when it is gone)
        "processId": os.getpid() if settings is not None else None,
        "rootUri": uri,
        "capabilities": CAPABILITIES,
        "workspaceFolders": [{"uri": uri, "name": Path(root).name}],
    }
    if settings is not None:
        params["initializationOptions"] = {"settings": settings}
    return params


def open_doc(client: RawClient, uri: str) -> None:
    client.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": SOURCE}},
    )


async def published(client: RawClient, uri: str, pred: Callable[[list[Any]], bool],
                    timeout: float) -> list[dict[str, Any]]:  # fmt: skip
    msg = await client.notification(
        "textDocument/publishDiagnostics",
        lambda p: p["uri"] == uri and pred(p["diagnostics"]),
        timeout,
    )
    diags: list[dict[str, Any]] = msg["params"]["diagnostics"]
    return diags


def latest(client: RawClient, uri: str) -> list[dict[str, Any]] | None:
    """What the editor shows for `uri`: the last publishDiagnostics for it."""
    for msg in reversed(client.notifications):
        if msg["method"] == "textDocument/publishDiagnostics" and msg["params"]["uri"] == uri:
            diags: list[dict[str, Any]] = msg["params"]["diagnostics"]
            return diags
    return None


# ---- each server alone, directly

Direct = dict[str, Any]  # {"diagnostics": [...], "actions": [titles]}
_direct: dict[str, dict[str, Direct]] = {}


async def run_alone(place: Place, server: str, argv: list[str]) -> Direct:
    full, root = place.direct_argv(argv)
    async with RawClient.spawn(full) as client:
        try:
            return await measure(client, root, server)
        except (EOFError, TimeoutError) as exc:
            tail = b"".join(client.stderr_tail[-10:]).decode(errors="replace")
            raise SetupError(f"{server} alone ({place.name}): {exc!r}\n{tail}") from exc


async def measure(client: RawClient, root: str, server: str) -> Direct:
    await client.initialize(init_params(root, None), timeout=60)
    uri = path_to_uri(f"{root}/mod.py")
    open_doc(client, uri)
    await client.drain()
    diags = await published(client, uri, lambda ds: any(map(SIGNATURE[server], ds)), 90)
    context = [d for d in diags if overlaps(d, IMPORT_RANGE)]
    actions = await client.request(
        "textDocument/codeAction",
        {"textDocument": {"uri": uri}, "range": IMPORT_RANGE,
         "context": {"diagnostics": context, "triggerKind": 1}},
        timeout=30,
    )  # fmt: skip
    await client.shutdown_exit()
    return {"diagnostics": diags, "actions": [a["title"] for a in actions or []]}


async def direct(place: Place) -> dict[str, Direct]:
    """What pyright and ruff publish and offer alone (measured once per place)."""
    if place.name not in _direct:
        results = await asyncio.gather(
            run_alone(place, "pyright", PYRIGHT), run_alone(place, "ruff", RUFF)
        )
        _direct[place.name] = dict(zip(("pyright", "ruff"), results, strict=True))
    return _direct[place.name]


# ---- the hub


@pytest.fixture(params=["host", "container"])
def place(request: pytest.FixtureRequest, tmp_path: Path) -> Place:
    ws = tmp_path / "proj é"
    ws.mkdir()
    (ws / "mod.py").write_text(SOURCE)
    if request.param == "container":
        return Place(ws, request.getfixturevalue("workspace_container")(ws))
    return Place(ws, None)


class Hub:
    def __init__(self, client: RawClient, place: Place, tag: str) -> None:
        self.client = client
        self.place = place
        self.tag = tag  # in ruff's environment, to find its process
        self.uri = path_to_uri(str(place.ws / "mod.py"))
        self.sero: dict[str, Any] = {}  # what workspace/configuration answers for `sero`

    async def servers(self) -> dict[str, dict[str, Any]]:
        status = await self.client.request("sero/workspaceStatus", {})
        return {s["id"]: s for f in status["folders"] for s in f["servers"]}

    async def until(self, pred: Callable[[dict[str, dict[str, Any]]], bool], what: str,
                    timeout: float = 60) -> dict[str, dict[str, Any]]:  # fmt: skip
        try:
            async with asyncio.timeout(timeout):
                while True:
                    servers = await self.servers()
                    if pred(servers):
                        break
                    await asyncio.sleep(0.1)  # polls the status; the deadline bounds it
        except TimeoutError:
            raise SetupError(f"{what}: {await self.servers()}") from None
        return servers

    def ruff_processes(self) -> list[psutil.Process]:
        found = []
        for p in psutil.process_iter(["name"]):
            with contextlib.suppress(psutil.Error):
                if p.info["name"] == "ruff" and p.environ().get("SERO_TEST_TAG") == self.tag:
                    found.append(p)
        return found


@contextlib.asynccontextmanager
async def hub(place: Place, tmp_path: Path) -> AsyncIterator[Hub]:
    tag = uuid.uuid4().hex
    servers = {
        "pyright": {"command": PYRIGHT, "languages": ["python"]},
        "ruff": {"command": RUFF, "languages": ["python"], "env": {"SERO_TEST_TAG": tag}},
    }
    env = {**os.environ, "SERO_LS_STATE_DIR": str(tmp_path / "state")}
    async with RawClient.spawn([sys.executable, "-m", "sero_ls"], env=env) as client:
        h = Hub(client, place, tag)
        # The servers come from workspace/configuration (as VS Code's sero.servers), so
        # that a later answer can drop one: setting layers merge server by server.
        h.sero = place.settings(servers)

        def configuration(msg: dict[str, Any]) -> list[Any]:
            items = (msg.get("params") or {}).get("items") or []
            return [h.sero if i.get("section") == "sero" else None for i in items]

        client.handlers["workspace/configuration"] = configuration
        await client.initialize(init_params(str(place.ws), place.settings({})), timeout=90)
        running = await h.until(
            lambda s: (
                {"pyright", "ruff"} <= set(s) and all(x["state"] == "running" for x in s.values())
            ),
            "pyright and ruff do not both run",
        )
        if {s["mode"] for s in running.values()} != {place.name}:
            raise SetupError(f"the servers do not run on the {place.name}: {running}")
        open_doc(client, h.uri)
        await client.drain()
        # Both servers have analysed the file and published through the hub (the editor
        # saw a publish with each one's signature, perhaps in different messages).
        for sign in SIGNATURE.values():
            await published(client, h.uri, lambda ds, s=sign: any(map(s, ds)), 90)
        yield h
        with contextlib.suppress(Exception):
            await client.shutdown_exit()


async def shows(h: Hub, want: list[dict[str, Any]], what: str, timeout: float = 10) -> None:
    """The editor's diagnostics for the file become exactly `want` (a multiset)."""
    goal = canon(want)
    with contextlib.suppress(TimeoutError):  # the state now, at each message that comes
        await h.client.wait_for(lambda _k, _m: canon(latest(h.client, h.uri) or []) == goal,
                                timeout)  # fmt: skip
    now = latest(h.client, h.uri) or []
    if canon(now) != goal:
        missing = [d for d in brief(want) if d not in brief(now)]
        extra = [d for d in brief(now) if d not in brief(want)]
        raise AssertionError(
            f"{h.place.name}: the editor shows {brief(now)} for mod.py, not {what}; "
            f"missing {missing}, extra {extra}"
        )


async def test_the_editor_sees_the_union_of_both_servers(place: Place, tmp_path: Path) -> None:
    alone = await direct(place)
    async with hub(place, tmp_path) as h:
        union = alone["pyright"]["diagnostics"] + alone["ruff"]["diagnostics"]
        await shows(h, union, "the union of what pyright and ruff publish alone")


async def test_code_actions_of_both_servers(place: Place, tmp_path: Path) -> None:
    alone = await direct(place)
    if not any("F401" in t for t in alone["ruff"]["actions"]):
        raise SetupError(f"ruff alone offers no F401 action: {alone['ruff']['actions']}")
    async with hub(place, tmp_path) as h:
        # As VS Code does: every diagnostic the editor has in the range, whichever server's.
        union = alone["pyright"]["diagnostics"] + alone["ruff"]["diagnostics"]
        context = [d for d in union if overlaps(d, IMPORT_RANGE)]
        actions = await h.client.request(
            "textDocument/codeAction",
            {"textDocument": {"uri": h.uri}, "range": IMPORT_RANGE,
             "context": {"diagnostics": context, "triggerKind": 1}},
            timeout=30,
        )  # fmt: skip
        titles = sorted(a["title"] for a in actions or [])
        want = sorted(alone["pyright"]["actions"] + alone["ruff"]["actions"])
        assert titles == want, (
            f"{place.name}: code actions on the unused import through the hub: {titles}; "
            f"pyright alone offers {alone['pyright']['actions']}, "
            f"ruff alone {alone['ruff']['actions']}"
        )


@pytest.mark.parametrize("how", ["gives up", "is removed"])
async def test_when_ruff_is_gone_its_diagnostics_go(place: Place, how: str, tmp_path: Path) -> None:
    alone = await direct(place)
    async with hub(place, tmp_path) as h:
        # The editor must show ruff's diagnostics first. pyright is the slower to publish,
        # so today the editor would show pyright's alone already: one crash of ruff makes
        # it republish (last) when the hub restarts it.
        await crash(h, 1)
        await h.until(lambda s: s["ruff"]["state"] == "running", "ruff does not come back")
        try:
            await h.client.wait_for(
                lambda _k, _m: any(map(SIGNATURE["ruff"], latest(h.client, h.uri) or [])), 30
            )
        except TimeoutError:
            now = brief(latest(h.client, h.uri) or [])
            raise AssertionError(f"{place.name}: the editor never shows ruff's: {now}") from None
        if how == "gives up":
            await crash(h, 5, already=1)
            await h.until(lambda s: s["ruff"]["state"] == "failed", "the hub goes on with ruff")
        else:
            h.sero = place.settings({"pyright": h.sero["servers"]["pyright"]})
            h.client.notify("workspace/didChangeConfiguration", {"settings": None})
            await h.client.drain()
            await h.until(lambda s: "ruff" not in s, "ruff still runs after its removal")
        servers = await h.servers()
        if servers["pyright"]["state"] != "running":
            raise SetupError(f"pyright does not run: {servers}")
        await shows(h, alone["pyright"]["diagnostics"], f"pyright's alone once ruff {how}")


async def crash(h: Hub, times: int, already: int = 0) -> None:
    """SIGKILL the real ruff process (on the host or in the container) each time it runs
    again: `times` crashes after `already` ones (the hub gives up at the 6th in a minute)."""
    seen: set[int] = set()
    for n in range(already + 1, already + times + 1):
        async with asyncio.timeout(60):
            while True:
                running = (await h.servers())["ruff"]["state"] == "running"
                procs = [p for p in await asyncio.to_thread(h.ruff_processes)
                         if p.pid not in seen]  # fmt: skip
                if running and procs:
                    break
                await asyncio.sleep(0.1)  # polls the status; the deadline bounds it
        for p in procs:
            seen.add(p.pid)
            p.kill()
        await h.until(
            lambda s, n=n: s["ruff"]["state"] != "running" or s["ruff"]["restarts"] >= n,
            f"crash {n} of ruff is not seen",
        )
