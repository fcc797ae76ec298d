"""One language server serving one workspace folder, on the host or in a container: its
state as the supervisor and the router see it (no behaviour beyond small queries)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from typing import Any, Literal

import attrs

from sero_ls.proxy.connection import Connection
from sero_ls.proxy.placement import Placement
from sero_ls.proxy.spec import ServerSpec
from sero_ls.proxy.urimap import UriMapper
from sero_ls.runtime.model import ServerEntry
from sero_ls.runtime.resolve import Folder

log = logging.getLogger(__name__)

# Seconds before the 1st, 2nd, ... restart after crashes within CRASH_WINDOW.
RESTART_DELAYS = (0.05, 0.5, 1.0, 2.0, 4.0)
CRASH_WINDOW = 60.0

State = Literal["starting", "running", "restarting", "failed", "stopped"]

_generations = itertools.count(1)


@attrs.define(eq=False)
class Instance:
    spec: ServerSpec
    folder: Folder
    priority: int = 0  # lower answers first (the declared order of `servers`, or `priority`)
    placement: Placement | None = None
    conn: Connection | None = None
    state: State = "starting"
    capabilities: dict[str, Any] = attrs.field(factory=dict)
    init_result: dict[str, Any] | None = None
    init_params: dict[str, Any] | None = None
    reason: str | None = None
    message: str | None = None
    restarts: int = 0
    # Client messages waiting for the server to be ready: (message, its bytes as received).
    # Mapped when they are sent, with the placement the server has then.
    queue: list[tuple[dict[str, Any], bytes | None]] = attrs.field(factory=list)
    awaiting_initialized: bool = False  # wrapper mode: `initialized` waits for the editor's
    force_host: bool = False  # the command is missing in the container: runs on the host
    registrations: dict[str, dict[str, Any]] = attrs.field(factory=dict)  # client id -> reg
    open_docs: set[str] = attrs.field(factory=set)  # URIs this server has been sent didOpen for
    crashes: list[float] = attrs.field(factory=list)  # monotonic times of recent crashes
    generation: int = 0  # new for each process: a tag from an older one is stale
    start_lock: asyncio.Lock = attrs.field(factory=asyncio.Lock)  # one start at a time

    def next_restart_delay(self) -> float | None:
        """Backoff after a crash: fast first retry, growing delays; None: give up (too many
        crashes within CRASH_WINDOW seconds)."""
        now = time.monotonic()
        self.crashes = [t for t in self.crashes if now - t < CRASH_WINDOW] + [now]
        n = len(self.crashes)
        if n > len(RESTART_DELAYS):
            return None
        return RESTART_DELAYS[n - 1]

    def new_generation(self) -> None:
        self.generation = next(_generations)

    @property
    def key(self) -> str:
        return f"{self.folder.uri}#{self.spec.id}"

    @property
    def tag(self) -> str:
        """This process's name in tags the editor carries back (resolve routing)."""
        return f"{self.spec.id}:{self.generation}"

    @property
    def name(self) -> str:
        return f"{self.spec.id}@{self.folder.name}"

    @property
    def mode(self) -> Literal["host", "container"]:
        return self.placement.mode if self.placement else "host"

    @property
    def container_id(self) -> str | None:
        return self.placement.container_id if self.placement else None

    @property
    def backend(self) -> Any:
        return self.placement.backend if self.placement else None

    @property
    def to_server(self) -> UriMapper | None:
        return self.placement.to_server if self.placement else None

    @property
    def to_client(self) -> UriMapper | None:
        return self.placement.to_client if self.placement else None

    @property
    def running(self) -> bool:
        return self.state == "running" and self.conn is not None and not self.conn.exited.is_set()

    @property
    def alive(self) -> bool:
        """Running, or about to be (messages for it are queued)."""
        return self.running or self.state in ("starting", "restarting")

    def commands(self) -> list[str]:
        """The command ids it declared, statically and by dynamic registration."""
        out = _command_ids(self.capabilities.get("executeCommandProvider"))
        for reg in self.registrations.values():
            if reg.get("method") == "workspace/executeCommand":
                out += _command_ids(reg.get("registerOptions"))
        return out

    def registered(self, method: str) -> bool:
        return any(reg.get("method") == method for reg in self.registrations.values())

    def entry(self) -> ServerEntry:
        return ServerEntry(
            id=self.spec.id,
            languages=list(self.spec.languages),
            mode=self.mode,
            state=self.state,
            pid=self.conn.pid if self.conn else None,
            restarts=self.restarts,
            reason=self.reason,
            message=self.message,
        )


def _command_ids(options: Any) -> list[str]:
    """The `commands` of ExecuteCommandOptions (static or registered)."""
    cmds = options.get("commands") if isinstance(options, dict) else None
    return [c for c in cmds if isinstance(c, str)] if isinstance(cmds, list) else []
