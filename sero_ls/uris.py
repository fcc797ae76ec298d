"""file: URIs <-> host paths, without re-encoding what the client sent."""

from __future__ import annotations

import os
from urllib.parse import quote, unquote, urlsplit


def uri_to_path(uri: str) -> str | None:
    """The local path of a `file:` URI (None for other schemes)."""
    parts = urlsplit(uri)
    if parts.scheme != "file":
        return None
    path = unquote(parts.path)
    if parts.netloc and parts.netloc != "localhost":
        path = f"//{parts.netloc}{path}"
    return os.path.normpath(path) if path else None


def path_to_uri(path: str) -> str:
    return "file://" + quote(os.path.abspath(path), safe="/:@!$&'()*+,;=~")
