"""Resilience figures (issue #5): crash rounds survived with documents intact, and the
time from a backend crash to the first answered request after its restart.

    .venv/bin/python bench/bench_resilience.py [ROUNDS]

Real pylsp on the host and in a real Podman container. Each round SIGKILLs the language
server while the document holds unsaved edits, then hovers until the answer shows the
unsaved text again. Orphan and fuzz figures come from the test suite (tests/e2e/
test_orphans.py prints its rounds; tests/e2e/test_fuzz_server.py its cases).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.test_resilience import (  # noqa: E402
    PYLSP,
    UNSAVED_CALL,
    hover_text,
    open_with_unsaved_edit,
    server,
)
from tests.support import podman as pm  # noqa: E402
from tests.support.lsp import session  # noqa: E402


async def rounds(where: str, n: int, tmp: Path) -> tuple[int, list[float]]:
    ws = tmp / f"{where} ws"
    ws.mkdir()
    settings: dict[str, object] = {"servers": PYLSP, "pollInterval": 0.5}
    name = None
    if where == "host":
        settings["runtime"] = "host"
    else:
        name = f"sero-test-bench-res-{int(time.time())}"
        pm.create_workspace_container(name, ws)
        settings["containerBackend"] = "podman"
    survived, times = 0, []
    try:
        async with session([ws], tmp=tmp / where, settings=settings) as s:
            await s.status.wait_for(
                lambda n: (
                    (server(n, ws) or {}).get("mode") == where
                    and (server(n, ws) or {}).get("state") == "running"
                ),
                timeout=60,
            )
            uri = await open_with_unsaved_edit(s, ws / "main.py")
            assert "only in the buffer" in await hover_text(s, uri, UNSAVED_CALL, 2)
            killed: set[int] = set()

            async def running_pid() -> int:
                while True:
                    st = (await s.request("sero/workspaceStatus", {}))["folders"][0]
                    srv = st["servers"][0]
                    if srv["state"] == "running" and srv["pid"] not in killed:
                        return int(srv["pid"])
                    await asyncio.sleep(0.05)

            for i in range(n):
                pid = await running_pid()
                killed.add(pid)
                t0 = time.perf_counter()
                psutil.Process(pid).kill()
                while True:  # the first request answered by the restarted server
                    try:
                        text = await hover_text(s, uri, UNSAVED_CALL, 2)
                    except Exception:
                        continue
                    if "only in the buffer" in text:
                        break
                times.append(time.perf_counter() - t0)
                survived += 1
                if (i + 1) % 4 == 0:  # stay under the give-up threshold (5 crashes a minute)
                    await s.command("sero.restartServers")
    finally:
        if name:
            pm.remove(name)
    return survived, times


async def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    tmp = Path(tempfile.mkdtemp(prefix="sero-bench-res-"))
    print(
        "| where | crash rounds survived, documents intact | crash -> first answer, median (max) |"
    )
    print("| --- | --- | --- |")
    for where in ("host", "container"):
        survived, times = await rounds(where, n, tmp)
        print(
            f"| {where} | {survived} / {n} | {statistics.median(times) * 1000:.0f} ms "
            f"({max(times) * 1000:.0f} ms) |"
        )


if __name__ == "__main__":
    asyncio.run(main())
