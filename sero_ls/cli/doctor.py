"""`sero-ls doctor [PATH...] [--json]`: the runtime report of each folder.

Exit 0: every folder got the runtime it asked for; 1: at least one is degraded;
2: usage error (a path that is not a folder).
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any, TextIO

import attrs

from sero_ls.runtime.backends import make_backend
from sero_ls.runtime.capabilities import DESCRIPTIONS
from sero_ls.runtime.manager import make_folder
from sero_ls.runtime.model import FolderStatus, TrustInfo, to_json
from sero_ls.runtime.probe import resolve_folders
from sero_ls.runtime.resolve import Folder
from sero_ls.runtime.toggles import ToggleStore
from sero_ls.runtime.workflows import list_logs, log_dir, own_log_file
from sero_ls.runtime.zombies import describe as describe_zombies
from sero_ls.runtime.zombies import zombies_in
from sero_ls.settings import Settings, SettingsProblem, load_folder
from sero_ls.uris import path_to_uri, uri_to_path

Trusts = dict[str, TrustInfo | None]

ZOMBIE_PROBE_TIMEOUT = 5.0  # seconds for the one `exec` that lists a container's processes


def folder_jobs(
    paths: list[str],
) -> tuple[list[tuple[Folder, Settings]], dict[str, list[SettingsProblem]], Trusts]:
    """Each path as a folder with its settings (no client: config.toml and the toggle),
    their problems and the trust of each folder's config (what an untrusted one holds back
    is not in the settings: nothing it names runs).

    Shared with `sero-ls status`, which resolves a path the same way."""
    toggles = ToggleStore().load()
    jobs = []
    problems: dict[str, list[SettingsProblem]] = {}
    trusts: Trusts = {}
    for p in paths:
        folder = make_folder(path_to_uri(os.path.abspath(p)))
        settings, probs, trusts[folder.uri] = load_folder(
            Path(folder.path), toggle=toggles.get(folder.path)
        )
        problems[folder.uri] = probs
        jobs.append((folder, settings))
    return jobs, problems, trusts


def with_trust(statuses: list[FolderStatus], trusts: Trusts) -> list[FolderStatus]:
    return [attrs.evolve(s, trust=trusts.get(s.uri)) for s in statuses]


def collect(paths: list[str]) -> tuple[list[FolderStatus], dict[str, list[SettingsProblem]]]:
    jobs, problems, trusts = folder_jobs(paths)
    return with_trust(asyncio.run(resolve_folders(jobs)), trusts), problems


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
    if rt.context:
        w(f"  context     {rt.context}\n")
    if rt.container:
        c = rt.container
        w(f"  container   {c.id}  {c.state}  image {c.image or '-'}  ip {c.ip or '-'}\n")
        if c.found_by:
            w(f"  found by    {c.found_by}\n")
        if c.exec_user or c.exec_env:
            names = ", ".join(sorted(c.exec_env)) or "-"
            w(f"  exec as     {c.exec_user or '(the container default)'}; env {names}\n")
    write_devcontainer(s, out)
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
    write_trust(s, w)
    for p in problems:
        where = f"{p.source}:{(p.line or 0) + 1}" if p.line is not None else p.source
        w(f"  setting     {p.severity}: {p.message} ({where}; the default applies)\n")
    if s.remedy:
        w("  fix\n")
        for cmd in s.remedy:
            w(f"    $ {cmd}\n")
    w("\n")


def write_trust(s: FolderStatus, w: Any) -> None:
    t = s.trust
    if t is None:
        return
    if t.state == "trusted":
        w(f"  trust       trusted ({t.config}, sha256 {t.sha256[:12]})\n")
        return
    why = "changed since it was trusted" if t.changed else "not trusted"
    w(f"  trust       untrusted: {t.config} is {why}; ignored, nothing of it runs:\n")
    w(f"              {', '.join(t.ignored)}\n")
    w(f"              review it, then: sero-ls trust {shlex.quote(uri_to_path(s.uri) or s.uri)}\n")


def write_devcontainer(s: FolderStatus, out: TextIO) -> None:
    """The Dev Container's config file and what its metadata asks for; the Compose service."""
    dc = s.devcontainer
    if dc is not None:
        out.write(f"  devcontainer {dc.config_file or '(no config file label)'}\n")
        if dc.workspace_folder:
            out.write(f"    workspace {dc.workspace_folder}\n")
        users = f"remoteUser {dc.remote_user or '-'}, containerUser {dc.container_user or '-'}"
        out.write(f"    {users}, userEnvProbe {dc.user_env_probe or '-'}\n")
        if dc.remote_env:
            out.write(f"    remoteEnv {', '.join(sorted(dc.remote_env))}\n")
        if dc.probe_error:
            out.write(f"    problem   {dc.probe_error}\n")
    if s.compose is not None:
        c = s.compose
        out.write(f"  compose     project {c.project}, service {c.service or '-'}")
        out.write(f" (services: {', '.join(c.services) or '-'})\n")


def write_logs(logs: list[dict[str, Any]], out: TextIO) -> None:
    out.write("logs\n")
    for entry in logs:
        if entry["path"] is None:  # this process logs to stderr
            continue
        where = (
            f"{entry['size']} bytes, modified {entry['modified']}" if entry["exists"] else "absent"
        )
        out.write(f"  {entry['name']:<20}{entry['path']}  ({where})\n")
