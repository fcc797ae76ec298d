"""Start-up as an editor meets it: spawn -> `initialize` answered -> first diagnostics.

    .venv/bin/python bench/bench_startup.py [--runs 5] [--no-container]

For each setup, spawn the command, send `initialize`, then (as editors do) `initialized`
and `didOpen` of a file with one pyflakes error, and time the `initialize` answer and the
first non-empty `textDocument/publishDiagnostics` from the spawn. Setups run interleaved
(one round of every setup, `--runs` rounds), after one warm-up round that is not counted
(sero-ls' status cache is then what a user has after the first start). Medians; ratios
against the direct connection measured in the same run:

* host: Debian's pylsp directly; through the hub (`sero-ls`, servers = pylsp, runtime
  host); through the wrapper (`sero-ls proxy -- pylsp`);
* container (podman, a workspace container made as the tests make it): plain
  `podman exec -i -w /workspace CTR pylsp`; through the hub (label discovery);
* sero-ls alone, no server configured: spawn -> `initialize` answered.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sero_ls.runtime import status_cache  # noqa: E402
from sero_ls.uris import path_to_uri  # noqa: E402
from tests.support import podman as pm  # noqa: E402
from tests.support.rawclient import RawClient  # noqa: E402

PYLSP = "/usr/bin/pylsp"
SOURCE = "import os\n\nvalue = undefined_name\n"
SERO = [sys.executable, "-m", "sero_ls"]


async def one_run(
    argv: list[str],
    folder: Path,
    env: dict[str, str],
    settings: dict[str, Any] | None,
    *,
    diagnostics: bool = True,
) -> tuple[float, float | None]:
    uri = path_to_uri(str(folder / "main.py"))
    t0 = time.perf_counter()
    async with RawClient.spawn(argv, env=env, cwd=str(folder)) as client:
        params: dict[str, Any] = {
            "processId": os.getpid(),
            "rootUri": path_to_uri(str(folder)),
            "workspaceFolders": [{"uri": path_to_uri(str(folder)), "name": folder.name}],
            "capabilities": {"textDocument": {"publishDiagnostics": {}}},
        }
        if settings is not None:
            params["initializationOptions"] = {"settings": settings}
        await client.request("initialize", params, timeout=120)
        t_init = time.perf_counter() - t0
        client.notify("initialized", {})
        if not diagnostics:
            await client.shutdown_exit()
            return t_init, None
        client.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": SOURCE}},
        )
        await client.drain()
        await client.notification(
            "textDocument/publishDiagnostics",
            lambda p: p.get("uri") == uri and bool(p.get("diagnostics")),
            timeout=120,
        )
        t_diag = time.perf_counter() - t0
        await client.shutdown_exit()
    return t_init, t_diag


def ms(v: float | None) -> str:
    return "-" if v is None else f"{v * 1000:.0f} ms"


async def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-container", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="sero-bench-startup-"))
    folder = tmp / "proj"
    folder.mkdir()
    (folder / "main.py").write_text(SOURCE)
    env = {
        **os.environ,
        "SERO_LS_CACHE_DIR": str(tmp / "cache"),
        "SERO_LS_STATE_DIR": str(tmp / "state"),
    }
    pylsp = {"pylsp": {"command": [PYLSP], "languages": ["python"]}}
    # Each sero-ls setup has a folder of its own, as a user's folder has one configuration:
    # the status cached by one start is the next start's guess. "first start" has its
    # cached status removed before each run (it resolves before it starts pylsp).
    setups: dict[str, tuple[list[str], dict[str, Any] | None, bool]] = {
        "host, pylsp directly": ([PYLSP], None, True),
        "host, through the sero-ls hub": (SERO, {"runtime": "host", "servers": pylsp}, True),
        "host, through `sero-ls proxy --`": ([*SERO, "proxy", "--", PYLSP], None, True),
        "host, through `sero-ls proxy --`, first start": (
            [*SERO, "proxy", "--", PYLSP],
            None,
            True,
        ),
        "sero-ls alone, no server": (SERO, {"runtime": "host"}, False),
    }
    folders = {label: folder for label in setups}
    for i, label in enumerate(list(setups)[1:]):
        folders[label] = tmp / f"proj{i}"
        folders[label].mkdir()
        (folders[label] / "main.py").write_text(SOURCE)
    name = None
    cfolder = tmp / "cproj"
    if not args.no_container:
        reason = pm.podman_ok()
        if reason is not None:
            print(f"podman not usable ({reason}): container rows skipped")
        else:
            cfolder.mkdir()
            (cfolder / "main.py").write_text(SOURCE)
            name = f"sero-bench-{uuid.uuid4().hex[:8]}"
            ctr = pm.create_workspace_container(name, cfolder)
            setups["container, plain `podman exec`"] = (
                [pm.PODMAN, "exec", "-i", "-w", ctr.dest, name, PYLSP],
                None,
                True,
            )
            setups["container, through the sero-ls hub"] = (
                SERO,
                {"containerBackend": "podman", "servers": pylsp},
                True,
            )
    results: dict[str, list[tuple[float, float | None]]] = {k: [] for k in setups}
    try:
        for rnd in range(args.runs + 1):  # round 0 warms up (caches, page cache)
            for label, (argv, settings, diags) in setups.items():
                where = cfolder if label.startswith("container") else folders[label]
                if label.endswith("first start"):
                    status_cache.entry_path(str(where), tmp / "cache").unlink(missing_ok=True)
                r = await one_run(argv, where, env, settings, diagnostics=diags)
                if rnd > 0:
                    results[label].append(r)
    finally:
        if name:
            pm.remove(name)

    def med(label: str, i: int) -> float | None:
        vals = [r[i] for r in results.get(label, []) if r[i] is not None]
        return statistics.median(vals) if vals else None  # type: ignore[type-var]

    base = {"host": "host, pylsp directly", "container": "container, plain `podman exec`"}
    load = os.getloadavg()[0]
    print(
        f"\nStart-up, medians of {args.runs} interleaved rounds "
        f"(load {load:.1f}, {os.cpu_count()} cores)\n"
    )
    print("| setup | -> initialize answer | -> first diagnostics |")
    print("| --- | --- | --- |")
    for label in setups:
        init, diag = med(label, 0), med(label, 1)
        ref = base.get(label.split(",")[0])
        ratio = ""
        ref_diag = med(ref, 1) if ref and ref != label else None
        if diag is not None and ref_diag:
            ratio = f" ({diag / ref_diag:.2f}x)"
        print(f"| {label} | {ms(init)} | {ms(diag)}{ratio} |")
    print("\ncommand: .venv/bin/python bench/bench_startup.py --runs", args.runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
