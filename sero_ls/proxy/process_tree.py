"""Ending a language server's whole process tree, however sero-ls itself ends.

Servers have workers (tsserver's typings installer, pyright's background analysis,
rust-analyzer's proc-macro server), and a worker may ignore SIGTERM. Three tools:

* ``TELL_PID``: the prefix of every command run inside a container. A process started
  by ``podman exec``/``docker exec`` has no process group of its own inside the
  container (its group lives in the runtime's namespace, ``ps -o pgid`` shows 0), so
  the prefix first makes it the leader of a new session and process group (``setsid``,
  util-linux and busybox both have it), then reports its PID as seen inside.
* ``WATCHDOG``: a tiny ``sh`` script, run where the server runs (on the host, or in the
  container through ``exec``), whose stdin is a pipe only sero-ls holds. When that pipe
  closes (sero-ls stops the server, or dies in any way, SIGKILL included), it
  snapshots the server's descendants (``/proc``, else ``ps``), TERMs them and the
  server's process group, and KILLs whatever is left 2 s later: the group, the
  snapshot, and every descendant found again at that moment. A PID is only signalled
  while its start time still matches the snapshot (the server's own is read when the
  watchdog starts), so a reused PID is never hit. This
  needs no process group inside a container, so it also works where ``setsid`` is
  missing, and in Apple's, Docker's and Podman's exec alike.
* ``kill_tree``: the same, from Python on the host (psutil), for a graceful stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal

import psutil

# Prefix a command so that it first tells its own PID (as seen where it runs) on stderr.
PID_MARK = "sero-ls-pid:"

# The argv after the prefix is "$@". `lead` is true when this shell already leads its
# own process group (or /proc cannot tell: then setsid could fork, and the parent's exit
# would end the exec session). setsid does not fork when the caller is not a group
# leader, so the PID stays the one the exec started, and the server keeps its stdio.
TELL_PID_SCRIPT = f"""\
lead() {{ read -r l <"/proc/$$/stat" || return 0; set -- ${{l##*) }}; [ "$3" = "$$" ]; }}
if ! lead 2>/dev/null && command -v setsid >/dev/null 2>&1; then
  exec setsid sh -c 'echo "{PID_MARK}$$" >&2; exec "$@"' sero-ls-server "$@"
fi
echo "{PID_MARK}$$" >&2
exec "$@"
"""
TELL_PID = ["sh", "-c", TELL_PID_SCRIPT, "sero-ls-server"]

# $1: the server's PID where the script runs. POSIX sh with `kill`, `sleep` and `cat`
# (plus `ps` where there is no /proc, e.g. a macOS host).
WATCHDOG_SCRIPT = """\
started() { read -r l 2>/dev/null <"/proc/$1/stat" && set -- ${l##*) } && echo "${20}"; }
s0=$(started "$1")
cat >/dev/null
g=$1
# The PID names another process now (the server ended, and the PID was reused): not ours.
s1=$(started "$g")
[ -n "$s0" ] && [ -n "$s1" ] && [ "$s1" != "$s0" ] && exit 0
# every process as "pid ppid start" (start: from /proc, else "-")
table() {
  if [ -r /proc/self/stat ]; then
    for f in /proc/[0-9]*/stat; do
      read -r l 2>/dev/null <"$f" || continue
      f=${f#/proc/}; set -- ${l##*) }
      echo "${f%/stat} $2 ${20}"
    done
  else
    ps -A -o pid= -o ppid= | while read -r p q; do echo "$p $q -"; done
  fi
}
# tree PID...: "pid/start" for the given PIDs and all their descendants
tree() {
  t=$(table); s=" $* "; more=1
  while [ "$more" = 1 ]; do
    more=0
    while read -r p q st; do
      case $s in *" $p "*) ;; *" $q "*) s="$s$p "; more=1 ;; esac
    done <<EOF
$t
EOF
  done
  while read -r p q st; do case $s in *" $p "*) echo "$p/$st" ;; esac; done <<EOF
$t
EOF
}
# same PID/START: that process still runs (not a zombie, not a reused PID)
same() {
  p=${1%/*} w=${1#*/}
  kill -0 "$p" 2>/dev/null || return 1
  [ "$w" = - ] && return 0
  read -r l 2>/dev/null <"/proc/$p/stat" || return 1
  set -- ${l##*) }
  [ "$1" != Z ] && [ "${20}" = "$w" ]
}
live() { for x in $procs; do same "$x" && echo "${x%/*}"; done; }
hit() {
  kill -"$1" "-$g" 2>/dev/null
  for x in $procs; do same "$x" && kill -"$1" "${x%/*}" 2>/dev/null; done
}
procs=$(tree "$g")
[ -n "$procs" ] || kill -0 "-$g" 2>/dev/null || exit 0
hit TERM
i=0
while [ "$i" -lt 20 ] && [ -n "$(live)" ]; do sleep 0.1; i=$((i+1)); done
procs="$procs $(tree $(live))"
hit KILL
exit 0
"""
WATCHDOG = ["sh", "-c", WATCHDOG_SCRIPT, "sero-ls-watchdog"]


async def kill_tree(pid: int, grace: float = 2.0) -> None:
    """SIGTERM a process, its process group and all its descendants (snapshot first),
    then SIGKILL the survivors and the group."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        procs = []
    group = _own_group(pid)
    if group is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGTERM)
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.terminate()
    loop = asyncio.get_running_loop()
    _, alive = await loop.run_in_executor(None, lambda: psutil.wait_procs(procs, timeout=grace))
    for p in alive:
        with contextlib.suppress(psutil.Error):
            p.kill()
    if group is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)


def _own_group(pid: int) -> int | None:
    """`pid` when it leads its own process group (never ours), else None."""
    try:
        group = os.getpgid(pid)
    except (ProcessLookupError, PermissionError):
        return pid  # gone: members of its group may remain, and the id is still theirs
    return pid if group == pid and group != os.getpgrp() else None
