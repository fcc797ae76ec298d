"""Per-folder runtime state for a running server: settings, resolution, live updates.

The LSP layer tells the manager which folders exist and which settings the
client sent; the manager resolves them (concurrently, shared probes), keeps the
last status of each, watches for changes (polling with backoff) and calls
``on_change`` with the folders whose status changed (not for ``checkedAt`` alone).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

from sero_ls.runtime.events import EventStream, event_argv
from sero_ls.runtime.model import FolderStatus, ServerEntry, TrustInfo
from sero_ls.runtime.probe import ProbeRound, resolve_folders
from sero_ls.runtime.resolve import Folder
from sero_ls.runtime.toggles import ToggleStore
from sero_ls.settings import Settings, SettingsProblem, load_folder
from sero_ls.uris import uri_to_path

log = logging.getLogger(__name__)

# Seconds between safety-net polls while the runtimes' event streams report changes.
EVENT_POLL = 30.0

ChangeCallback = Callable[[list[FolderStatus]], Awaitable[None]]


@attrs.define
class FolderState:
    folder: Folder
    client_settings: Mapping[str, Any] | None = None
    settings: Settings = attrs.field(factory=Settings)
    problems: list[SettingsProblem] = attrs.field(factory=list)
    status: FolderStatus | None = None
    trust: TrustInfo | None = None  # of the folder's .sero/config.toml (runtime/trust.py)


def make_folder(uri: str, name: str | None = None) -> Folder:
    path = uri_to_path(uri) or uri
    return Folder(uri=uri, path=path, name=name or os.path.basename(path.rstrip("/")) or path)


class RuntimeManager:
    def __init__(
        self,
        *,
        init_settings: Mapping[str, Any] | None = None,
        toggles: ToggleStore | None = None,
        on_change: ChangeCallback | None = None,
        server_entries: Callable[[str], list[ServerEntry]] | None = None,
    ) -> None:
        self.init_settings = init_settings
        self.toggles = toggles or ToggleStore()
        self.on_change = on_change
        self.server_entries = server_entries or (lambda uri: [])
        self.folders: dict[str, FolderState] = {}
        self._lock = asyncio.Lock()
        self._monitor: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._events: dict[tuple[str, str, str | None], EventStream] = {}

    # ---- folders and settings

    def set_folders(self, folders: list[tuple[str, str | None]]) -> None:
        keep = {uri for uri, _ in folders}
        for uri in list(self.folders):
            if uri not in keep:
                del self.folders[uri]
        for uri, name in folders:
            if uri not in self.folders:
                self.folders[uri] = FolderState(make_folder(uri, name))
        self._load_settings()

    def add_folder(self, uri: str, name: str | None = None) -> None:
        self.folders.setdefault(uri, FolderState(make_folder(uri, name)))
        self._load_settings()

    def remove_folder(self, uri: str) -> None:
        self.folders.pop(uri, None)

    def set_client_settings(self, uri: str, settings: Mapping[str, Any] | None) -> None:
        if uri in self.folders:
            self.folders[uri].client_settings = settings
        self._load_settings()

    def _load_settings(self) -> None:
        toggles = self.toggles.load()
        for st in self.folders.values():
            st.settings, st.problems, st.trust = load_folder(
                Path(st.folder.path),
                init_settings=self.init_settings,
                client_settings=st.client_settings,
                toggle=toggles.get(st.folder.path),
            )

    def folder_for(self, uri: str) -> FolderState | None:
        """The folder that is or contains ``uri`` (the most specific one)."""
        if uri in self.folders:
            return self.folders[uri]
        path = uri_to_path(uri)
        best: FolderState | None = None
        for st in self.folders.values():
            root = st.folder.path.rstrip("/")
            if path and (path == root or path.startswith(root + "/")):
                if best is None or len(root) > len(best.folder.path):
                    best = st
        return best

    def set_runtime(self, uri: str, runtime: str) -> FolderState:
        st = self.folder_for(uri)
        if st is None:
            raise KeyError(uri)
        self.toggles.set(st.folder.path, runtime)
        self._load_settings()
        return st

    # ---- resolution

    def statuses(self, uri: str | None = None) -> list[FolderStatus]:
        if uri:
            st = self.folder_for(uri)
            states = [st] if st else []
        else:
            states = list(self.folders.values())
        return [self._with_servers(st.status) for st in states if st.status is not None]

    def _with_servers(self, status: FolderStatus) -> FolderStatus:
        return attrs.evolve(status, servers=self.server_entries(status.uri))

    async def refresh(
        self, uris: list[str] | None = None, *, reload: bool = True
    ) -> list[FolderStatus]:
        """Resolve the given folders (default: all). Returns the ones whose status changed."""
        async with self._lock:
            if reload:
                self._load_settings()
            states = [self.folders[u] for u in (uris or list(self.folders)) if u in self.folders]
            if not states:
                return []
            results = await resolve_folders([(s.folder, s.settings) for s in states], ProbeRound())
            changed = []
            for st, status in zip(states, results, strict=True):
                if st.folder.uri not in self.folders:
                    continue  # removed while probing
                status = attrs.evolve(status, trust=st.trust)
                if not status.same_as(st.status):
                    changed.append(status)
                st.status = status
        if changed:
            log.info(
                "status changed: %s", ", ".join(f"{s.name}={s.mode}/{s.reason}" for s in changed)
            )
            if self.on_change:
                await self.on_change([self._with_servers(s) for s in changed])
        return changed

    async def notify_servers_changed(self, uri: str) -> None:
        st = self.folder_for(uri)
        if st and st.status and self.on_change:
            await self.on_change([self._with_servers(st.status)])

    # ---- live updates

    def start_monitor(self) -> None:
        if self._monitor is None:
            self._monitor = asyncio.ensure_future(self._watch())

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        for stream in self._events.values():
            await stream.stop()
        self._events.clear()
        if self._monitor:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._monitor
            self._monitor = None

    async def _watch(self) -> None:
        """Poll with backoff: every `pollInterval` while things change, up to 2.5x when
        stable; where docker/podman stream their events, those wake it at once and the
        poll (a safety net) slows to EVENT_POLL seconds."""
        interval = None
        while True:
            base = min((s.settings.poll_interval for s in self.folders.values()), default=2.0)
            self._follow_events()
            cap = EVENT_POLL if self._events_cover_all() else base * 2.5
            interval = base if interval is None else min(interval * 1.25, cap)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await self._wake.wait()
            try:
                if await self.refresh():
                    interval = base
            except Exception:  # keep watching whatever one round did
                log.exception("status refresh failed")

    def _follow_events(self) -> None:
        """An event stream per docker/podman CLI in use (started once, kept)."""
        for st in self.folders.values():
            rt = st.status.runtime if st.status else None
            if not rt or not rt.backend or not rt.cli or rt.system != "running":
                continue
            key = (rt.backend, rt.cli, rt.context)
            if key in self._events:
                continue
            argv = event_argv(rt.backend, rt.cli, rt.context)
            if argv is not None:
                stream = EventStream(argv, self.wake)
                self._events[key] = stream
                stream.start()

    def _events_cover_all(self) -> bool:
        keys = set()
        for st in self.folders.values():
            rt = st.status.runtime if st.status else None
            if st.settings.runtime == "host":
                continue
            if not rt or not rt.backend or not rt.cli:
                return False
            keys.add((rt.backend, rt.cli, rt.context))
        return bool(keys) and all(k in self._events and self._events[k].healthy for k in keys)
