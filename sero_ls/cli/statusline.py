"""`sero-ls status [PATH] [--format T] [--json] [--watch]`: the runtime indicator for
status bars outside editors (tmux, starship, waybar/polybar, SwiftBar/xbar).

The folder: the nearest ancestor of PATH (PATH itself first) that a sero-ls
server or an earlier `status` call has cached, or that holds `.sero/` or `.git`;
else PATH itself. Containers are not asked which folder they serve (that needs
a probe): a workspace container labelled with an ancestor is still found by
resolution, through its mount.

The answer comes from the status cache (sero_ls/runtime/status_cache.py) when
it is fresh: kept by a running sero-ls server, or written by a `status` call at
most `--max-age` seconds ago. Otherwise this call probes (once for concurrent
callers: a lock), bounded by `--timeout` (default: the folder's `probeTimeout`),
and caches what it found. A probe that does not finish in time gives a degraded
answer (`probe-failed`, or `container-system-not-running` when the backend's
system check is what hangs), cached too: a hung CLI costs one timeout per `--max-age`.

Hot path: this module imports only the standard library and the cache; the
resolution machinery (attrs, cattrs, asyncio subprocesses) loads only to probe.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import signal
import stat
import sys
from collections.abc import Callable
from typing import Any, TextIO

from sero_ls.runtime import status_cache
from sero_ls.uris import uri_to_path

log = logging.getLogger(__name__)

EXIT_CONTAINER = 0
EXIT_DEGRADED = 1
EXIT_USAGE = 2
EXIT_HOST = 3

DEFAULT_FORMAT = "{icon} {summary}"
HOST_SELECTED = "runtime-host-selected"
ICONS = {
    "unicode": {"container": "⬢", "host": "⌂", "degraded": "⚠"},
    "ascii": {"container": "[C]", "host": "[H]", "degraded": "[!]"},
    "emoji": {"container": "📦", "host": "🏠", "degraded": "⚠️"},
}
FIELDS = {
    "icon": "container, host or degraded icon (--icons)",
    "kind": "container | host | degraded (for a CSS class or a colour)",
    "summary": "`container`, `host`, or `host, degraded: <reason>`; ` (untrusted config)` "
    "when the folder's .sero/config.toml names commands it has not been trusted to run",
    "mode": "container | host",
    "degraded": "true | false",
    "reason": "the reason code, or empty",
    "requested": "auto | container | host",
    "backend": "apple | docker | podman, or empty",
    "container": "the workspace container's name, or empty",
    "state": "the container's state (running, exited, ...), or empty",
    "system": "running | not-running | missing | unknown",
    "name": "the folder's name",
    "path": "the folder's path",
    "message": "the one-sentence explanation",
    "remedy": "the first command that fixes it, or empty",
    "trust": "untrusted | trusted, or empty when .sero/config.toml names nothing to run",
}
_TOKEN = re.compile(r"\{\{|\}\}|\{([a-z]+)(\?)?\}|[{}]")

EPILOG = f"""\
template fields ({{field}}; {{field?}} is empty when the field is empty or false,
else a space and the value, `degraded` for {{degraded?}}; {{{{ and }}}} are braces):
{chr(10).join(f"  {k:<10} {v}" for k, v in FIELDS.items())}

exit status (a prompt can branch on it):
  {EXIT_CONTAINER}  container mode (also a stale container: mode stays container)
  {EXIT_DEGRADED}  degraded: a container was wanted, host mode is used (also probe-failed)
  {EXIT_USAGE}  usage error (no such PATH, unknown template field)
  {EXIT_HOST}  host mode by choice (runtime = host)
--watch exits 0 on SIGINT, SIGTERM or a closed stdout.
"""


class UsageError(Exception):
    pass


def add_parser(sub: Any) -> None:
    """The `status` subcommand's arguments (called from sero_ls/cli/main.py)."""
    p: argparse.ArgumentParser = sub.add_parser(
        "status",
        help="one short status line for the folder containing PATH (for status bars)",
        description="The runtime status of the workspace folder containing PATH, "
        "in one short line (or FolderStatus JSON); fast enough to run every second.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("path", nargs="?", metavar="PATH", help="a file or folder (default: .)")
    p.add_argument(
        "--format",
        metavar="TEMPLATE",
        default=DEFAULT_FORMAT,
        help=f"the line's template (default: {DEFAULT_FORMAT!r}; fields below)",
    )
    p.add_argument("--json", action="store_true", help="print the FolderStatus JSON instead")
    p.add_argument("--watch", action="store_true", help="print a new line on every change")
    p.add_argument(
        "--icons", choices=sorted(ICONS), default="unicode", help="icon set (default: unicode)"
    )
    p.add_argument(
        "--max-age",
        type=_seconds,
        default=status_cache.DEFAULT_MAX_AGE,
        metavar="S",
        help="answer from a cached status at most S seconds old (default: %(default)g)",
    )
    p.add_argument(
        "--timeout",
        type=_seconds,
        metavar="S",
        help="bound on one probe (default: the folder's probeTimeout setting)",
    )
    p.add_argument(
        "--interval",
        type=_seconds,
        default=2.0,
        metavar="S",
        help="--watch: probe at most every S seconds when no server keeps the cache "
        "(default: %(default)g)",
    )


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"must be between 0 and 3600 seconds, not {text}")
    return value


# ---- pure parts: the folder, the line, the exit code


def find_folder(path: str, is_known: Callable[[str], bool] = status_cache.known) -> str:
    """The workspace folder containing ``path`` (see the module's docstring)."""
    start = os.path.abspath(path)
    if not os.path.isdir(start):
        start = os.path.dirname(start)
    d = start
    while True:
        if is_known(d) or os.path.isdir(os.path.join(d, ".sero")):
            return d
        if os.path.exists(os.path.join(d, ".git")):
            return d
        parent = os.path.dirname(d)
        if parent == d:
            return start
        d = parent


def check_template(template: str) -> None:
    for m in _TOKEN.finditer(template):
        tok = m.group(0)
        if tok in ("{", "}"):
            raise UsageError(f"unmatched {tok!r} in the template (write {tok * 2} for a brace)")
        if m.group(1) is not None and m.group(1) not in FIELDS:
            raise UsageError(
                f"unknown template field {{{m.group(1)}}}; fields: {', '.join(FIELDS)}"
            )


def fields(status: dict[str, Any], icons: str = "unicode") -> dict[str, str | bool]:
    rt = status.get("runtime") or {}
    ctr = rt.get("container") or {}
    degraded = bool(status.get("degraded"))
    mode = str(status.get("mode") or "host")
    reason = status.get("reason") or ""
    if degraded:
        summary = f"host, degraded: {reason}" if reason else "host, degraded"
    elif mode == "container" and reason:
        summary = f"container ({reason})"
    else:
        summary = mode
    kind = "degraded" if degraded else mode
    trust = str((status.get("trust") or {}).get("state") or "")
    if trust == "untrusted":
        summary += " (untrusted config)"
    return {
        "icon": ICONS[icons].get(kind, "?"),
        "kind": kind,
        "summary": summary,
        "mode": mode,
        "degraded": degraded,
        "reason": reason,
        "requested": str(status.get("requested") or ""),
        "backend": rt.get("backend") or "",
        "container": ctr.get("name") or ctr.get("id") or "",
        "state": ctr.get("state") or "",
        "system": rt.get("system") or "",
        "name": str(status.get("name") or ""),
        "path": uri_to_path(str(status.get("uri", ""))) or "",
        "message": " ".join(str(status.get("message") or "").split()),
        "remedy": " ".join(str((status.get("remedy") or [""])[0]).split()),
        "trust": trust,
    }


def render(template: str, status: dict[str, Any], icons: str = "unicode") -> str:
    values = fields(status, icons)

    def one(m: re.Match[str]) -> str:
        tok = m.group(0)
        if tok in ("{{", "}}"):
            return tok[0]
        name, optional = m.group(1), m.group(2)
        value = values[name]
        if isinstance(value, bool):
            text = name if optional else str(value).lower()
            return f" {text}" if optional and value else ("" if optional else text)
        return f" {value}" if optional and value else ("" if optional else value)

    return _TOKEN.sub(one, template)


def exit_code(status: dict[str, Any]) -> int:
    if status.get("degraded"):
        return EXIT_DEGRADED
    if status.get("mode") == "container":
        return EXIT_CONTAINER
    return EXIT_HOST if status.get("reason") == HOST_SELECTED else EXIT_DEGRADED


def comparable(status: dict[str, Any]) -> str:
    """The status without its time: what a change is (CONTRACT: not `checkedAt` alone)."""
    return json.dumps({k: v for k, v in status.items() if k != "checkedAt"}, sort_keys=True)


# ---- effects: probing and the cache


async def probe(folder: str, bound: float | None) -> dict[str, Any]:
    """Resolve ``folder`` now, within ``bound`` seconds (default probeTimeout); cache it."""
    import asyncio

    from sero_ls.cli.doctor import folder_jobs, with_trust
    from sero_ls.runtime.model import to_json, utc_now
    from sero_ls.runtime.probe import resolve_folders
    from sero_ls.runtime.resolve import Probe, resolve

    # An untrusted .sero/config.toml's containerCli is not in these settings: a prompt
    # that runs this on every `cd` into a clone runs nothing the clone names.
    jobs, _, trusts = folder_jobs([folder])
    (f, settings), *_ = jobs
    bound = settings.probe_timeout if bound is None else bound
    try:
        async with asyncio.timeout(bound):
            (result,) = await resolve_folders(jobs)
    except TimeoutError:
        error = f"probing took longer than {bound:g} s"
        result = resolve(f, settings, Probe(error=error), checked_at=utc_now())
    (result,) = with_trust([result], trusts)
    status = to_json(result)
    try:
        status_cache.write(folder, status)
    except OSError as exc:
        log.warning("cannot write the status cache: %s", exc)
    return status


def settings_timeout(folder: str) -> float:
    from sero_ls.cli.doctor import folder_jobs

    jobs, _, _ = folder_jobs([folder])
    return jobs[0][1].probe_timeout


def current(folder: str, *, max_age: float, timeout: float | None) -> dict[str, Any]:
    """The folder's status: from a fresh cache entry, else probed (once for concurrent calls)."""
    entry = status_cache.read(folder)
    if entry is not None and entry.fresh(max_age):
        return entry.status
    import asyncio

    bound = settings_timeout(folder) if timeout is None else timeout
    with status_cache.probe_lock(folder, bound + 1.0) as mine:
        if mine:
            entry = status_cache.read(folder)  # another caller may have probed meanwhile
            if entry is not None and entry.fresh(max_age):
                return entry.status
        elif entry is not None:
            return entry.status  # someone else is stuck probing: report what is known
        return asyncio.run(probe(folder, bound))


# ---- the command


def main(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    try:
        check_template(args.format)
        try:
            path = args.path or os.getcwd()
        except FileNotFoundError:
            raise UsageError("the working directory no longer exists; give a PATH") from None
        if not os.path.exists(path):
            raise UsageError(f"{path}: no such file or folder")
        folder = find_folder(path)
        if args.watch:
            return Watcher(folder, args, out).run()
        status = current(folder, max_age=args.max_age, timeout=args.timeout)
        _emit(out, _line(status, args, pretty=True))
        return exit_code(status)
    except UsageError as exc:
        sys.stderr.write(f"sero-ls status: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        _silence_stdout()
        return 0


def _line(status: dict[str, Any], args: argparse.Namespace, *, pretty: bool = False) -> str:
    if args.json:
        return json.dumps(status, ensure_ascii=False, indent=2 if pretty else None)
    return render(args.format, status, args.icons)


def _emit(out: TextIO, line: str) -> None:
    out.write(line + "\n")
    out.flush()


def _silence_stdout() -> None:
    """After EPIPE: point stdout at /dev/null so the interpreter's final flush stays quiet."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


class Watcher:
    """`--watch`: print the line (or JSON object) again whenever it changes.

    Every tick (``TICK`` s) it re-reads the cache entry: a running server keeps it
    current; else, once the entry is older than ``--interval``, it probes itself
    (one prober per folder across watchers: the non-blocking lock). It stops on
    SIGINT/SIGTERM and as soon as its stdout pipe is closed (polled each tick).
    """

    TICK = 0.25

    def __init__(self, folder: str, args: argparse.Namespace, out: TextIO) -> None:
        self.folder = folder
        self.args = args
        self.out = out
        self.last: str | None = None

    def run(self) -> int:
        import asyncio

        try:
            return asyncio.run(self._main())
        except BrokenPipeError:
            _silence_stdout()
            return 0

    async def _main(self) -> int:
        import asyncio

        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        timeout = self.args.timeout
        if timeout is None:
            timeout = settings_timeout(self.folder)
        probing: asyncio.Task[dict[str, Any]] | None = None
        try:
            while not stop.is_set():
                if self._stdout_closed():
                    return 0
                entry = status_cache.read(self.folder)
                if entry is not None and entry.fresh(self.args.interval):
                    self._show(entry.status)
                elif probing is None:
                    probing = asyncio.ensure_future(self._probe(timeout))
                if probing is not None and probing.done():
                    status = probing.result()
                    probing = None
                    if status:
                        self._show(status)
                    continue  # re-read the cache at once (the probe just wrote it)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.TICK):
                        await stop.wait()
        finally:
            if probing is not None:
                probing.cancel()
                with contextlib.suppress(BaseException):
                    await probing
        return 0

    async def _probe(self, bound: float) -> dict[str, Any]:
        with status_cache.probe_lock(self.folder, 0) as mine:
            if not mine:
                return {}  # another process is probing this folder: its result lands in the cache
            return await probe(self.folder, bound)

    def _show(self, status: dict[str, Any]) -> None:
        if self.args.json:
            key = comparable(status)
            line = json.dumps(status, ensure_ascii=False)
        else:
            key = line = render(self.args.format, status, self.args.icons)
        if key != self.last:
            self.last = key
            _emit(self.out, line)

    def _stdout_closed(self) -> bool:
        """True when stdout is a pipe or socket whose reader is gone (POLLERR/POLLHUP)."""
        try:
            fd = self.out.fileno()
            if not stat.S_ISFIFO(os.fstat(fd).st_mode) and not stat.S_ISSOCK(os.fstat(fd).st_mode):
                return False
            import select

            poller = select.poll()
            poller.register(fd, 0)  # errors and hang-ups are always reported
            events = poller.poll(0)
        except (OSError, ValueError, AttributeError):
            return False
        bad = select.POLLERR | select.POLLHUP | select.POLLNVAL
        return any(ev & bad for _, ev in events)
