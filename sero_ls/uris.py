"""file: URIs <-> host paths, without re-encoding what the client sent (the one home of
this conversion; the proxy's path mapping builds on it)."""

from __future__ import annotations

import os
from urllib.parse import quote, unquote, urlsplit

# Characters a path keeps unescaped in a file: URI (as VS Code and Neovim write them).
URI_SAFE = "/:@!$&'()*+,;=~"


def file_uri(path: str) -> str:
    """The file: URI of an absolute path, as it is (no normalisation)."""
    return "file://" + quote(path, safe=URI_SAFE)


def file_path(uri: str) -> str | None:
    """The absolute local path a file: URI names, unnormalised; None for another scheme, a
    remote host or a relative path."""
    if not uri.startswith("file:"):
        return None
    parts = urlsplit(uri)
    if parts.netloc not in ("", "localhost"):
        return None
    path = unquote(parts.path)
    if not path.startswith("/"):
        return None
    return path


def uri_to_path(uri: str) -> str | None:
    """The local path of a `file:` URI, normalised (None for other schemes)."""
    parts = urlsplit(uri)
    if parts.scheme != "file":
        return None
    path = unquote(parts.path)
    if parts.netloc and parts.netloc != "localhost":
        path = f"//{parts.netloc}{path}"
    return os.path.normpath(path) if path else None


def path_to_uri(path: str) -> str:
    return file_uri(os.path.abspath(path))
