"""The process-end scripts (sero_ls/proxy/process_tree.py) under each shell a server's
machine may have: the watchdog ends a whole tree (a worker that ignores SIGTERM, one in a
session of its own, a grandchild) once its stdin closes, with /proc and with `ps` only;
TELL_PID makes the command the leader of its own process group without changing its PID."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time

import psutil
import pytest

from sero_ls.proxy.process_tree import PID_MARK, TELL_PID, WATCHDOG_SCRIPT

SHELLS = [sh for sh in (["dash"], ["busybox", "sh"], ["bash", "--posix"]) if shutil.which(sh[0])]
# A server that ignores SIGTERM with three kinds of descendants.
TREE = (
    '(trap "" TERM; exec sleep 7771) & '
    'setsid sh -c \'trap "" TERM; sleep 7772\' & '
    'sh -c "sleep 7773 & wait" & '
    'trap "" TERM; while :; do sleep 1; done'
)


def descendants(pid: int, want: int, deadline: float = 10.0) -> list[psutil.Process]:
    root = psutil.Process(pid)
    end = time.monotonic() + deadline
    while True:
        kids = root.children(recursive=True)
        if len([k for k in kids if k.name() == "sleep" and k.cmdline()[1:] != ["1"]]) >= want:
            return [root, *kids]
        assert time.monotonic() < end, f"the tree did not start: {kids}"
        time.sleep(0.05)


def running(procs: list[psutil.Process]) -> list[str]:
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(" ".join(p.cmdline()))
        except psutil.Error:
            pass
    return out


@pytest.mark.parametrize("table", ["proc", "ps"])
@pytest.mark.parametrize("shell", SHELLS, ids=lambda s: s[0])
def test_watchdog_ends_the_whole_tree(shell: list[str], table: str) -> None:
    script = WATCHDOG_SCRIPT
    if table == "ps":  # as on a host without /proc (macOS)
        script = script.replace("[ -r /proc/self/stat ]", "false")
        assert script != WATCHDOG_SCRIPT
    server = subprocess.Popen(["sh", "-c", TREE], start_new_session=True)
    procs: list[psutil.Process] = []
    try:
        procs = descendants(server.pid, 3)
        dog = subprocess.Popen(
            [*shell, "-c", script, "sero-ls-watchdog", str(server.pid)],
            stdin=subprocess.PIPE, start_new_session=True,
        )  # fmt: skip
        assert dog.stdin is not None
        time.sleep(0.3)  # the watchdog must wait for the end of its stdin, not act at once
        assert dog.poll() is None and not server.poll()
        dog.stdin.close()
        assert dog.wait(timeout=15) == 0
        server.wait(timeout=5)
        end = time.monotonic() + 5  # SIGKILLed processes take a moment to be gone
        while running(procs) and time.monotonic() < end:
            time.sleep(0.05)
        assert running(procs) == []
    finally:
        for p in procs:  # only after a failure: the same processes (psutil checks)
            with contextlib.suppress(psutil.Error):
                p.kill()
        server.kill()
        server.wait()


@pytest.mark.parametrize("leader", [False, True])
def test_tell_pid_reports_a_group_leader(leader: bool) -> None:
    probe = 'read -r l </proc/$$/stat; set -- ${l##*) }; echo "$$ $3"'
    argv = [*TELL_PID, "sh", "-c", probe]
    out = subprocess.run(
        argv, capture_output=True, text=True, timeout=10, check=True, start_new_session=leader
    )
    told = out.stderr.strip()
    assert told.startswith(PID_MARK), out.stderr
    pid, group = out.stdout.split()
    assert told == f"{PID_MARK}{pid}"  # the PID the command runs as, not a forked one's
    assert group == pid  # it leads its own process group
