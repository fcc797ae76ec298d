"""What sero-ls costs: pylsp spoken to directly vs through sero-ls on the host vs in a container.

    .venv/bin/python bench/bench_container.py [--runs 3] [--hovers 200]

Needs podman (see tests/support/podman.py; `bash scripts/setup --test` installs it) and
Debian's pylsp with pyflakes (`/usr/bin/pylsp`, also inside the container: the test
container's rootfs is the host's `/`). One run creates a workspace container the way the
tests do (workspace bind-mounted at /workspace, labelled ai.sero.workspacePath, the host
copy hidden inside) and removes it at the end. For each setup and run it measures

* start-up: from sending `initialize` to the first non-empty `textDocument/publishDiagnostics`
  of the opened document (sero-ls answers `initialize` only after it resolved the runtime and
  started pylsp, so this covers resolution, `podman exec` and pylsp's own start);
* hover round trips: `--hovers` sequential `textDocument/hover` requests after 10 warm-ups,
  each checked to carry the docstring.

Setups: pylsp over pipes (no sero-ls), `python -m sero_ls` in hub mode with runtime "host",
and hub mode with containerBackend "podman" and runtime "auto" (checked to be in container
mode through `sero/workspaceStatus`). Start-up is the median over runs; hover percentiles pool
all runs. Ratios are against pylsp direct.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sero_ls.uris import path_to_uri  # noqa: E402
from tests.support import podman as pm  # noqa: E402

PYLSP = "/usr/bin/pylsp"
SOURCE = '''import os


def greet(name):
    """Say hello."""
    return "hello " + name


greet("x")
os.path.join("a", "b")
unused = undefined_name
'''
HOVER_AT = {"line": 8, "character": 2}  # greet("x")
WARMUP = 10
TIMEOUT = 60.0


# ---- a small raw JSON-RPC client (its own framing, independent of sero-ls')


class Peer:
    """One language server process over stdio; answers every server request with null."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdin and proc.stdout and proc.stderr
        self.proc = proc
        self.stdin = proc.stdin
        self.stderr_tail: deque[str] = deque(maxlen=20)
        self.ids = itertools.count(1)
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.diagnosed: dict[str, asyncio.Future[float]] = {}
        self.tasks = [
            asyncio.ensure_future(self._read(proc.stdout)),
            asyncio.ensure_future(self._drain(proc.stderr)),
        ]

    @classmethod
    @contextlib.asynccontextmanager
    async def spawn(cls, argv: Sequence[str], env: dict[str, str]) -> AsyncIterator[Peer]:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            limit=2**22,
        )
        peer = cls(proc)
        try:
            yield peer
        finally:
            await peer.close()

    def send(self, msg: dict[str, Any]) -> None:
        body = json.dumps(msg, separators=(",", ":")).encode()
        self.stdin.write(b"Content-Length: %d\r\n\r\n%b" % (len(body), body))

    def notify(self, method: str, params: Any) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    async def request(self, method: str, params: Any, wait_s: float = TIMEOUT) -> Any:
        msg_id = next(self.ids)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[msg_id] = fut
        self.send({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        await self.stdin.drain()
        try:
            async with asyncio.timeout(wait_s):
                reply = await fut
        except TimeoutError:
            raise RuntimeError(f"{method}: no answer in {wait_s} s; {self.tail()}") from None
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result")

    def first_diagnostics(self, uri: str) -> asyncio.Future[float]:
        """Resolves to the perf_counter() time of the first non-empty diagnostics for uri."""
        return self.diagnosed.setdefault(uri, asyncio.get_running_loop().create_future())

    def tail(self) -> str:
        return "stderr: " + " | ".join(self.stderr_tail) if self.stderr_tail else "no stderr"

    async def _read(self, out: asyncio.StreamReader) -> None:
        while True:
            length = None
            while True:
                line = await out.readline()
                if not line:
                    self._fail_pending()
                    return
                if not line.strip():
                    break
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if length is None:
                continue
            self._dispatch(json.loads(await out.readexactly(length)), time.perf_counter())

    def _dispatch(self, msg: dict[str, Any], now: float) -> None:
        if "method" not in msg:
            fut = self.pending.pop(msg.get("id"), None)  # type: ignore[arg-type]
            if fut is not None and not fut.done():
                fut.set_result(msg)
        elif "id" in msg:
            self.send({"jsonrpc": "2.0", "id": msg["id"], "result": None})
        elif msg["method"] == "textDocument/publishDiagnostics":
            params = msg.get("params") or {}
            if params.get("diagnostics"):
                seen = self.first_diagnostics(params.get("uri", ""))
                if not seen.done():
                    seen.set_result(now)

    def _fail_pending(self) -> None:
        closed = RuntimeError(f"the server closed its output; {self.tail()}")
        futures: list[asyncio.Future[Any]] = [*self.pending.values(), *self.diagnosed.values()]
        for fut in futures:
            if not fut.done():
                fut.set_exception(closed)

    async def _drain(self, err: asyncio.StreamReader) -> None:
        async for line in err:
            self.stderr_tail.append(line.decode(errors="replace").rstrip())

    async def close(self) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(Exception):
                await self.request("shutdown", None, wait_s=10)
                self.notify("exit", None)
                await self.stdin.drain()
            try:
                async with asyncio.timeout(10):
                    await self.proc.wait()
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


# ---- one measured session


@dataclass
class Setup:
    name: str
    argv: list[str]
    settings: dict[str, Any] | None  # sero-ls initializationOptions.settings; None: direct
    expect_mode: str | None = None  # sero-ls' folder and server mode to check
    folder: str | None = None  # the folder as this server sees it (container path), else host


@dataclass
class Samples:
    initialize: list[float] = field(default_factory=list)
    startup: list[float] = field(default_factory=list)
    hovers: list[float] = field(default_factory=list)


def initialize_params(folder: Path, setup: Setup) -> dict[str, Any]:
    uri = path_to_uri(str(folder))
    params: dict[str, Any] = {
        # a server in a container cannot see host PIDs (pylsp would exit at once)
        "processId": None if setup.folder else os.getpid(),
        "clientInfo": {"name": "bench_container"},
        "rootUri": uri,
        "rootPath": str(folder),
        "workspaceFolders": [{"uri": uri, "name": folder.name}],
        "capabilities": {
            "textDocument": {
                "synchronization": {"didSave": True},
                "hover": {"contentFormat": ["markdown", "plaintext"]},
                "publishDiagnostics": {"relatedInformation": True},
            },
            "workspace": {"workspaceFolders": True},
        },
    }
    if setup.settings is not None:
        params["initializationOptions"] = {"settings": setup.settings}
    return params


async def measure(setup: Setup, host_folder: Path, hovers: int, env: dict[str, str]) -> Samples:
    folder = Path(setup.folder) if setup.folder else host_folder
    doc = path_to_uri(str(folder / "main.py"))
    samples = Samples()
    async with Peer.spawn(setup.argv, env) as peer:
        diagnosed = peer.first_diagnostics(doc)
        sent = time.perf_counter()
        await peer.request("initialize", initialize_params(folder, setup))
        samples.initialize.append(time.perf_counter() - sent)
        peer.notify("initialized", {})
        item = {"uri": doc, "languageId": "python", "version": 1, "text": SOURCE}
        peer.notify("textDocument/didOpen", {"textDocument": item})
        try:
            async with asyncio.timeout(TIMEOUT):
                samples.startup.append(await diagnosed - sent)
        except TimeoutError:
            raise RuntimeError(f"{setup.name}: no diagnostics; {peer.tail()}") from None
        if setup.expect_mode is not None:
            status = await peer.request("sero/workspaceStatus", {"uri": doc})
            (st,) = status["folders"]
            modes = (st["mode"], [s["mode"] for s in st["servers"]])
            if modes != (setup.expect_mode, [setup.expect_mode]):
                raise RuntimeError(f"{setup.name}: expected {setup.expect_mode}, got {modes}")
        params = {"textDocument": {"uri": doc}, "position": HOVER_AT}
        for i in range(WARMUP + hovers):
            start = time.perf_counter()
            result = await peer.request("textDocument/hover", params)
            took = time.perf_counter() - start
            if "Say hello" not in json.dumps(result):
                raise RuntimeError(f"{setup.name}: unexpected hover {result!r}")
            if i >= WARMUP:
                samples.hovers.append(took)
    return samples


# ---- the run


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(results: dict[str, Samples], runs: int, hovers: int) -> str:
    base = results[next(iter(results))]
    base_start = statistics.median(base.startup)
    base_p50 = percentile(base.hovers, 0.5)
    head = (
        f"{'setup':<24} {'initialize':>10} {'->diagnostics':>13} {'ratio':>6}   "
        f"{'hover p50':>9} {'ratio':>6} {'p90':>8} {'max':>8}"
    )
    lines = [head, "-" * len(head)]
    for name, s in results.items():
        init = statistics.median(s.initialize)
        start = statistics.median(s.startup)
        p50 = percentile(s.hovers, 0.5)
        lines.append(
            f"{name:<24} {init * 1000:>7.0f} ms {start * 1000:>10.0f} ms "
            f"{start / base_start:>5.2f}x   "
            f"{p50 * 1000:>6.2f} ms {p50 / base_p50:>5.2f}x "
            f"{percentile(s.hovers, 0.9) * 1000:>5.2f} ms {max(s.hovers) * 1000:>5.1f} ms"
        )
    lines.append(
        f"initialize and ->diagnostics (from sending initialize): median of {runs} runs; "
        f"hover: {hovers} per run after {WARMUP} warm-ups, pooled; ratios vs the first row"
    )
    for name, s in results.items():
        lines.append(f"  {name}: ->diagnostics per run {[round(x * 1000) for x in s.startup]} ms")
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> int:
    reason = pm.podman_ok()
    if reason is not None:
        print(f"podman is not usable here: {reason}", file=sys.stderr)
        return 2
    if not os.access(PYLSP, os.X_OK):
        print(
            f"{PYLSP} is missing (apt-get install python3-pylsp python3-pyflakes)", file=sys.stderr
        )
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="sero-bench-"))
    folder = tmp / "bench proj é"
    folder.mkdir()
    (folder / "main.py").write_text(SOURCE)
    env = {**os.environ, "SERO_LS_STATE_DIR": str(tmp / "state")}
    # `pylsp` on the host resolves to Debian's, the same program as inside the container
    env["PATH"] = os.path.dirname(PYLSP) + os.pathsep + env.get("PATH", "")
    servers = {"pylsp": {"command": ["pylsp"], "languages": ["python"]}}
    hub = [sys.executable, "-m", "sero_ls"]
    name = f"{pm.TEST_PREFIX}bench-{uuid.uuid4().hex[:8]}"
    setups = [
        Setup("host, pylsp direct", [PYLSP], None),
        Setup("host, via sero-ls", hub, {"servers": servers, "runtime": "host"}, "host"),
        Setup(
            "container, podman exec",
            [pm.PODMAN, "exec", "-i", "-w", "/workspace", name, "pylsp"],
            None,
            folder="/workspace",
        ),
        Setup(
            "container, via sero-ls",
            hub,
            {"servers": servers, "runtime": "auto", "containerBackend": "podman"},
            "container",
        ),
    ]
    results = {s.name: Samples() for s in setups}
    try:
        made = time.perf_counter()
        pm.create_workspace_container(name, folder)
        print(f"container {name} ready in {time.perf_counter() - made:.1f} s", file=sys.stderr)
        for run_no in range(args.runs):
            for setup in setups:  # interleaved, so drift hits every setup alike
                got = await measure(setup, folder, args.hovers, env)
                results[setup.name].initialize += got.initialize
                results[setup.name].startup += got.startup
                results[setup.name].hovers += got.hovers
                print(
                    f"run {run_no + 1}/{args.runs} {setup.name}: "
                    f"{got.startup[0] * 1000:.0f} ms to diagnostics",
                    file=sys.stderr,
                )
    finally:
        pm.run([pm.PODMAN, "rm", "-f", "-t", "0", name], check=False)
        shutil.rmtree(tmp, ignore_errors=True)
    print(report(results, args.runs, args.hovers))
    cores = os.cpu_count()
    load = os.getloadavg()[0]
    print(f"machine: {cores} cores, load {load:.1f}; pylsp {PYLSP}; podman exec via {pm.PODMAN}")
    print(
        f"reproduce: .venv/bin/python bench/bench_container.py --runs {args.runs} "
        f"--hovers {args.hovers}"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=3, help="sessions per setup (default 3)")
    parser.add_argument("--hovers", type=int, default=200, help="hovers per session")
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
