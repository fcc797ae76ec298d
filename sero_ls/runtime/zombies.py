"""Zombie processes in a workspace container: children that ended and that nobody reaps.

Under a PID 1 that is no init (``sleep infinity``), every process orphaned inside the
container (a language server's helpers, a killed ``exec``) stays a zombie until the
container stops. ``sero-ls doctor`` lists them; containers that sero-ls' fixes create run
with ``--init`` where the backend has it (docker, podman).
"""

from __future__ import annotations

import attrs

from sero_ls.runtime.backends.base import Backend
from sero_ls.runtime.invoke import ProbeError, run_cli

# Every process's stat line, read inside the container (no ps in minimal images).
PROBE = ["sh", "-c", "cat /proc/[0-9]*/stat 2>/dev/null; true"]


@attrs.frozen
class Zombie:
    pid: int
    command: str
    parent: int


def parse_stat(text: str) -> list[Zombie]:
    """The zombies in concatenated /proc/<pid>/stat lines: `pid (comm) state ppid ...`."""
    found = []
    for line in text.splitlines():
        head, sep, rest = line.rpartition(")")  # comm may hold spaces and parentheses
        pid, _, command = head.partition(" (")
        fields = rest.split()
        if not sep or not pid.strip().isdigit() or len(fields) < 2 or not fields[1].isdigit():
            continue
        if fields[0] == "Z":
            found.append(Zombie(int(pid), command, int(fields[1])))
    return found


async def zombies_in(backend: Backend, container: str) -> list[Zombie] | None:
    """The container's zombies; None when it cannot be asked (stopped, no `sh`, timeout)."""
    argv = backend.exec_argv(container, PROBE, interactive=False)
    try:
        result = await run_cli(argv, backend.timeout)
    except ProbeError:
        return None
    return parse_stat(result.stdout) if result.returncode == 0 else None


def describe(zombies: list[Zombie]) -> str:
    """One line for the doctor report."""
    names = sorted({z.command for z in zombies})
    parents = sorted({z.parent for z in zombies})
    return (
        f"{len(zombies)} zombie process{'es' if len(zombies) != 1 else ''} "
        f"({', '.join(names)}; parent pid {', '.join(map(str, parents))}): the container's "
        "PID 1 does not reap them; a container run with --init does"
    )
