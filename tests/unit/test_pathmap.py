"""Host <-> container URI mapping from a container's mounts (sero_ls.proxy.pathmap).

Mounts here are shaped like the ones `podman inspect` reports (host source ->
container destination); the container id is the one the hub passes in.
"""

from __future__ import annotations

from typing import Any

import pytest

from sero_ls.proxy import pathmap, urimap
from sero_ls.proxy.pathmap import (
    PathMapper,
    container_file_uri,
    file_uri,
    parse_container_uri,
)
from sero_ls.runtime.model import Mount

CID = "sero-ws1"
PROJ = Mount("/home/u/proj", "/workspace")
LIB = Mount("/home/u/proj/vendor/lib", "/opt/lib", read_only=True)
CACHE = Mount("/home/u/.cache/pip", "/root/.cache/pip")


def mapper(*mounts: Mount, cid: str = CID) -> PathMapper:
    return PathMapper(cid, list(mounts) or [PROJ, LIB, CACHE])


# ---- several mounts: the longest prefix wins, both ways


@pytest.mark.parametrize(
    ("host", "container"),
    [
        ("/home/u/proj/a.py", "/workspace/a.py"),
        ("/home/u/proj/vendor/x.py", "/workspace/vendor/x.py"),
        ("/home/u/proj/vendor/lib/x.py", "/opt/lib/x.py"),
        ("/home/u/proj/vendor/lib", "/opt/lib"),
        ("/home/u/proj/vendor/library/x.py", "/workspace/vendor/library/x.py"),
        ("/home/u/.cache/pip/wheels/w.whl", "/root/.cache/pip/wheels/w.whl"),
        ("/home/u/proj", "/workspace"),
    ],
)
def test_longest_prefix_wins_both_ways(host: str, container: str) -> None:
    m = mapper()
    assert m.host_to_container_path(host) == container
    assert m.container_to_host_path(container) == host
    # and as URIs, with fresh mappers so no remembered spelling helps
    assert mapper().to_container(file_uri(host)) == file_uri(container)
    assert mapper().to_host(file_uri(container)) == file_uri(host)


def test_mount_order_does_not_matter() -> None:
    a = PathMapper(CID, [PROJ, LIB, CACHE])
    b = PathMapper(CID, [CACHE, LIB, PROJ])
    for path in ("/home/u/proj/vendor/lib/z.py", "/home/u/proj/vendor/z.py"):
        assert a.host_to_container_path(path) == b.host_to_container_path(path)
    for path in ("/opt/lib/z.py", "/workspace/z.py", "/root/.cache/pip/z"):
        assert a.container_to_host_path(path) == b.container_to_host_path(path)


def test_sibling_prefix_is_not_under_the_mount() -> None:
    m = mapper()
    assert m.host_to_container_path("/home/u/project/a.py") is None
    assert m.host_to_container_path("/home/u/proj2") is None
    assert m.container_to_host_path("/workspaces/a.py") is None
    assert m.to_container("file:///home/u/project/a.py") == "file:///home/u/project/a.py"


def test_mount_paths_are_normalised() -> None:
    m = PathMapper(CID, [Mount("/home/u/proj/", "/workspace/"), Mount("/a//b/./c", "/w/./x")])
    assert m.host_to_container_path("/home/u/proj/a.py") == "/workspace/a.py"
    assert m.container_to_host_path("/workspace/a.py") == "/home/u/proj/a.py"
    assert m.host_to_container_path("/a/b/c/d") == "/w/x/d"


def test_relative_mount_entries_are_ignored() -> None:
    m = PathMapper(CID, [Mount("proj", "/workspace"), Mount("/home/u/proj", "workspace")])
    assert m.host_to_container_path("/home/u/proj/a.py") is None
    assert m.to_host("file:///workspace/a.py") == "sero-container://sero-ws1/workspace/a.py"


# ---- the client's exact string comes back


@pytest.mark.parametrize(
    ("client", "container"),
    [
        (
            "file:///home/u/proj/my%20dir/%C3%A9t%C3%A9.py",
            "file:///workspace/my%20dir/%C3%A9t%C3%A9.py",
        ),
        (
            "file:///home/u/proj/my%20dir/%c3%a9t%c3%a9.py",
            "file:///workspace/my%20dir/%C3%A9t%C3%A9.py",
        ),
        ("file:///home/u/proj/my dir/été.py", "file:///workspace/my%20dir/%C3%A9t%C3%A9.py"),
        ("file:///home/u/proj/sub/", "file:///workspace/sub/"),
        ("file:///home/u/proj/", "file:///workspace/"),
        ("file:///home/u/proj", "file:///workspace"),
        ("file://localhost/home/u/proj/a.py", "file:///workspace/a.py"),
        ("file:/home/u/proj/a.py", "file:///workspace/a.py"),
        ("file:///home/u/proj/c%3A/x.py", "file:///workspace/c:/x.py"),
        ("file:///home/u/proj/a%2Bb%28c%29.py", "file:///workspace/a+b(c).py"),
        ("file:///home/u/proj/100%25.py", "file:///workspace/100%25.py"),
        ("file:///home/u/proj/a%23b%3F.py", "file:///workspace/a%23b%3F.py"),
        ("file:///home/u/proj/%F0%9F%90%8D.py", "file:///workspace/%F0%9F%90%8D.py"),
    ],
)
def test_client_string_round_trip(client: str, container: str) -> None:
    m = mapper()
    assert m.to_container(client) == container
    assert m.to_host(container) == client
    # stable: asking again changes nothing
    assert m.to_container(client) == container
    assert m.to_host(container) == client


def test_the_latest_client_spelling_is_returned() -> None:
    m = mapper()
    upper, lower = "file:///home/u/proj/%C3%A9.py", "file:///home/u/proj/%c3%a9.py"
    assert m.to_container(upper) == m.to_container(lower) == "file:///workspace/%C3%A9.py"
    assert m.to_host("file:///workspace/%C3%A9.py") == lower
    m.to_container(upper)
    assert m.to_host("file:///workspace/%C3%A9.py") == upper


def test_unknown_container_uri_gets_a_canonical_host_uri() -> None:
    m = mapper()
    # never sent by the client: canonical escaping of the host path
    assert m.to_host("file:///workspace/new%20file.py") == "file:///home/u/proj/new%20file.py"
    assert m.to_host("file:///workspace/%c3%a9.py") == "file:///home/u/proj/%C3%A9.py"
    assert m.to_host("file:///workspace/sub/") == "file:///home/u/proj/sub/"
    assert m.to_host("file:///workspace") == "file:///home/u/proj"
    assert m.to_host("file://localhost/opt/lib/x.py") == "file:///home/u/proj/vendor/lib/x.py"


# ---- '..' segments


@pytest.mark.parametrize(
    ("client", "expected"),
    [
        # escapes the mount: unchanged
        ("file:///home/u/proj/../other/a.py", "file:///home/u/proj/../other/a.py"),
        ("file:///home/u/proj/%2e%2e/other/a.py", "file:///home/u/proj/%2e%2e/other/a.py"),
        (
            "file:///home/u/proj/a/..%2F..%2F..%2Fetc/passwd",
            "file:///home/u/proj/a/..%2F..%2F..%2Fetc/passwd",
        ),
        ("file:///home/u/proj/..", "file:///home/u/proj/.."),
        # comes back into it: mapped to the normalised container path
        ("file:///home/u/other/../proj/a.py", "file:///workspace/a.py"),
        ("file:///home/u/proj/x/../a.py", "file:///workspace/a.py"),
        ("file:///home/u/proj/./b/./a.py", "file:///workspace/b/a.py"),
        ("file:///home/u/proj//b//a.py", "file:///workspace/b/a.py"),
        ("file:///home/u/proj/vendor/lib/../x.py", "file:///workspace/vendor/x.py"),
    ],
)
def test_dotdot_segments_cannot_escape(client: str, expected: str) -> None:
    m = mapper()
    assert m.to_container(client) == expected
    assert m.to_host(expected) == client


def test_dotdot_from_the_server_leaves_the_mount() -> None:
    m = mapper()
    assert m.to_host("file:///workspace/../etc/passwd") == "sero-container://sero-ws1/etc/passwd"
    assert m.to_host("file:///workspace/a/%2e%2e/%2E%2E/etc") == "sero-container://sero-ws1/etc"
    assert m.to_host("file:///opt/lib/../x.py") == "sero-container://sero-ws1/opt/x.py"
    assert m.container_to_host_path("/workspace/../workspace/a.py") == "/home/u/proj/a.py"


# ---- outside every mount


@pytest.mark.parametrize(
    "uri",
    [
        "file:///etc/hosts",
        "file:///home/u/other/a.py",
        "file:///home/u/pro",
        "file:///",
        "file://otherhost/home/u/proj/a.py",
        "file:////home/u/proj/a.py",
    ],
)
def test_host_uri_outside_every_mount_is_unchanged(uri: str) -> None:
    m = mapper()
    assert m.to_container(uri) == uri
    assert m.to_host(uri) == uri


def test_container_only_file_round_trip() -> None:
    m = mapper()
    server = "file:///usr/lib/python3.11/os.py"
    client = m.to_host(server)
    assert client == "sero-container://sero-ws1/usr/lib/python3.11/os.py"
    assert parse_container_uri(client) == (CID, "/usr/lib/python3.11/os.py")
    assert mapper().to_container(client) == server
    assert m.to_container(client) == server
    assert m.to_host(server) == client


def test_container_only_file_with_escapes() -> None:
    m = mapper()
    server = "file:///usr/lib/my%20pkg/%C3%A9.py"
    client = m.to_host(server)
    assert client == "sero-container://sero-ws1/usr/lib/my%20pkg/%C3%A9.py"
    assert mapper().to_container(client) == server
    assert mapper().to_container("sero-container://sero-ws1/usr/lib/my pkg/é.py") == server


def test_container_uri_of_another_container_is_untouched() -> None:
    m = mapper()
    other = "sero-container://sero-other/usr/lib/python3.11/os.py"
    assert m.to_container(other) == other
    assert m.to_host(other) == other
    assert m.to_container("sero-container:///usr/lib/x.py") == "sero-container:///usr/lib/x.py"


def test_container_id_is_escaped_in_the_authority() -> None:
    m = mapper(cid="odd id/x")
    uri = m.to_host("file:///usr/a.py")
    assert uri == "sero-container://odd%20id%2Fx/usr/a.py"
    assert parse_container_uri(uri) == ("odd id/x", "/usr/a.py")
    assert m.to_container(uri) == "file:///usr/a.py"
    assert container_file_uri("c", "/a b") == "sero-container://c/a%20b"


@pytest.mark.parametrize(
    ("uri", "parsed"),
    [
        ("sero-container://c/usr/x.py", ("c", "/usr/x.py")),
        ("sero-container://c", ("c", "/")),
        ("sero-container://c/a/../../../etc", ("c", "/etc")),
        ("sero-container://c/a%2F..%2F..%2Fb", ("c", "/b")),
        ("file:///usr/x.py", None),
        ("sero-container:/usr/x.py", None),
    ],
)
def test_parse_container_uri(uri: str, parsed: tuple[str, str] | None) -> None:
    assert parse_container_uri(uri) == parsed


# ---- other schemes and Windows drive letters


@pytest.mark.parametrize(
    "uri",
    [
        "untitled:Untitled-1",
        "untitled:/home/u/proj/a.py",
        "http://example.com/home/u/proj/a.py",
        "https://localhost/workspace/a.py",
        "vscode-notebook-cell:/home/u/proj/nb.ipynb#W0sZmlsZQ%3D%3D",
        "vscode-notebook-cell://localhost/workspace/nb.ipynb#cell",
        "git:/home/u/proj/a.py?%7B%22ref%22%3A%22HEAD%22%7D",
        "jdt://contents/rt.jar/java.lang/String.class",
        "/home/u/proj/a.py",
        "",
    ],
)
def test_other_schemes_are_untouched(uri: str) -> None:
    m = mapper()
    assert m.to_container(uri) == uri
    assert m.to_host(uri) == uri


@pytest.mark.parametrize(
    "uri",
    [
        "file:///c%3A/home/u/proj/a.py",
        "file:///C%3A/home/u/proj/a.py",
        "file:///C:/home/u/proj/a.py",
        "file:///c:/Users/u/proj/a.py",
        "file://c:/home/u/proj/a.py",
        "file:c:/home/u/proj/a.py",
        "file:///C%7C/home/u/proj/a.py",
        "file://server/share/home/u/proj/a.py",
    ],
)
def test_windows_drive_letters_never_map_into_a_mount(uri: str) -> None:
    m = mapper()
    assert m.to_container(uri) == uri
    assert m.to_host(uri) == uri


def test_windows_drive_letters_with_a_root_destination() -> None:
    m = mapper(Mount("/home/u/proj", "/"))
    for uri in ("file:///c%3A/home/u/proj/a.py", "file:///C:/a.py"):
        assert m.to_container(uri) == uri


# ---- globs and plain paths


@pytest.mark.parametrize(
    ("host", "container"),
    [
        ("/home/u/proj/**/*.py", "/workspace/**/*.py"),
        ("/home/u/proj/src/*.{py,pyi}", "/workspace/src/*.{py,pyi}"),
        ("/home/u/proj/vendor/lib/**", "/opt/lib/**"),
        ("/home/u/proj/[ab].py", "/workspace/[ab].py"),
        ("/home/u/proj/a?.py", "/workspace/a?.py"),
        ("/home/u/proj/setup.cfg", "/workspace/setup.cfg"),
        ("/home/u/proj", "/workspace"),
        ("/home/u/other/../proj/*.py", "/workspace/*.py"),
    ],
)
def test_absolute_globs_under_a_mount_are_mapped(host: str, container: str) -> None:
    m = mapper()
    assert m.to_container(host, "glob") == container
    assert m.to_container(host, "glob") == container  # stable


@pytest.mark.parametrize(
    "glob",
    [
        "**/*.py",
        "*.py",
        "src/**",
        "./a.py",
        "/home/u/other/**",
        "/home/u/pro*/a.py",
        "/home/u/{proj,other}/a.py",
        "/**/*.py",
        "/home/u/proj/../../../etc/*",
        "",
    ],
)
def test_relative_and_outside_globs_are_untouched(glob: str) -> None:
    m = mapper()
    assert m.to_container(glob, "glob") == glob


def test_glob_from_the_server() -> None:
    m = mapper()
    assert m.to_host("/workspace/**/*.py", "glob") == "/home/u/proj/**/*.py"
    assert m.to_host("/opt/lib/*.so", "glob") == "/home/u/proj/vendor/lib/*.so"
    assert m.to_host("/usr/lib/**", "glob") == "/usr/lib/**"
    assert m.to_host("**/*.py", "glob") == "**/*.py"


@pytest.mark.parametrize(
    ("host", "container"),
    [
        ("/home/u/proj", "/workspace"),
        ("/home/u/proj/", "/workspace"),
        ("/home/u/proj/my dir/é.py", "/workspace/my dir/é.py"),
        ("/home/u/proj/vendor/lib/a", "/opt/lib/a"),
        ("/home/u/proj/%20", "/workspace/%20"),  # a path is never percent-decoded
    ],
)
def test_path_kind(host: str, container: str) -> None:
    m = mapper()
    assert m.to_container(host, "path") == container
    assert m.to_host(container, "path") == host.rstrip("/")


@pytest.mark.parametrize("path", ["/etc/hosts", "relative/a.py", "", "/home/u/proj/../x"])
def test_path_kind_outside_is_unchanged(path: str) -> None:
    m = mapper()
    assert m.to_container(path, "path") == path
    assert m.to_host("/usr/lib/x.py", "path") == "/usr/lib/x.py"


# ---- read-only mounts and a root destination


def test_read_only_mounts_map_like_any_other() -> None:
    m = mapper()
    uri = "file:///home/u/proj/vendor/lib/pkg/__init__.py"
    assert m.to_container(uri) == "file:///opt/lib/pkg/__init__.py"
    assert mapper().to_host("file:///opt/lib/pkg/__init__.py") == uri
    assert [x.read_only for x in m.by_host] == [True, False, False]


def test_root_destination_maps_host_to_container() -> None:
    m = mapper(Mount("/home/u/proj", "/"))
    assert m.host_to_container_path("/home/u/proj/a.py") == "/a.py"
    assert m.host_to_container_path("/home/u/proj") == "/"
    assert m.to_container("file:///home/u/proj/sub/a.py") == "file:///sub/a.py"
    assert m.host_to_container_path("/home/u/other/a.py") is None


# ---- through the meta-model table, as the hub uses it


def test_publish_diagnostics_and_definition_through_urimap() -> None:
    m = mapper()
    client_uri = "file:///home/u/proj/my%20dir/%c3%a9.py"
    params: dict[str, Any] = {
        "textDocument": {
            "uri": client_uri,
            "languageId": "python",
            "version": 1,
            "text": "see file:///home/u/proj/my%20dir/%c3%a9.py",
        },
    }
    sent = urimap.map_params("textDocument/didOpen", "to_server", params, m.to_container)
    assert sent["textDocument"]["uri"] == "file:///workspace/my%20dir/%C3%A9.py"
    assert sent["textDocument"]["text"] == "see file:///home/u/proj/my%20dir/%c3%a9.py"

    rng = {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 1}}
    diags = {
        "uri": "file:///workspace/my%20dir/%C3%A9.py",
        "diagnostics": [
            {
                "range": rng,
                "message": "m",
                "relatedInformation": [
                    {
                        "location": {"uri": "file:///usr/lib/python3.11/os.py", "range": rng},
                        "message": "file:///workspace/x",
                    },
                ],
            }
        ],
    }
    back = urimap.map_params("textDocument/publishDiagnostics", "to_client", diags, m.to_host)
    assert back["uri"] == client_uri
    related = back["diagnostics"][0]["relatedInformation"][0]
    assert related["location"]["uri"] == "sero-container://sero-ws1/usr/lib/python3.11/os.py"
    assert related["message"] == "file:///workspace/x"

    result = [{"uri": "file:///opt/lib/x.py", "range": rng}]
    defs = urimap.map_result("textDocument/definition", "to_client", result, m.to_host)
    assert defs == [{"uri": "file:///home/u/proj/vendor/lib/x.py", "range": rng}]


def test_remembered_spellings_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pathmap, "MAX_REMEMBERED", 3)
    m = mapper()
    spelled = [f"file:///home/u/proj/%c3%a9{i}.py" for i in range(5)]
    for uri in spelled:
        m.to_container(uri)
    assert len(m._originals) == 3
    # the oldest two are forgotten: canonical spelling; the newest keep the client's
    assert m.to_host("file:///workspace/%C3%A90.py") == "file:///home/u/proj/%C3%A90.py"
    assert m.to_host("file:///workspace/%C3%A94.py") == spelled[4]
    # using one again keeps it: it is the most recent now
    m.to_container(spelled[2])
    m.to_container("file:///home/u/proj/other.py")
    assert m.to_host("file:///workspace/%C3%A92.py") == spelled[2]
    assert m.to_host("file:///workspace/%C3%A93.py") == "file:///home/u/proj/%C3%A93.py"
