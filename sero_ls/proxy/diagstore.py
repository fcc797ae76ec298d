"""The diagnostics the editor sees: per document, the union of every live producer's latest
set (each language server's, and sero-ls' own), in priority order.

Side by side, each language client keeps its own diagnostics collection (VS Code) or
namespace (Neovim): one server's publish replaces only that server's set, and a server that
stops takes its set with it. Behind the hub there is one client, so the hub keeps the sets
per (document, producer) and publishes their concatenation whenever one of them changes
(efm-langserver does the same for its tools). Pure: it returns the publishes to send.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

Publish = dict[str, Any]  # PublishDiagnosticsParams


class DiagnosticsStore:
    def __init__(self, order: Callable[[str], Any] | None = None) -> None:
        # uri -> producer -> diagnostics (as the producer sent them, URIs mapped)
        self._sets: dict[str, dict[str, list[Any]]] = {}
        self._order = order or (lambda producer: 0)

    def set(self, uri: str, producer: str, diagnostics: list[Any]) -> Publish:
        """Record ``producer``'s latest set for ``uri``; the merged publish for the editor."""
        sets = self._sets.setdefault(uri, {})
        if diagnostics:
            sets[producer] = diagnostics
        else:
            sets.pop(producer, None)
        return self.merged(uri)

    def merged(self, uri: str) -> Publish:
        sets = self._sets.get(uri) or {}
        ordered = sorted(sets, key=self._order)
        out = [d for producer in ordered for d in sets[producer]]
        if not sets:
            self._sets.pop(uri, None)
        return {"uri": uri, "diagnostics": out}

    def only_producer(self, uri: str, producer: str) -> bool:
        """Whether ``producer`` is alone on ``uri`` (its publish can then go out as it came)."""
        sets = self._sets.get(uri)
        return not sets or set(sets) <= {producer}

    def withdraw(self, producer: str) -> list[Publish]:
        """Drop every set of a producer that stopped, gave up, was removed or moved; the
        publishes that bring the editor up to date (empty lists where nothing is left)."""
        out = []
        for uri in [u for u, sets in self._sets.items() if producer in sets]:
            del self._sets[uri][producer]
            out.append(self.merged(uri))
        return out

    def producer_of(self, uri: str, diagnostic: Any) -> str | None:
        """Which producer published ``diagnostic`` (the editor sends it back in code action
        requests: it must go to its own server, ``data`` included)."""
        want = _key(diagnostic)
        for producer, diags in (self._sets.get(uri) or {}).items():
            if any(_key(d) == want for d in diags):
                return producer
        return None

    def of(self, uri: str, producer: str) -> list[Any]:
        return list((self._sets.get(uri) or {}).get(producer, []))

    def producers(self, uri: str) -> list[str]:
        return sorted(self._sets.get(uri) or {}, key=self._order)


def _key(diagnostic: Any) -> str:
    """Identity of a diagnostic as an editor echoes it: range, message, code and source
    (editors may drop or reorder other members)."""
    if not isinstance(diagnostic, dict):
        return json.dumps(diagnostic, sort_keys=True, default=str)
    picked = {k: diagnostic.get(k) for k in ("range", "message", "code", "source")}
    return json.dumps(picked, sort_keys=True, default=str)
