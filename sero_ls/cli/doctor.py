"""`sero-ls doctor [PATH...] [--json]`: the runtime report of each folder.

Exit 0: every folder got the runtime it asked for; 1: at least one is degraded;
2: usage error (a path that is not a folder).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from sero_ls.runtime.backends import make_backend
from sero_ls.runtime.capabilities import DESCRIPTIONS
from sero_ls.runtime.manager import make_folder
from sero_ls.runtime.model import FolderStatus, to_json
from sero_ls.runtime.probe import resolve_folders
from sero_ls.runtime.resolve import Folder
from sero_ls.runtime.toggles import ToggleStore
from sero_ls.runtime.workflows import list_logs, log_dir, own_log_file
from sero_ls.runtime.zombies import describe as describe_zombies
from sero_ls.runtime.zombies import zombies_in
from sero_ls.settings import Settings, SettingsProblem, folder_settings
from sero_ls.uris import path_to_uri

ZOMBIE_PROBE_TIMEOUT = 5.0  # seconds for the one `exec` that lists a container's processes


def folder_jobs(
    paths: list[str],
) -> tuple[list[tuple[Folder, Settings]], dict[str, list[SettingsProblem]]]:
    """Each path as a folder with its settings (no client: config.toml and the toggle).

    Shared with `sero-ls status`, which resolves a path the same way."""
    toggles = ToggleStore().load()
    jobs = []
    problems: dict[str, list[SettingsProblem]] = {}
    for p in paths:
        folder = make_folder(path_to_uri(os.path.abspath(p)))
        settings, probs = folder_settings(Path(folder.path), toggle=toggles.get(folder.path))
        problems[folder.uri] = probs
        jobs.append((folder, settings))
    return jobs, problems


def collect(paths: list[str]) -> tuple[list[FolderStatus], dict[str, list[SettingsProblem]]]:
    jobs, problems = folder_jobs(paths)
    return asyncio.run(resolve_folders(jobs)), problems


async def _zombies(statuses: list[FolderStatus]) -> dict[str, str]:
    """folder uri -> a note on the zombies in its running container (none: not listed)."""
    notes = {}
    for s in statuses:
        rt = s.runtime
        if s.mode != "container" or not (rt.backend and rt.cli and rt.container):
            continue
        found = await zombies_in(
            make_backend(rt.backend, rt.cli, ZOMBIE_PROBE_TIMEOUT), rt.container.id
        )
        if found:
            notes[s.uri] = describe_zombies(found)
    return notes


def run(paths: list[str], as_json: bool, out: TextIO = sys.stdout) -> int:
    paths = paths or [os.getcwd()]
    for p in paths:
        if not os.path.isdir(p):
            sys.stderr.write(f"sero-ls doctor: {p}: not a folder\n")
            return 2
    statuses, problems = collect(paths)
    if as_json:
        json.dump({"folders": [to_json(s) for s in statuses]}, out, indent=2, ensure_ascii=False)
        out.write("\n")
    else:
        zombies = asyncio.run(_zombies(statuses))
        for s in statuses:
            write_table(s, problems.get(s.uri, []), out, zombies.get(s.uri))
        write_logs(list_logs(log_dir(), own_log_file()), out)
    return 1 if any(s.degraded for s in statuses) else 0


def _mode(s: FolderStatus) -> str:
    if s.mode == "container":
        return "container"
    return "host (degraded)" if s.degraded else "host"


def write_table(
    s: FolderStatus, problems: list[SettingsProblem], out: TextIO, zombies: str | None = None
) -> None:
    rt = s.runtime
    w = out.write
    w(f"{s.name}  ({s.uri})\n")
    w(f"  mode        {_mode(s)}   (requested: {s.requested})\n")
    w(f"  reason      {s.reason or '-'}\n")
    w(f"  message     {s.message}\n")
    backend = f"{rt.backend} ({rt.cli})" if rt.backend else "-"
    w(f"  backend     {backend}, system {rt.system}\n")
    if rt.container:
        c = rt.container
        w(f"  container   {c.id}  {c.state}  image {c.image or '-'}  ip {c.ip or '-'}\n")
    for m in rt.mounts:
        w(f"  mount       {m.host} -> {m.container}{' (ro)' if m.read_only else ''}\n")
    if s.dockerfile:
        df = s.dockerfile
        state = "NEWER than the image" if df.stale else "older than the image"
        w(f"  dockerfile  {df.path} (changed {df.modified}; {state}")
        w(f" {df.image} built {df.image_created})\n" if df.image else ")\n")
    for why in s.stale:
        w(f"  stale       {why}\n")
    w("  capabilities\n")
    for cap in s.capabilities:
        mark = "ok " if cap.available else "-- "
        why = f"  [{cap.reason}]" if cap.reason else ""
        w(f"    {mark}{cap.id:<22}{DESCRIPTIONS[cap.id]}{why}\n")
    for srv in s.servers:
        why = f" {srv.reason}" if srv.reason else ""
        w(f"  server      {srv.id}: {srv.state} ({srv.mode}){why}\n")
    if zombies:
        w(f"  zombies     {zombies}\n")
    for p in problems:
        where = f"{p.source}:{(p.line or 0) + 1}" if p.line is not None else p.source
        w(f"  setting     {p.severity}: {p.message} ({where}; the default applies)\n")
    if s.remedy:
        w("  fix\n")
        for cmd in s.remedy:
            w(f"    $ {cmd}\n")
    w("\n")


def write_logs(logs: list[dict[str, Any]], out: TextIO) -> None:
    out.write("logs\n")
    for entry in logs:
        if entry["path"] is None:  # this process logs to stderr
            continue
        where = (
            f"{entry['size']} bytes, modified {entry['modified']}" if entry["exists"] else "absent"
        )
        out.write(f"  {entry['name']:<20}{entry['path']}  ({where})\n")
