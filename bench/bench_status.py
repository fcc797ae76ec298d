"""Runtime-status figures (issue #2): cached `sero/workspaceStatus` round trip, cold
resolution of 1 vs 10 folders against real Podman, and the server's idle RSS.

    .venv/bin/python bench/bench_status.py

Needs podman (scripts/setup --test). Creates and removes its own containers.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sero_ls.runtime.probe import ProbeRound, resolve_folders  # noqa: E402
from sero_ls.runtime.resolve import Folder  # noqa: E402
from sero_ls.settings import merge  # noqa: E402
from sero_ls.uris import path_to_uri  # noqa: E402
from tests.support import podman as pm  # noqa: E402
from tests.support.rawclient import RawClient  # noqa: E402


async def cached_round_trip(ws: Path, state: Path) -> tuple[float, float, float]:
    env = {**os.environ, "SERO_LS_STATE_DIR": str(state)}
    async with RawClient.spawn([sys.executable, "-m", "sero_ls"], env=env) as c:
        await c.initialize(
            {
                "processId": os.getpid(),
                "capabilities": {},
                "workspaceFolders": [{"uri": path_to_uri(str(ws)), "name": ws.name}],
                "initializationOptions": {"settings": {"containerBackend": "podman"}},
            }
        )
        await c.request("sero/workspaceStatus", {})
        times = []
        for _ in range(300):
            t = time.perf_counter()
            await c.request("sero/workspaceStatus", {"uri": path_to_uri(str(ws))})
            times.append((time.perf_counter() - t) * 1000)
        await asyncio.sleep(1.0)  # let it go idle (no fixed wait in tests; this is a figure)
        rss = psutil.Process(c.proc.pid).memory_info().rss / 2**20
        await c.shutdown_exit()
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99)], rss


async def cold(folders: list[Path]) -> float:
    settings, _ = merge([("bench", {"containerBackend": "podman"})])
    jobs = [(Folder(path_to_uri(str(f)), str(f), f.name), settings) for f in folders]
    t = time.perf_counter()
    statuses = await resolve_folders(jobs, ProbeRound())
    elapsed = time.perf_counter() - t
    assert all(s.mode == "container" for s in statuses), [s.reason for s in statuses]
    return elapsed


async def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="sero-bench-"))
    names = []
    try:
        folders = []
        for i in range(10):
            f = tmp / f"ws {i}"
            f.mkdir()
            name = f"sero-test-bench-{os.getpid()}-{i}"
            pm.create_workspace_container(name, f, hide_host_copy=False)
            names.append(name)
            folders.append(f)
        one = [await cold(folders[:1]) for _ in range(5)]
        ten = [await cold(folders) for _ in range(5)]
        p50, p99, rss = await cached_round_trip(folders[0], tmp / "state")
        ms_one, ms_ten = statistics.median(one) * 1000, statistics.median(ten) * 1000
        rows = [
            ("cached `sero/workspaceStatus` round trip, p50 / p99", f"{p50:.2f} / {p99:.2f} ms"),
            ("cold resolution, 1 folder (median of 5)", f"{ms_one:.0f} ms"),
            ("cold resolution, 10 folders in 10 containers (median of 5)", f"{ms_ten:.0f} ms"),
            ("ratio 10 folders / 1 folder", f"{ms_ten / ms_one:.2f}x"),
            ("idle RSS of the server (1 folder, no language server)", f"{rss:.0f} MiB"),
        ]
        print("| figure | value |")
        print("| --- | --- |")
        for name, value in rows:
            print(f"| {name} | {value} |")
    finally:
        for n in names:
            pm.remove(n)


if __name__ == "__main__":
    asyncio.run(main())
