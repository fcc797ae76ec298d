"""sero-ls' own server capabilities, known without importing pygls.

The start-up path (``lsp/boot.py``) answers ``initialize`` before pygls is loaded, so it
needs what pygls would compute from sero-ls' registered features and commands.
``tests/unit/test_boot.py`` compares this with pygls' own computation, so the two cannot
drift apart: a new feature or command of sero-ls' must be added here too.
"""

from __future__ import annotations

from typing import Any

from sero_ls import __version__

COMMANDS = [
    "sero.refreshStatus",
    "sero.setRuntime",
    "sero.restartServers",
    "sero.startContainerSystem",
    "sero.trustFolder",
]


def own_capabilities() -> dict[str, Any]:
    """ServerCapabilities of sero-ls' own features (JSON); utf-16 positions (the default)."""
    return {
        "codeActionProvider": {"codeActionKinds": ["quickfix"]},
        "executeCommandProvider": {"commands": list(COMMANDS)},
        "textDocumentSync": {
            "change": 2,
            "openClose": True,
            "save": {"includeText": False},
            "willSave": False,
            "willSaveWaitUntil": False,
        },
        "workspace": {"workspaceFolders": {"changeNotifications": True, "supported": True}},
    }


def own_initialize_result() -> dict[str, Any]:
    return {
        "capabilities": own_capabilities(),
        "serverInfo": {"name": "sero-ls", "version": __version__},
    }
