"""`sero-ls status` against real Podman containers, a real sero-ls server and Debian's tmux."""

from __future__ import annotations

import fcntl
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from sero_ls.runtime import status_cache
from tests.support import podman as pm
from tests.support.lsp import folder_status, session
from tests.support.status_cli import (
    LineReader,
    assert_exits_quietly,
    run_status,
    status_argv,
    status_env,
)

ROOT = Path(__file__).resolve().parents[2]
SNIPPETS = ROOT / "editors" / "statusbar"
FAST = {"pollInterval": 0.5, "probeTimeout": 5, "containerBackend": "podman"}


def _podman_folder(ws: Path) -> None:
    (ws / ".sero").mkdir(exist_ok=True)
    (ws / ".sero" / "config.toml").write_text('containerBackend = "podman"\n')


def test_watch_follows_podman_stop_and_start(
    tmp_path: Path, tmp_workspace: Path, workspace_container
) -> None:
    ctr = workspace_container(tmp_workspace)
    _podman_folder(tmp_workspace)
    env = status_env(tmp_path)
    argv = status_argv("--watch", "--interval", "1", "--format", "{mode}{degraded?}{reason?}")
    proc = subprocess.Popen(
        [*argv, str(tmp_workspace)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        lines = LineReader(proc.stdout.fileno())
        assert lines.readline(timeout=30) == "container"
        t0 = time.monotonic()
        pm.stop(ctr.name)
        lines.wait_for(lambda line: line == "host degraded container-not-running", timeout=20)
        stop_seen = time.monotonic() - t0
        t0 = time.monotonic()
        pm.start(ctr.name)
        lines.wait_for(lambda line: line == "container", timeout=20)
        start_seen = time.monotonic() - t0
        sys.stderr.write(f"watch: stop seen after {stop_seen:.1f} s, start {start_seen:.1f} s\n")
        assert stop_seen < 6, stop_seen
        proc.terminate()
        assert_exits_quietly(proc)
    finally:
        proc.kill()
        proc.wait()


async def test_a_running_server_keeps_the_cache(
    tmp_path: Path, tmp_workspace: Path, workspace_container
) -> None:
    ctr = workspace_container(tmp_workspace)
    env = status_env(tmp_path)
    cache = {"SERO_LS_CACHE_DIR": env["SERO_LS_CACHE_DIR"]}
    fmt = ("--format", "{mode}{degraded?} {container}")
    async with session([tmp_workspace], tmp=tmp_path, settings=FAST, env=cache) as s:

        def is_(mode: str):
            return lambda n: (folder_status(n, tmp_workspace) or {}).get("mode") == mode

        await s.status.wait_for(is_("container"))
        # --max-age 0: only a live server's entry can answer; this folder has no settings of
        # its own (the server got containerBackend from the editor), so a probe would differ.
        out = run_status("--max-age", "0", *fmt, str(tmp_workspace), env=env)
        assert (out.returncode, out.stdout) == (0, f"container {ctr.name}\n")
        entry = status_cache.read(str(tmp_workspace), Path(env["SERO_LS_CACHE_DIR"]))
        assert entry is not None and entry.writer == "server" and entry.pid != os.getpid()
        pm.stop(ctr.name)
        await s.status.wait_for(is_("host"))
        out = run_status("--max-age", "0", *fmt, str(tmp_workspace), env=env)
        assert (out.returncode, out.stdout) == (1, f"host degraded {ctr.name}\n")


ANSI = re.compile(rb"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07]*\x07|[()][A-Z0-9]|[=>78MDEc])")


def _attach_in_pty(argv: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 160, 0, 0))
    proc = subprocess.Popen(
        argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
    )
    os.close(slave)
    return proc, master


def _screen_until(master: int, wanted: str, timeout: float) -> str:
    """The pty's output, escape sequences removed, once it contains ``wanted``."""
    deadline = time.monotonic() + timeout
    raw = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                raw += os.read(master, 65536)
            except OSError:
                break
        text = ANSI.sub(b"", raw).decode("utf-8", "replace")
        if wanted in text:
            return text
    raise AssertionError(f"{wanted!r} not on the tmux screen: {ANSI.sub(b'', raw)[-800:]!r}")


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_tmux_status_right_snippet(
    tmp_path: Path, tmp_workspace: Path, workspace_container
) -> None:
    workspace_container(tmp_workspace)
    _podman_folder(tmp_workspace)
    sock = str(tmp_path / "tmux.sock")
    bin_dir = str(Path(sys.executable).parent)  # the venv: `sero-ls` is on the snippet's PATH
    env = status_env(
        tmp_path,
        path=f"{bin_dir}:{os.environ['PATH']}",
        LANG="C.UTF-8",
        TERM="xterm-256color",
        SHELL="/bin/sh",
    )
    tmux = ["tmux", "-u", "-S", sock, "-f", "/dev/null"]
    subprocess.run(
        [*tmux, "new-session", "-d", "-s", "t", "-x", "160", "-y", "30", "-c", str(tmp_workspace)],
        env=env,
        check=True,
        timeout=30,
    )
    client = None
    try:
        subprocess.run([*tmux, "source-file", str(SNIPPETS / "tmux.conf")], env=env, check=True)
        right = subprocess.run(
            [*tmux, "show", "-gv", "status-right"], env=env, capture_output=True, text=True
        ).stdout
        assert "sero-ls status" in right
        client, master = _attach_in_pty([*tmux, "attach", "-t", "t"], env)
        screen = _screen_until(master, "⬢ container", timeout=40)
        last = "[t] " + screen.split("[t] ")[-1].splitlines()[0]  # the last redraw
        sys.stderr.write(f"tmux status line: {' '.join(last.split())}\n")
        os.close(master)
    finally:
        subprocess.run([*tmux, "kill-server"], env=env, check=False, timeout=30)
        if client is not None:
            client.send_signal(signal.SIGKILL)
            client.wait()
