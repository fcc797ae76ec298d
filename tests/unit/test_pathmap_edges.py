"""Path-mapping edge cases found by the property tests: mounts at `/`, a mount inside
another (a volume over node_modules), and `?query#fragment` kept both ways."""

from __future__ import annotations

from sero_ls.proxy.pathmap import PathMapper
from sero_ls.runtime.model import Mount

CID = "sero-ws1"


# 1. _under() drops the "/" after a root mount ("/" as container destination or host source)


def test_root_destination_container_to_host() -> None:
    m = PathMapper(CID, [Mount("/home/u/proj", "/")])
    assert m.container_to_host_path("/a.py") == "/home/u/proj/a.py"  # actual /home/u/proja.py
    assert m.to_host("file:///src/a.py") == "file:///home/u/proj/src/a.py"


def test_root_destination_round_trip_without_memory() -> None:
    m = PathMapper(CID, [Mount("/home/u/proj", "/")])
    cpath = m.host_to_container_path("/home/u/proj/src/a.py")
    assert cpath == "/src/a.py"
    assert m.container_to_host_path(cpath) == "/home/u/proj/src/a.py"


def test_root_host_source() -> None:
    m = PathMapper(CID, [Mount("/", "/host")])
    assert m.host_to_container_path("/etc/x") == "/host/etc/x"  # actual /hostetc/x
    assert m.to_container("file:///etc/x") == "file:///host/etc/x"


def test_root_destination_glob() -> None:
    m = PathMapper(CID, [Mount("/home/u/proj", "/")])
    assert m.to_container("/home/u/proj/**/*.py", "glob") == "/**/*.py"  # actual //**/*.py
    assert m.to_host("/**/*.py", "glob") == "/home/u/proj/**/*.py"


# 2. a host path is mapped into a container destination that a nested mount hides


def test_nested_mount_shadows_the_outer_one() -> None:
    # `-v proj:/workspace -v nm:/workspace/node_modules` (the usual node_modules volume)
    vol = "/var/lib/containers/storage/volumes/nm/_data"
    m = PathMapper(
        CID, [Mount("/home/u/proj", "/workspace"), Mount(vol, "/workspace/node_modules")]
    )
    # the host's own node_modules is not what the container sees at /workspace/node_modules
    assert m.host_to_container_path("/home/u/proj/node_modules/x.js") is None
    # actual: /workspace/node_modules/x.js, which maps back to vol + /x.js
    assert m.to_container("file:///home/u/proj/node_modules/x.js") == (
        "file:///home/u/proj/node_modules/x.js"
    )
    assert m.host_to_container_path("/home/u/proj/a.js") == "/workspace/a.js"


# 3. query and fragment are dropped (DocumentLink targets like file:///x.py#L10)


def test_fragment_is_kept_from_the_server() -> None:
    m = PathMapper(CID, [Mount("/home/u/proj", "/workspace")])
    assert m.to_host("file:///workspace/a.py#L10") == "file:///home/u/proj/a.py#L10"
    assert m.to_host("file:///usr/lib/a.py#L3") == "sero-container://sero-ws1/usr/lib/a.py#L3"


def test_fragment_is_kept_from_the_client() -> None:
    m = PathMapper(CID, [Mount("/home/u/proj", "/workspace")])
    assert m.to_container("file:///home/u/proj/a.py#L10") == "file:///workspace/a.py#L10"


# 4. the general property (destinations may nest, "/" allowed), without the remembered spelling

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

NAMES = ["home", "u", "proj", "w", "node_modules", "x"]
PATHS = st.lists(st.sampled_from(NAMES), max_size=3).map(lambda xs: "/" + "/".join(xs))


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.tuples(PATHS, PATHS), min_size=1, max_size=3), PATHS, st.data())
def test_every_mapped_host_path_maps_back(mounts, base, data) -> None:  # type: ignore[no-untyped-def]
    m = PathMapper(CID, [Mount(h, c) for h, c in mounts])
    src = data.draw(st.sampled_from([h for h, _ in mounts]))
    path = (src.rstrip("/") + base) if base != "/" else src
    cpath = m.host_to_container_path(path)
    if cpath is not None:  # mapped: the container must see that same file there
        assert m.container_to_host_path(cpath) == path


# 4. named volumes (and tmpfs) are storage of the runtime's own, not host folders


def test_volume_files_are_container_only() -> None:
    vol = "/var/lib/containers/storage/volumes/nm/_data"
    m = PathMapper(
        CID,
        [Mount("/home/u/proj", "/workspace"), Mount(vol, "/workspace/node_modules", type="volume")],
    )
    # a location inside the volume has no host file to open: it is served from the container
    assert (
        m.to_host("file:///workspace/node_modules/x/index.js")
        == f"sero-container://{CID}/workspace/node_modules/x/index.js"
    )
    # the volume's storage directory on the host is never taken for a workspace path
    assert m.to_container(f"file://{vol}/x/index.js") == f"file://{vol}/x/index.js"
    assert m.host_to_container_path(f"{vol}/x") is None
    # and the bind mount around it still maps
    assert m.to_host("file:///workspace/src/a.js") == "file:///home/u/proj/src/a.js"


def test_mount_types_from_each_runtime() -> None:
    from sero_ls.runtime.backends.parse import parse_apple_containers, parse_inspect

    (podman,) = parse_inspect(
        '[{"Id": "x", "State": {"Status": "running"}, "Mounts": ['
        '{"Type": "bind", "Source": "/p", "Destination": "/workspace", "RW": true},'
        '{"Type": "volume", "Source": "/v/_data", "Destination": "/workspace/nm", "RW": true}]}]'
    )
    assert [m.type for m in podman.mounts] == ["bind", "volume"]
    (apple,) = parse_apple_containers(
        '[{"id": "sero-p", "configuration": {"mounts": ['
        '{"type": {"virtiofs": {}}, "source": "/p", "destination": "/workspace", "options": []},'
        '{"type": {"volume": {"name": "nm"}}, "source": "/v", "destination": "/w/nm"}]},'
        '"status": {"state": "running"}}]'
    )
    assert [m.type for m in apple.mounts] == ["bind", "volume"]
