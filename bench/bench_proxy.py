"""How much sero-ls' proxy costs: one client workload against the echo backend
(bench/echo_server.py), directly and through sero-ls (wrapper and hub mode), in one run.

    .venv/bin/python bench/bench_proxy.py [--requests 2000] [--notifications 20000]
        [--open-mb 10] [--rounds 3] [--modes direct,wrapper,hub] [--profile DIR] [--json]

Figures per mode, each with its ratio to direct:

* request round trip p50 / p99 (sequential hover-like requests, after a warm-up);
* didChange/s: incremental ``textDocument/didChange`` notifications (sero-ls keeps each
  document, so it applies every edit), written back to back, then a barrier request;
* notify/s: unknown ``$/bench/note`` notifications (pure forwarding), then a barrier;
* a 10 MB ``didOpen``: time until the barrier after it is answered (median of 3).

Each figure is the median over ``--rounds`` rounds; a round runs every mode in turn.

CPU rows: CPU time of the process the client talks to (sero-ls; the echo server itself
when direct) per message: steadier than wall-clock figures on a busy machine.

Targets (reported, not asserted): p50 at most +0.3 ms, notification throughput at least
70% of direct, the 10 MB didOpen within 2x of direct. ``--profile DIR`` runs sero-ls under
cProfile and writes ``DIR/<mode>.prof`` (read it with ``python -m pstats``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from sero_ls.uris import path_to_uri  # noqa: E402
from tests.support.rawclient import RawClient  # noqa: E402

ECHO = [sys.executable, str(ROOT / "bench" / "echo_server.py")]
TARGET_P50_ADDED_MS = 0.3
TARGET_THROUGHPUT = 0.70
TARGET_OPEN = 2.0


def argv_for(mode: str, log: Path, profile: Path | None) -> list[str]:
    python = [sys.executable]
    if profile is not None:
        python += ["-m", "cProfile", "-o", str(profile / f"{mode}.prof")]
    if mode == "direct":
        return ECHO
    if mode == "wrapper":
        return [*python, "-m", "sero_ls", "proxy", "--log-file", str(log), "--", *ECHO]
    return [*python, "-m", "sero_ls", "serve", "--log-file", str(log)]


def init_params(mode: str, folder: Path) -> dict[str, Any]:
    params: dict[str, Any] = {
        "processId": os.getpid(),
        "rootUri": path_to_uri(str(folder)),
        "workspaceFolders": [{"uri": path_to_uri(str(folder)), "name": folder.name}],
        "capabilities": {"general": {"positionEncodings": ["utf-16"]}},
    }
    if mode == "hub":
        params["initializationOptions"] = {
            "settings": {
                "runtime": "host",
                "servers": {"echo": {"command": ECHO, "languages": ["python"]}},
            }
        }
    return params


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def barrier(c: RawClient, uri: str) -> dict[str, Any]:
    result: dict[str, Any] = await c.request(
        "bench/barrier", {"textDocument": {"uri": uri}}, timeout=300
    )
    return result


async def notification_rate(c: RawClient, uri: str, n: int, make: Any) -> tuple[float, int]:
    before = (await barrier(c, uri))["notifications"]
    t0 = time.perf_counter()
    for i in range(n):
        c.notify(*make(i))
        if i % 256 == 255:
            await c.drain()
    after = (await barrier(c, uri))["notifications"]
    elapsed = time.perf_counter() - t0
    return n / elapsed, after - before


async def run_mode(mode: str, args: argparse.Namespace, tmp: Path) -> dict[str, float]:
    folder = tmp / mode
    (folder / ".sero").mkdir(parents=True)
    (folder / ".sero" / "config.toml").write_text('runtime = "host"\n')
    env = {**os.environ, "SERO_LS_STATE_DIR": str(tmp / "state")}
    log = tmp / f"{mode}.log"
    argv = argv_for(mode, log, args.profile)
    async with RawClient.spawn(argv, env=env, cwd=str(folder)) as c:
        await c.initialize(init_params(mode, folder), timeout=60)
        peer = psutil.Process(c.proc.pid)

        def cpu() -> float:
            """CPU seconds of the process the client talks to (sero-ls, or echo directly)."""
            t = peer.cpu_times()
            return float(t.user + t.system)

        uri = path_to_uri(str(folder / "a.py"))
        lines = 100
        c.notify(
            "textDocument/didOpen",
            {
                "textDocument": {
                    "uri": uri,
                    "languageId": "python",
                    "version": 1,
                    "text": "x = 1\n" * lines,
                }
            },
        )
        hover = {"textDocument": {"uri": uri}, "position": {"line": 3, "character": 1}}
        for _ in range(200):  # warm-up
            await c.request("textDocument/hover", hover)
        rtt = []
        cpu0 = cpu()
        for _ in range(args.requests):
            t0 = time.perf_counter_ns()
            await c.request("textDocument/hover", hover)
            rtt.append((time.perf_counter_ns() - t0) / 1e6)
        cpu_request = (cpu() - cpu0) / args.requests

        version = [1]

        def did_change(i: int) -> tuple[str, Any]:
            version[0] += 1
            k = i % lines
            return (
                "textDocument/didChange",
                {
                    "textDocument": {"uri": uri, "version": version[0]},
                    "contentChanges": [
                        {
                            "range": {
                                "start": {"line": k, "character": 0},
                                "end": {"line": k, "character": 1},
                            },
                            "text": "y",
                        }
                    ],
                },
            )

        def note(i: int) -> tuple[str, Any]:
            return ("$/bench/note", {"textDocument": {"uri": uri}, "seq": i})

        cpu0 = cpu()
        change_rate, got_changes = await notification_rate(c, uri, args.notifications, did_change)
        cpu_change = (cpu() - cpu0) / args.notifications
        cpu0 = cpu()
        note_rate, got_notes = await notification_rate(c, uri, args.notifications, note)
        cpu_note = (cpu() - cpu0) / args.notifications
        if got_changes != args.notifications or got_notes != args.notifications:
            raise SystemExit(f"{mode}: notifications lost ({got_changes}, {got_notes})")

        big = "z" * (args.open_mb * 2**20 - 1) + "\n"
        opens = []
        cpu0 = cpu()
        for i in range(3):
            big_uri = path_to_uri(str(folder / f"big{i}.py"))
            t0 = time.perf_counter()
            c.notify(
                "textDocument/didOpen",
                {
                    "textDocument": {
                        "uri": big_uri,
                        "languageId": "python",
                        "version": 1,
                        "text": big,
                    }
                },
            )
            ack = await barrier(c, uri)
            opens.append((time.perf_counter() - t0) * 1000)
            if ack["lastOpenLength"] != len(big):
                raise SystemExit(f"{mode}: didOpen length {ack['lastOpenLength']} != {len(big)}")
            c.notify("textDocument/didClose", {"textDocument": {"uri": big_uri}})
        cpu_open = (cpu() - cpu0) / 3
        status = await c.shutdown_exit(timeout=60)
        if status != 0:
            raise SystemExit(f"{mode}: exit status {status}")
    return {
        "p50_ms": statistics.median(rtt),
        "p99_ms": pct(rtt, 0.99),
        "didchange_per_s": change_rate,
        "notify_per_s": note_rate,
        "open_ms": statistics.median(opens),
        "cpu_request_us": cpu_request * 1e6,
        "cpu_didchange_us": cpu_change * 1e6,
        "cpu_notify_us": cpu_note * 1e6,
        "cpu_open_ms": cpu_open * 1e3,
    }


def report(results: dict[str, dict[str, float]], args: argparse.Namespace) -> None:
    direct = results.get("direct")
    rows = [
        ("request p50 (ms)", "p50_ms", "{:.3f}"),
        ("request p99 (ms)", "p99_ms", "{:.3f}"),
        ("didChange/s", "didchange_per_s", "{:,.0f}"),
        ("$/notify/s", "notify_per_s", "{:,.0f}"),
        (f"{args.open_mb} MB didOpen (ms)", "open_ms", "{:.1f}"),
        ("CPU/request (us)", "cpu_request_us", "{:.1f}"),
        ("CPU/didChange (us)", "cpu_didchange_us", "{:.1f}"),
        ("CPU/$/notify (us)", "cpu_notify_us", "{:.1f}"),
        (f"CPU/{args.open_mb} MB didOpen (ms)", "cpu_open_ms", "{:.1f}"),
    ]
    modes = list(results)
    print(f"{'':22}" + "".join(f"{m:>24}" for m in modes))
    for label, key, fmt in rows:
        cells = []
        for m in modes:
            value = results[m][key]
            cell = fmt.format(value)
            if direct is not None and m != "direct" and direct[key]:
                cell += f" ({value / direct[key]:.2f}x)"
            cells.append(f"{cell:>24}")
        print(f"{label:22}" + "".join(cells))
    if direct is None:
        return
    print()
    for m in modes:
        if m == "direct":
            continue
        r = results[m]
        added = r["p50_ms"] - direct["p50_ms"]
        checks = [
            (f"p50 +{added:.3f} ms <= {TARGET_P50_ADDED_MS} ms", added <= TARGET_P50_ADDED_MS),
            (
                f"didChange/s {r['didchange_per_s'] / direct['didchange_per_s']:.0%} >= 70%",
                r["didchange_per_s"] / direct["didchange_per_s"] >= TARGET_THROUGHPUT,
            ),
            (
                f"$/notify/s {r['notify_per_s'] / direct['notify_per_s']:.0%} >= 70%",
                r["notify_per_s"] / direct["notify_per_s"] >= TARGET_THROUGHPUT,
            ),
            (
                f"didOpen {r['open_ms'] / direct['open_ms']:.2f}x <= 2x",
                r["open_ms"] / direct["open_ms"] <= TARGET_OPEN,
            ),
        ]
        line = "; ".join(f"{text} {'ok' if ok else 'MISSED'}" for text, ok in checks)
        print(f"{m}: {line}")


async def main_async(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Rounds interleave the modes (a busy machine hits them alike); medians per figure."""
    runs: dict[str, list[dict[str, float]]] = {m: [] for m in args.modes}
    for r in range(args.rounds):
        for mode in args.modes:
            with tempfile.TemporaryDirectory(prefix=f"bench-proxy-{mode}-{r}-") as tmp:
                runs[mode].append(await run_mode(mode, args, Path(tmp)))
    return {
        mode: {key: statistics.median(run[key] for run in rs) for key in rs[0]}
        for mode, rs in runs.items()
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--notifications", type=int, default=20_000)
    ap.add_argument("--open-mb", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3, help="medians over this many rounds")
    ap.add_argument("--modes", default="direct,wrapper,hub", type=lambda s: s.split(","))
    ap.add_argument("--profile", type=Path, help="run sero-ls under cProfile, stats into DIR")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args()
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
        args.profile = args.profile.resolve()
    results = asyncio.run(main_async(args))
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(
            f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {time.strftime('%F %T')}, "
            f"load {os.getloadavg()[0]:.1f}, medians of {args.rounds} rounds"
        )
        report(results, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
