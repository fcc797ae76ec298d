"""The client methods sero-ls handles itself: what the start-up path, the protocol and the
router's hot path all need to know (standard library only: imported before pygls)."""

from __future__ import annotations

from typing import Final

LOCAL_METHODS: Final = frozenset(
    {
        "initialize",
        "initialized",
        "shutdown",
        "exit",
        "workspace/didChangeWorkspaceFolders",
        "workspace/didChangeConfiguration",
        "$/setTrace",
        "window/workDoneProgress/cancel",
    }
)
"""Methods sero-ls handles itself, besides every ``sero/...`` one."""

SHARED_NOTIFICATIONS: Final = frozenset(
    {
        "initialized",
        "workspace/didChangeConfiguration",
        "workspace/didChangeWorkspaceFolders",
        "$/setTrace",
        "window/workDoneProgress/cancel",
    }
)
"""Client notifications sero-ls handles itself AND the proxy passes on."""

OWN_PREFIX: Final = "sero/"


def is_local(method: str) -> bool:
    """Whether sero-ls handles ``method`` itself (the servers may hear of it too)."""
    return method in LOCAL_METHODS or method.startswith(OWN_PREFIX)
