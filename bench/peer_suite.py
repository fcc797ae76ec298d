"""Wrapper transparency: a real peer language server's own end-to-end suite, run directly and
with every session started as `sero-ls proxy -- <server>` (issue #12, item 8).

    .venv/bin/python bench/peer_suite.py [direct] [host] [container] [--pytest-args ...]
    make test-peer

The peer is jedi-language-server: its suite (tests/lsp_tests, in its PyPI sdist) starts the
server over stdio for every session from one script, tests/lsp_test_client/lsp_run.py, and
checks exact answers and published diagnostics. Nothing of it is committed here: the sdist
and a venv with the server and the suite's test dependencies are fetched from PyPI at run
time into ${SERO_CI_CACHE:-~/.cache/sero-ls-ci}/peer-jedi-language-server-<version>
(stamped; reused while the version matches). Each mode runs on its own fresh copy:

* direct: the suite as its authors run it;
* host: lsp_run.py replaced by an exec of `sero-ls proxy -- <venv>/bin/jedi-language-server`
  (the same entry point, `jedi_language_server.cli:cli`), in a folder with no container, as
  a plain user has it (sero-ls continues in host mode, degraded);
* container: the same, with the folder in a real Podman container (the copy mounted at
  /workspace, labelled ai.sero.workspacePath, the host copy hidden inside; `.sero/config.toml`
  says `containerBackend = "podman"`), so the server runs inside it through `podman exec`.

It prints pass/fail counts per mode, then each test that fails through the wrapper but passes
directly, with the first line of its failure. Exit status: 0 when every wrapped mode passes
what direct passes, 1 otherwise, 2 when the set-up fails.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support import podman as pm  # noqa: E402

PEER = "jedi-language-server"
VERSION = "0.47.0"
TEST_DEPS = ["pytest", "python-lsp-jsonrpc", "PyHamcrest", "pytest-timeout"]
RUN_SCRIPT = "tests/lsp_test_client/lsp_run.py"
SERO_LS = Path(sys.executable).parent / "sero-ls"
MODES = ("direct", "host", "container")

# What replaces lsp_run.py in a wrapped copy: the session's server becomes sero-ls.
WRAPPED_RUN = '''"""Run Language Server for Test, through sero-ls (from bench/peer_suite.py)."""

import os

ARGV = {argv}
os.execv(ARGV[0], [a.replace("@PID@", str(os.getpid())) for a in ARGV])
'''


@dataclass
class Outcome:
    seconds: float
    results: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (status, message)
    sessions: int = 0  # wrapped sessions (sero-ls processes) ...
    in_container: int = 0  # ... and those whose server ran in the container

    def count(self, status: str) -> int:
        return sum(1 for s, _ in self.results.values() if s == status)


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def cache_dir() -> Path:
    base = os.environ.get("SERO_CI_CACHE") or str(Path.home() / ".cache" / "sero-ls-ci")
    return Path(base) / f"peer-{PEER}-{VERSION}"


def ensure_peer() -> tuple[Path, Path]:
    """(the sdist, the venv's python), fetched once from PyPI. The stamp is written last,
    so a half-finished fetch is never used: it is redone."""
    home = cache_dir()
    stamp = f"{PEER}=={VERSION} {' '.join(TEST_DEPS)}"
    venv_py = home / "venv" / "bin" / "python"
    if not ((home / ".sero-stamp").is_file() and (home / ".sero-stamp").read_text() == stamp):
        log(f"[peer] fetching {PEER} {VERSION} (sdist and a venv) from PyPI -> {home}")
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        pip = ["-m", "pip", "-q", "--disable-pip-version-check"]
        subprocess.run([sys.executable, *pip, "download", "--no-deps", "--no-binary", ":all:",
                        "-d", str(home), f"{PEER}=={VERSION}"], check=True)  # fmt: skip
        subprocess.run([sys.executable, "-m", "venv", str(home / "venv")], check=True)
        subprocess.run([str(venv_py), *pip, "install", f"{PEER}=={VERSION}", *TEST_DEPS],
                       check=True)  # fmt: skip
        (home / ".sero-stamp").write_text(stamp)
    (sdist,) = home.glob("*.tar.gz")
    return sdist, venv_py


def fresh_copy(sdist: Path, where: Path) -> Path:
    with tarfile.open(sdist) as tar:
        tar.extractall(where, filter="data")
    (root,) = [p for p in where.iterdir() if p.is_dir()]
    return root


def run_suite(mode: str, sdist: Path, venv_py: Path, work: Path, extra: list[str]) -> Outcome:
    copy = fresh_copy(sdist, work / mode)
    server = venv_py.parent / PEER
    container = None
    logs = work / f"{mode}-logs"
    env = {
        **os.environ,
        "SERO_LS_STATE_DIR": str(work / f"{mode}-state"),
        "SERO_LS_CACHE_DIR": str(work / f"{mode}-cache"),
    }
    if mode != "direct":
        logs.mkdir()
        log_file = str(logs / "@PID@.log")  # one per session: where did its server run?
        argv = [str(SERO_LS), "proxy", "-v", "--log-file", log_file, "--", str(server)]
        (copy / RUN_SCRIPT).write_text(WRAPPED_RUN.format(argv=json.dumps(argv)))
    if mode == "container":
        # The suite's diagnostics tests use the temporary directory as their folder: inside
        # the container's workspace, so that they are container-backed too.
        (copy / ".tmp").mkdir()
        env["TMPDIR"] = str(copy / ".tmp")
        (copy / ".sero").mkdir()
        (copy / ".sero" / "config.toml").write_text('containerBackend = "podman"\n')
        reason = pm.podman_ok()
        if reason is not None:
            raise RuntimeError(f"podman is not usable: {reason}")
        container = pm.create_workspace_container(f"{pm.TEST_PREFIX}peer-{uuid.uuid4().hex[:8]}",
                                                  copy)  # fmt: skip
    junit = work / f"{mode}.xml"
    argv = [str(venv_py), "-m", "pytest", "-q", "-p", "no:cacheprovider", "--timeout", "120",
            f"--junitxml={junit}", "tests", *extra]  # fmt: skip
    log(f"[peer] {mode}: {' '.join(argv)} (in {copy})")
    start = time.monotonic()
    try:
        subprocess.run(argv, cwd=copy, env=env, stdout=subprocess.DEVNULL, check=False)
    finally:
        if container is not None:
            pm.remove(container.name)
    outcome = Outcome(time.monotonic() - start)
    for session in sorted(logs.glob("*.log")) if mode != "direct" else []:
        text = session.read_text(errors="replace")
        outcome.sessions += 1
        outcome.in_container += any(
            "starting: [" in line and "'exec', '-i'" in line for line in text.splitlines()
        )
    for case in ET.parse(junit).getroot().iter("testcase"):
        test_id = f"{case.get('classname')}::{case.get('name')}"
        status, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error"):
                status = "failed"
                message = why(child.get("message") or "", child.text or "")
            elif child.tag == "skipped":
                status = "skipped"
        outcome.results[test_id] = (status, message)
    return outcome


def why(message: str, text: str) -> str:
    """A failure in a few lines: pytest's `E` lines (the assertion and its values)."""
    lines = [ln[1:].strip() for ln in text.splitlines() if ln.startswith("E ")]
    lines = [ln for ln in lines if ln]
    return "\n".join(lines[:4]) or message.strip()


def report(outcomes: dict[str, Outcome]) -> int:
    print(f"\n{PEER} {VERSION}'s own suite, directly and through `sero-ls proxy --`:\n")
    print("| mode | passed | failed | skipped | time | sessions (server in the container) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for mode, o in outcomes.items():
        sessions = f"{o.sessions} ({o.in_container})" if mode != "direct" else "-"
        print(f"| {mode} | {o.count('passed')} | {o.count('failed')} | {o.count('skipped')} "
              f"| {o.seconds:.0f} s | {sessions} |")  # fmt: skip
    direct = outcomes.get("direct")
    worse = 0
    for mode, o in outcomes.items():
        if mode == "direct":
            continue
        lost = sorted(t for t, (s, _) in o.results.items()
                      if s == "failed" and (direct is None or direct.results.get(t, ("",))[0]
                                            == "passed"))  # fmt: skip
        worse += len(lost)
        if lost:
            print(f"\n{mode}: {len(lost)} tests fail through the wrapper"
                  + (" and pass directly:" if direct else ":"))  # fmt: skip
            for t in lost:
                print(f"  {t}")
                for line in o.results[t][1].splitlines():
                    print(f"      {line[:240]}")
    return 1 if worse else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modes", nargs="*", help=f"any of {', '.join(MODES)} (default: all)")
    parser.add_argument("--pytest-args", nargs=argparse.REMAINDER, default=[],
                        help="passed on to the peer's pytest (e.g. -k hover)")  # fmt: skip
    args = parser.parse_args()
    unknown = [m for m in args.modes if m not in MODES]
    if unknown:
        parser.error(f"unknown mode {unknown[0]!r}: choose from {', '.join(MODES)}")
    try:
        sdist, venv_py = ensure_peer()
    except (OSError, subprocess.CalledProcessError) as exc:
        log(f"[peer] set-up failed: {exc}")
        return 2
    outcomes: dict[str, Outcome] = {}
    with tempfile.TemporaryDirectory(prefix="sero-peer-") as tmp:
        for mode in args.modes or MODES:
            try:
                outcomes[mode] = run_suite(mode, sdist, venv_py, Path(tmp), args.pytest_args)
            except (RuntimeError, pm.PodmanError, ET.ParseError) as exc:
                log(f"[peer] {mode}: could not run: {exc}")
                return 2
    return report(outcomes)


if __name__ == "__main__":
    raise SystemExit(main())
