"""One language server serving one workspace folder, on the host or in a container."""

from __future__ import annotations

import logging
import time
from typing import Any, Literal

import attrs

from sero_ls.proxy.connection import Connection
from sero_ls.proxy.spec import ServerSpec
from sero_ls.proxy.urimap import UriMapper
from sero_ls.runtime.model import ServerEntry
from sero_ls.runtime.resolve import Folder

log = logging.getLogger(__name__)

# Seconds before the 1st, 2nd, ... restart after crashes within CRASH_WINDOW.
RESTART_DELAYS = (0.05, 0.5, 1.0, 2.0, 4.0)
CRASH_WINDOW = 60.0

State = Literal["starting", "running", "restarting", "failed", "stopped"]

# Notifications that keep a document in sync: never queued for a starting server,
# because the document store replays the current text when it becomes ready.
DOC_SYNC = {
    "textDocument/didOpen",
    "textDocument/didChange",
    "textDocument/didClose",
    "textDocument/didSave",
    "textDocument/willSave",
}


@attrs.define(eq=False)
class Instance:
    spec: ServerSpec
    folder: Folder
    mode: Literal["host", "container"] = "host"
    conn: Connection | None = None
    state: State = "starting"
    capabilities: dict[str, Any] = attrs.field(factory=dict)
    init_result: dict[str, Any] | None = None
    init_params: dict[str, Any] | None = None
    reason: str | None = None
    message: str | None = None
    restarts: int = 0
    queue: list[dict[str, Any]] = attrs.field(factory=list)
    # URI mapping (None: identity, the host case): client->server and server->client.
    to_server: UriMapper | None = None
    to_client: UriMapper | None = None
    container_id: str | None = None
    backend: Any = None  # the container runtime's Backend when in a container
    watchdog: Any = None  # pid -> argv of the watchdog that ends the server if sero-ls dies
    awaiting_initialized: bool = False  # wrapper mode: `initialized` waits for the editor's
    force_host: bool = False  # the command is missing in the container: runs on the host
    registrations: dict[str, str] = attrs.field(factory=dict)  # client-facing id -> method
    open_docs: set[str] = attrs.field(factory=set)  # URIs this server has been sent didOpen for
    crashes: list[float] = attrs.field(factory=list)  # monotonic times of recent crashes

    def next_restart_delay(self) -> float | None:
        """Backoff after a crash: fast first retry, growing delays; None: give up (too many
        crashes within CRASH_WINDOW seconds)."""
        now = time.monotonic()
        self.crashes = [t for t in self.crashes if now - t < CRASH_WINDOW] + [now]
        n = len(self.crashes)
        if n > len(RESTART_DELAYS):
            return None
        return RESTART_DELAYS[n - 1]

    @property
    def key(self) -> str:
        return f"{self.folder.uri}#{self.spec.id}"

    @property
    def name(self) -> str:
        return f"{self.spec.id}@{self.folder.name}"

    @property
    def running(self) -> bool:
        return self.state == "running" and self.conn is not None and not self.conn.exited.is_set()

    def entry(self) -> ServerEntry:
        return ServerEntry(
            id=self.spec.id,
            languages=[lang for lang in self.spec.languages],
            mode=self.mode,
            state=self.state,
            pid=self.conn.pid if self.conn else None,
            restarts=self.restarts,
            reason=self.reason,
            message=self.message,
        )

    def send(self, msg: dict[str, Any]) -> bool:
        """Deliver now if running; queue (in order) if starting; False if it cannot."""
        if self.running:
            assert self.conn is not None
            return self.conn.send(msg)
        if self.state in ("starting", "restarting"):
            if msg.get("method") not in DOC_SYNC:
                self.queue.append(msg)
            return True
        return False

    def flush(self) -> None:
        queued, self.queue = self.queue, []
        for msg in queued:
            if self.conn is not None:
                self.conn.send(msg)
