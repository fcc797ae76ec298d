"""Properties of the host <-> container URI mapping (sero_ls.proxy.pathmap), with hypothesis.

Mount sets are drawn from a small tree of names so that sources and destinations nest and
share prefixes; paths from an alphabet with spaces, unicode, '%', '#', '?' and URI
delimiters; each URI is spelled the way some client might (upper- or lower-case escapes,
raw spaces and unicode, every byte escaped, `file://localhost`, `file:/`). The expected
results come from a small oracle written here, not from the module under test.

Bounded: fixed max_examples, no deadline flakiness; the whole file runs in a few seconds.
"""

from __future__ import annotations

import posixpath
from urllib.parse import unquote, urlsplit

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sero_ls.proxy.pathmap import PathMapper, file_uri, parse_container_uri
from sero_ls.runtime.model import Mount

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

# "projx" and "workspace2" share a prefix with "proj" and "workspace" without being under them
HOST_NAMES = ["home", "u", "proj", "projx", "a", "é x", "vendor", "lib"]
CTR_NAMES = ["workspace", "workspace2", "w", "opt", "lib", "x y", "proj"]
ALPHABET = st.sampled_from([*"abcXYZ019-_.~ %#?:@+()[]&=;,'!$*\\", "é", "ß", "漢", "🐍", "\t"])
SEGMENT = st.text(ALPHABET, min_size=1, max_size=8).filter(lambda s: s not in (".", ".."))
MUST_ESCAPE = set("%#?\t")  # raw, these would end the path or change its meaning
CID = st.one_of(
    st.from_regex(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{1,20}", fullmatch=True),
    st.text("0123456789abcdef", min_size=64, max_size=64),
)


def abs_path(names: list[str]) -> str:
    return "/" + "/".join(names)


def nested(a: str, b: str) -> bool:
    return a == b or a.startswith(b.rstrip("/") + "/") or b.startswith(a.rstrip("/") + "/")


@st.composite
def mount_sets(draw: st.DrawFn) -> list[Mount]:
    """1-3 mounts; sources may nest, destinations never nest (none hides another)."""
    mounts: list[Mount] = []
    for _ in range(draw(st.integers(1, 3))):
        host = abs_path(draw(st.lists(st.sampled_from(HOST_NAMES), min_size=1, max_size=4)))
        dest = abs_path(draw(st.lists(st.sampled_from(CTR_NAMES), min_size=1, max_size=3)))
        if any(nested(dest, m.container) for m in mounts):
            continue
        mounts.append(Mount(host, dest, draw(st.booleans())))
    return mounts


def under(path: str, root: str) -> str | None:
    """Oracle: the rest of `path` below `root` (with its leading '/'), else None."""
    if path == root:
        return ""
    return path[len(root) :] if path.startswith(root + "/") else None


def oracle_map(mounts: list[Mount], path: str, *, to_container: bool) -> str | None:
    """Oracle: the longest mount prefix (source or destination) of `path`, replaced."""
    path = posixpath.normpath(path)
    pairs = [(m.host, m.container) if to_container else (m.container, m.host) for m in mounts]
    for src, dst in sorted(pairs, key=lambda p: len(p[0]), reverse=True):
        rest = under(path, src)
        if rest is not None:
            return dst + rest
    return None


def oracle_to_container(mounts: list[Mount], host_path: str) -> str | None:
    return oracle_map(mounts, host_path, to_container=True)


def oracle_to_host(mounts: list[Mount], container_path: str) -> str | None:
    return oracle_map(mounts, container_path, to_container=False)


def in_a_destination(mounts: list[Mount], path: str) -> bool:
    return any(under(posixpath.normpath(path), m.container) is not None for m in mounts)


@st.composite
def spellings(draw: st.DrawFn, path: str) -> str:
    """A file URI for `path`, spelled the way some client might."""
    style = draw(st.sampled_from(["mixed", "upper", "lower", "raw", "all"]))
    out = []
    for ch in path:
        if ch == "/":
            out.append(ch)
            continue
        escaped = "".join(f"%{b:02X}" for b in ch.encode())
        if style == "lower" or (style == "mixed" and draw(st.booleans())):
            escaped = escaped.lower()
        raw_ok = ch not in MUST_ESCAPE
        if style == "all" or not raw_ok:
            out.append(escaped)
        elif style == "raw":
            out.append(ch)
        elif style in ("upper", "lower"):
            out.append(ch if ch.isascii() and (ch.isalnum() or ch in "-_.~/") else escaped)
        else:
            out.append(draw(st.sampled_from([ch, escaped])))
    prefix = draw(st.sampled_from(["file://", "file://localhost", "file:"]))
    if prefix == "file:" and path.startswith("//"):
        prefix = "file://"
    return prefix + "".join(out)


def decoded(uri: str) -> str:
    parts = urlsplit(uri)
    assert parts.scheme == "file" and parts.netloc in ("", "localhost"), uri
    assert not parts.query and not parts.fragment, uri
    return unquote(parts.path)


@st.composite
def under_a_mount(draw: st.DrawFn) -> tuple[list[Mount], str, str]:
    """(mounts, a host path under one of them, that path as some client spells it)."""
    mounts = draw(mount_sets())
    base = draw(st.sampled_from(mounts)).host
    segments = draw(st.lists(SEGMENT, max_size=4))
    path = base + "".join("/" + s for s in segments)
    uri = draw(spellings(path))
    if draw(st.booleans()):
        path, uri = path + "/", uri + "/"
    return mounts, path, uri


@SETTINGS
@given(under_a_mount(), CID)
def test_host_to_container_to_host_is_the_identity(
    case: tuple[list[Mount], str, str], cid: str
) -> None:
    mounts, path, uri = case
    m = PathMapper(cid, mounts)
    sent = m.to_container(uri)
    expected = oracle_to_container(mounts, path)
    assert expected is not None
    assert posixpath.normpath(decoded(sent)) == expected
    assert sent.endswith("/") == uri.endswith("/")
    assert m.to_host(sent) == uri  # exactly the client's string
    # a mapper that never saw the client's spelling still names the same file
    fresh = PathMapper(cid, mounts).to_host(sent)
    assert posixpath.normpath(decoded(fresh)) == posixpath.normpath(path)
    assert fresh == file_uri(posixpath.normpath(path)) + ("/" if uri.endswith("/") else "")


@SETTINGS
@given(under_a_mount(), CID)
def test_paths_round_trip(case: tuple[list[Mount], str, str], cid: str) -> None:
    mounts, path, _ = case
    m = PathMapper(cid, mounts)
    cpath = m.to_container(path, "path")
    assert cpath == oracle_to_container(mounts, path)
    assert m.to_host(cpath, "path") == posixpath.normpath(path)


HOST_PATH = st.lists(st.one_of(st.sampled_from(HOST_NAMES + CTR_NAMES), SEGMENT), max_size=5).map(
    abs_path
)


@SETTINGS
@given(mount_sets(), HOST_PATH, CID, st.data())
def test_nothing_outside_the_mounts_is_mapped_into_them(
    mounts: list[Mount], path: str, cid: str, data: st.DataObject
) -> None:
    assume(oracle_to_container(mounts, path) is None)
    uri = data.draw(spellings(path))
    m = PathMapper(cid, mounts)
    assert m.to_container(uri) == uri
    assert m.to_container(path, "path") == path
    assert m.to_host(uri) == uri  # and it comes back as sent


@SETTINGS
@given(under_a_mount(), st.sampled_from(["server", "LOCALHOST", "localhost:80", "u@localhost"]))
def test_another_authority_is_never_mapped(case: tuple[list[Mount], str, str], host: str) -> None:
    mounts, path, _ = case
    uri = f"file://{host}" + file_uri(path)[len("file://") :]
    assert PathMapper("c", mounts).to_container(uri) == uri


# Pieces an attacker (or a confused client) may put in a path to leave a mount.
TRICKS = st.sampled_from(
    ["..", "%2e%2e", "%2E%2E", ".%2e", "..%2F..", "%2F..%2F..", ".", "", "%2F", "link", "..%5C.."]
)
DRIVES = st.sampled_from(["", "/c%3A", "/C%3A", "/C:", "/c:", "/C%7C", "/%43%3A"])


@st.composite
def escape_attempts(draw: st.DrawFn) -> tuple[list[Mount], str]:
    mounts = draw(mount_sets())
    base = draw(st.sampled_from(mounts)).host
    head = "".join(
        "/" + ("".join(f"%{b:02x}" for b in s.encode()) if s not in HOST_NAMES else s)
        for s in base.split("/")[1:]
    )
    pieces = draw(st.lists(st.one_of(TRICKS, st.sampled_from(HOST_NAMES + CTR_NAMES)), max_size=6))
    prefix = draw(st.sampled_from(["file://", "file://localhost", "file:", "file://server"]))
    return mounts, prefix + draw(DRIVES) + head + "".join("/" + p for p in pieces)


@SETTINGS
@given(escape_attempts(), CID)
def test_escapes_cannot_leave_a_mount(case: tuple[list[Mount], str], cid: str) -> None:
    mounts, uri = case
    m = PathMapper(cid, mounts)
    sent = m.to_container(uri)
    parts = urlsplit(uri)
    host_path = posixpath.normpath(unquote(parts.path))
    local = parts.netloc in ("", "localhost")  # file://server/... is a UNC path, never mapped
    expected = oracle_to_container(mounts, host_path) if local else None
    if sent == uri:
        # unchanged is right only when the normalised path is outside every mount; drive
        # letters land here too (no mount source starts with one)
        assert expected is None
        return
    assert expected is not None
    assert posixpath.normpath(decoded(sent)) == expected
    assert in_a_destination(mounts, decoded(sent))
    assert m.to_host(sent) == uri


CTR_PATH = st.lists(
    st.one_of(st.sampled_from([*CTR_NAMES, "usr", "..", "."]), SEGMENT), min_size=1, max_size=5
).map(abs_path)


@SETTINGS
@given(mount_sets(), CTR_PATH, CID, st.data())
def test_container_only_files_get_a_container_uri_that_maps_back(
    mounts: list[Mount], path: str, cid: str, data: st.DataObject
) -> None:
    norm = posixpath.normpath(path)
    assume(not in_a_destination(mounts, norm))
    server_uri = data.draw(spellings(path))
    m = PathMapper(cid, mounts)
    client_uri = m.to_host(server_uri)
    assert client_uri.startswith("sero-container://")
    assert parse_container_uri(client_uri) == (cid, norm)
    back = m.to_container(client_uri)
    assert back == file_uri(norm)
    assert PathMapper(cid, mounts).to_container(client_uri) == back
    assert m.to_host(back) == client_uri
    # another container's mapper leaves it alone
    assert PathMapper(cid + "x", mounts).to_container(client_uri) == client_uri


@st.composite
def server_escapes(draw: st.DrawFn) -> tuple[list[Mount], str]:
    """A server URI that starts in a mount destination and may climb out of it."""
    mounts = draw(mount_sets())
    dest = draw(st.sampled_from(mounts)).container
    pieces = draw(st.lists(st.one_of(TRICKS, st.sampled_from([*CTR_NAMES, "usr"])), max_size=6))
    return mounts, "file://" + dest.replace(" ", "%20") + "".join("/" + p for p in pieces)


@SETTINGS
@given(server_escapes(), CID)
def test_server_dotdot_cannot_leave_a_destination(case: tuple[list[Mount], str], cid: str) -> None:
    mounts, uri = case
    norm = posixpath.normpath(unquote(urlsplit(uri).path))
    client_uri = PathMapper(cid, mounts).to_host(uri)
    host = oracle_to_host(mounts, norm)
    if host is None:
        assert parse_container_uri(client_uri) == (cid, norm)
    else:
        assert posixpath.normpath(decoded(client_uri)) == host
