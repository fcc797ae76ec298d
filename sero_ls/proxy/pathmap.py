"""Host <-> container URI mapping from a container's real mounts (pure).

* A host ``file:`` URI under a mount becomes the container path (the longest
  mount prefix wins) and comes back as exactly the string the client sent:
  the client's spelling (percent-escapes, case of escapes, trailing slash) is
  remembered per container URI.
* A container path outside every mount (stdlib, site-packages, generated
  files) goes to the client as ``sero-container://<container-id>/<path>``, and
  such a URI from the client goes back to the container as ``file:///<path>``.
* Paths are normalised before any prefix test, so ``..`` cannot escape a mount,
  and nothing outside the mounts is ever mapped into them.
"""

from __future__ import annotations

import posixpath
from collections import OrderedDict
from collections.abc import Callable, Sequence
from urllib.parse import quote, unquote, urlsplit

from sero_ls.runtime.model import Mount
from sero_ls.uris import URI_SAFE, file_path, file_uri

__all__ = ["SCHEME", "PathMapper", "container_file_uri", "file_uri", "parse_container_uri"]

SCHEME = "sero-container"
MAX_REMEMBERED = 100_000


def container_file_uri(container_id: str, path: str) -> str:
    return f"{SCHEME}://{quote(container_id, safe='')}" + quote(path, safe=URI_SAFE)


def parse_container_uri(uri: str) -> tuple[str, str] | None:
    """(container id, absolute path) of a ``sero-container://`` URI, else None."""
    parts = urlsplit(uri)
    if parts.scheme != SCHEME or not parts.netloc:
        return None
    path = posixpath.normpath(unquote(parts.path) or "/")
    return unquote(parts.netloc), path if path.startswith("/") else "/" + path


def _under(path: str, root: str) -> str | None:
    """The rest of ``path`` below ``root`` ('' for root itself), or None."""
    root = root.rstrip("/") or "/"
    if path == root:
        return ""
    prefix = root if root.endswith("/") else root + "/"
    # the rest keeps its leading "/", also below a root "/" mount
    return path[len(prefix) - 1 :] if path.startswith(prefix) else None


def _suffix(uri: str) -> str:
    """The ``?query#fragment`` of a URI ('' when it has none): kept across the mapping."""
    parts = urlsplit(uri)
    return ("?" + parts.query if parts.query else "") + (
        "#" + parts.fragment if parts.fragment else ""
    )


class PathMapper:
    """Both directions for one container; usable as the ``fn(value, kind)`` of urimap."""

    def __init__(self, container_id: str, mounts: Sequence[Mount]) -> None:
        self.container_id = container_id
        norm = [
            Mount(posixpath.normpath(m.host), posixpath.normpath(m.container), m.read_only, m.type)
            for m in mounts
            if m.container.startswith("/") and (m.host.startswith("/") or not m.is_bind)
        ]
        # Only bind mounts are host folders; every mount (volumes too) hides what is below
        # its destination, so ownership inside the container looks at all of them.
        self.by_host = sorted(
            (m for m in norm if m.is_bind), key=lambda m: len(m.host), reverse=True
        )
        self.by_container = sorted(norm, key=lambda m: len(m.container), reverse=True)
        self._originals: OrderedDict[str, str] = OrderedDict()  # container uri -> client's string

    # ---- paths

    def host_to_container_path(self, path: str) -> str | None:
        path = posixpath.normpath(path)
        for m in self.by_host:
            rest = _under(path, m.host)
            if rest is None:
                continue
            cpath = m.container.rstrip("/") + rest if rest else m.container
            # A nested mount (a volume over node_modules...) hides this file in the container.
            if self._container_owner(cpath) == m:
                return cpath
        return None

    def _container_owner(self, cpath: str) -> Mount | None:
        for m in self.by_container:
            if _under(cpath, m.container) is not None:
                return m
        return None

    def container_to_host_path(self, path: str) -> str | None:
        path = posixpath.normpath(path)
        for m in self.by_container:
            rest = _under(path, m.container)
            if rest is not None:
                if not m.is_bind:  # a volume's file: there is no host file to open
                    return None
                return m.host.rstrip("/") + rest if rest else m.host
        return None

    # ---- URIs

    def to_container(self, value: str, kind: str = "uri") -> str:
        """Client -> server."""
        if kind == "path":
            return self.host_to_container_path(value) or value
        if kind == "glob":
            return self._glob(value, self.host_to_container_path)
        if value.startswith(SCHEME + ":"):
            parsed = parse_container_uri(value)
            if parsed is None or parsed[0] != self.container_id:
                return value
            mapped = file_uri(parsed[1])
        else:
            path = file_path(value)
            if path is None:
                return value
            cpath = self.host_to_container_path(path)
            if cpath is None:
                # Not under a mount: it stays as it is, and comes back as the client's own.
                self._remember(value, value)
                return value
            suffix = _suffix(value)
            if value[: len(value) - len(suffix)].endswith("/") and not cpath.endswith("/"):
                cpath += "/"
            mapped = file_uri(cpath) + suffix
        self._remember(mapped, value)
        return mapped

    def to_host(self, value: str, kind: str = "uri") -> str:
        """Server -> client."""
        if kind == "path":
            return self.container_to_host_path(value) or value
        if kind == "glob":
            return self._glob(value, self.container_to_host_path)
        original = self._originals.get(value)
        if original is not None:
            return original
        path = file_path(value)
        if path is None:
            return value
        suffix = _suffix(value)
        hpath = self.container_to_host_path(path)
        if hpath is None:
            return container_file_uri(self.container_id, posixpath.normpath(path)) + suffix
        if value[: len(value) - len(suffix)].endswith("/") and not hpath.endswith("/"):
            hpath += "/"
        return file_uri(hpath) + suffix

    def _remember(self, container_uri: str, client_uri: str) -> None:
        self._originals[container_uri] = client_uri
        self._originals.move_to_end(container_uri)
        if len(self._originals) > MAX_REMEMBERED:
            self._originals.popitem(last=False)

    @staticmethod
    def _glob(value: str, fn: Callable[[str], str | None]) -> str:
        """An absolute glob: map its literal leading directory; relative globs stay."""
        if not value.startswith("/"):
            return value
        literal = []
        for part in value.split("/")[1:]:
            if any(ch in part for ch in "*?[]{}"):
                break
            literal.append(part)
        head = "/" + "/".join(literal)
        mapped = fn(head)
        if mapped is None:
            return value
        tail = value[len(head.rstrip("/")) :]  # "/**/*.py", "/" or ""
        return mapped.rstrip("/") + tail if tail else mapped
