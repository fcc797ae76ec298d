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

A round opens a session per mode (all at once) and runs each phase for every mode back
to back, so the figures compared were measured seconds apart; the order of the modes
alternates between rounds. Each figure is the median over ``--rounds`` rounds, and each
ratio the median of the rounds' ratios (a machine whose speed drifts, as shared virtual
machines' does, moves both sides of a ratio alike).

CPU rows: CPU time of the process the client talks to (sero-ls; the echo server itself
when direct) per message: steadier than wall-clock figures on a busy machine.

Targets (reported, not asserted): p50 at most +0.3 ms, notification throughput at least
70% of direct, the 10 MB didOpen within 2x of direct. ``--profile DIR`` runs sero-ls under
cProfile and writes ``DIR/<mode>.prof`` (read it with ``python -m pstats``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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


class Session:
    """One mode's client, echo backend and (but for direct) sero-ls, opened for a round."""

    def __init__(self, mode: str, args: argparse.Namespace, tmp: Path) -> None:
        self.mode = mode
        self.args = args
        self.folder = tmp / mode
        (self.folder / ".sero").mkdir(parents=True)
        (self.folder / ".sero" / "config.toml").write_text('runtime = "host"\n')
        self.env = {**os.environ, "SERO_LS_STATE_DIR": str(tmp / "state")}
        self.argv = argv_for(mode, tmp / f"{mode}.log", args.profile)
        self.uri = path_to_uri(str(self.folder / "a.py"))
        self.lines = 100
        self.version = 1
        self.figures: dict[str, float] = {}

    async def open(self, stack: contextlib.AsyncExitStack) -> None:
        self.c = c = await stack.enter_async_context(
            RawClient.spawn(self.argv, env=self.env, cwd=str(self.folder))
        )
        await c.initialize(init_params(self.mode, self.folder), timeout=60)
        if self.mode != "direct":
            # answered by the full server: sero-ls has finished booting (pygls is imported
            # after the servers start), so what follows measures forwarding alone
            await c.request("sero/logs", {}, timeout=60)
        self.peer = psutil.Process(c.proc.pid)
        c.notify(
            "textDocument/didOpen",
            {
                "textDocument": {
                    "uri": self.uri,
                    "languageId": "python",
                    "version": 1,
                    "text": "x = 1\n" * self.lines,
                }
            },
        )

    def cpu(self) -> float:
        """CPU seconds of the process the client talks to (sero-ls, or echo directly)."""
        t = self.peer.cpu_times()
        return float(t.user + t.system)

    async def requests(self) -> None:
        c, n = self.c, self.args.requests
        hover = {"textDocument": {"uri": self.uri}, "position": {"line": 3, "character": 1}}
        for _ in range(200):  # warm-up
            await c.request("textDocument/hover", hover)
        rtt = []
        cpu0 = self.cpu()
        for _ in range(n):
            t0 = time.perf_counter_ns()
            await c.request("textDocument/hover", hover)
            rtt.append((time.perf_counter_ns() - t0) / 1e6)
        self.figures["cpu_request_us"] = (self.cpu() - cpu0) / n * 1e6
        self.figures["p50_ms"] = statistics.median(rtt)
        self.figures["p99_ms"] = pct(rtt, 0.99)

    async def did_changes(self) -> None:
        def did_change(i: int) -> tuple[str, Any]:
            self.version += 1
            k = i % self.lines
            return (
                "textDocument/didChange",
                {
                    "textDocument": {"uri": self.uri, "version": self.version},
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

        await self._rate("didchange_per_s", "cpu_didchange_us", did_change)

    async def notes(self) -> None:
        def note(i: int) -> tuple[str, Any]:
            return ("$/bench/note", {"textDocument": {"uri": self.uri}, "seq": i})

        await self._rate("notify_per_s", "cpu_notify_us", note)

    async def _rate(self, rate_key: str, cpu_key: str, make: Any) -> None:
        n = self.args.notifications
        cpu0 = self.cpu()
        io0 = self.peer.io_counters()
        rate, got = await notification_rate(self.c, self.uri, n, make)
        self.figures[cpu_key] = (self.cpu() - cpu0) / n * 1e6
        io1 = self.peer.io_counters()
        self.figures[rate_key + "_reads"] = io1.read_count - io0.read_count
        self.figures[rate_key + "_writes"] = io1.write_count - io0.write_count
        self.figures[rate_key] = rate
        if got != n:
            raise SystemExit(f"{self.mode}: {got} of {n} notifications arrived")

    async def big_opens(self) -> None:
        big = "z" * (self.args.open_mb * 2**20 - 1) + "\n"
        opens = []
        cpu0 = self.cpu()
        for i in range(3):
            big_uri = path_to_uri(str(self.folder / f"big{i}.py"))
            t0 = time.perf_counter()
            self.c.notify(
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
            ack = await barrier(self.c, self.uri)
            opens.append((time.perf_counter() - t0) * 1000)
            if ack["lastOpenLength"] != len(big):
                raise SystemExit(f"{self.mode}: didOpen length {ack['lastOpenLength']}")
            self.c.notify("textDocument/didClose", {"textDocument": {"uri": big_uri}})
        self.figures["cpu_open_ms"] = (self.cpu() - cpu0) / 3 * 1e3
        self.figures["open_ms"] = statistics.median(opens)

    async def close(self) -> None:
        status = await self.c.shutdown_exit(timeout=60)
        if status != 0:
            raise SystemExit(f"{self.mode}: exit status {status}")


PHASES = ("requests", "did_changes", "notes", "big_opens")


async def run_round(args: argparse.Namespace, r: int) -> dict[str, dict[str, float]]:
    """Every mode's session is open; each phase runs for every mode back to back, so the
    modes compared are measured seconds apart (a machine whose speed drifts hits them alike)."""
    with tempfile.TemporaryDirectory(prefix=f"bench-proxy-{r}-") as tmp:
        async with contextlib.AsyncExitStack() as stack:
            sessions = [Session(mode, args, Path(tmp)) for mode in args.modes]
            for s in sessions:
                await s.open(stack)
            order = sessions if r % 2 == 0 else sessions[::-1]  # neither goes first always
            for phase in PHASES:
                for s in order:
                    await getattr(s, phase)()
            for s in sessions:
                await s.close()
    return {s.mode: s.figures for s in sessions}


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
                cell += f" ({results[m][key + '_ratio']:.2f}x)"
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
                f"didChange/s {r['didchange_per_s_ratio']:.0%} >= 70%",
                r["didchange_per_s_ratio"] >= TARGET_THROUGHPUT,
            ),
            (
                f"$/notify/s {r['notify_per_s_ratio']:.0%} >= 70%",
                r["notify_per_s_ratio"] >= TARGET_THROUGHPUT,
            ),
            (
                f"didOpen {r['open_ms_ratio']:.2f}x <= 2x",
                r["open_ms_ratio"] <= TARGET_OPEN,
            ),
        ]
        line = "; ".join(f"{text} {'ok' if ok else 'MISSED'}" for text, ok in checks)
        print(f"{m}: {line}")


async def main_async(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Medians over the rounds of each figure, and of each round's ratio to direct."""
    runs = [await run_round(args, r) for r in range(args.rounds)]
    if args.verbose:
        for r, run in enumerate(runs):
            cells = ", ".join(
                f"{mode} {run[mode]['notify_per_s']:,.0f}/s {run[mode]['cpu_notify_us']:.1f} us"
                f" r{run[mode]['notify_per_s_reads']} w{run[mode]['notify_per_s_writes']}"
                for mode in args.modes
            )
            print(f"round {r}: $/notify {cells}", file=sys.stderr)
    out: dict[str, dict[str, float]] = {}
    for mode in args.modes:
        keys = runs[0][mode]
        out[mode] = {key: statistics.median(run[mode][key] for run in runs) for key in keys}
        if "direct" in args.modes and mode != "direct":
            for key in keys:
                out[mode][f"{key}_ratio"] = statistics.median(
                    run[mode][key] / run["direct"][key] if run["direct"][key] else 0.0
                    for run in runs
                )
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--notifications", type=int, default=20_000)
    ap.add_argument("--open-mb", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3, help="medians over this many rounds")
    ap.add_argument("--modes", default="direct,wrapper,hub", type=lambda s: s.split(","))
    ap.add_argument("--profile", type=Path, help="run sero-ls under cProfile, stats into DIR")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("-v", "--verbose", action="store_true", help="each round's $/notify")
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
            f"load {os.getloadavg()[0]:.1f}, medians of {args.rounds} rounds (ratios: of the "
            "rounds' ratios)"
        )
        report(results, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
