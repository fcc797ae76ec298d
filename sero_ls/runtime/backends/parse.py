"""Parsers for every output shape of the container CLIs (see docs/containers.md).

Pure functions from CLI text to ContainerRecord / ImageRecord. Each raises
``ParseError`` with a short description when the text is not what the CLI prints,
so the caller can report ``probe-failed`` with the CLI's own output.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Callable, Iterable
from typing import Any, ParamSpec, TypeGuard, TypeVar

from sero_ls.runtime.model import ContainerRecord, ImageRecord, Mount, PortBinding

# Apple's container CLI before 1.0 wrote dates as seconds since 2001-01-01 (Foundation's epoch).
APPLE_EPOCH_OFFSET = 978307200


class ParseError(ValueError):
    pass


P = ParamSpec("P")
R = TypeVar("R")


def _guarded(parse: Callable[P, R]) -> Callable[P, R]:
    """JSON of an unexpected shape (a string where an object was due, ...) is a ParseError too."""

    @functools.wraps(parse)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return parse(*args, **kwargs)
        except ParseError:
            raise
        except (AttributeError, TypeError, KeyError, ValueError) as exc:
            name = parse.__name__.removeprefix("parse_").replace("_", " ")
            detail = f"{type(exc).__name__}: {exc}"
            raise ParseError(f"{name}: unexpected JSON shape ({detail})") from None

    return wrapper


def _json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        snippet = " ".join(text.split())[:120]
        raise ParseError(f"{what}: not JSON ({exc.msg}): {snippet!r}") from None


def _json_array(text: str, what: str) -> list[dict[str, Any]]:
    data = _json(text.strip() or "[]", what)
    if data is None:  # podman prints "null" for an empty list in some versions
        return []
    if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
        raise ParseError(f"{what}: expected a JSON array of objects")
    return data


def _json_lines(text: str, what: str) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines():
        if line.strip():
            obj = _json(line, what)
            if not isinstance(obj, dict):
                raise ParseError(f"{what}: expected one JSON object per line")
            out.append(obj)
    return out


_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_time(value: Any, *, apple_epoch: bool = False) -> dt.datetime | None:
    """ISO-8601 (with nanoseconds, 'Z' or an offset, or Go's ' +0000 UTC' form),
    Unix seconds, or (``apple_epoch``) seconds since 2001-01-01. None when absent or zero."""
    if value is None or value == "" or value == 0:
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        if value < 0:  # podman's "never" (-62135596800, Go's zero time)
            return None
        seconds = float(value) + (APPLE_EPOCH_OFFSET if apple_epoch else 0)
        try:
            return dt.datetime.fromtimestamp(seconds, dt.UTC)
        except (OverflowError, ValueError, OSError):  # NaN, out of range
            return None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.startswith("0001-01-01"):
        return None
    # Go's time.String(): "2024-05-01 10:00:00.123456789 +0000 UTC"
    go = re.fullmatch(r"(\S+) (\S+) ([+-]\d{4})(?: \S+)?", text)
    if go:
        text = f"{go.group(1)}T{go.group(2)}{go.group(3)[:3]}:{go.group(3)[3:]}"
    text = _FRACTION.sub(r"\1", text.replace("Z", "+00:00"))
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


# ---------------------------------------------------------------- Apple container


def _apple_mount_type(value: Any) -> str:
    """Apple encodes the mount type as a one-key object, e.g. ``{"virtiofs": {}}`` for a
    shared host folder (a bind mount in docker terms), ``{"volume": {...}}``, ``{"tmpfs": {}}``."""
    kind = next(iter(value), "") if isinstance(value, dict) else str(value or "")
    return "bind" if kind in ("", "virtiofs", "bind") else str(kind).lower()


@_guarded
def parse_apple_containers(text: str) -> list[ContainerRecord]:
    """`container list --all --format json` and `container inspect ID...`, 1.x and 0.x shapes."""
    return [_apple_record(obj) for obj in _json_array(text, "container list")]


def _apple_record(obj: dict[str, Any]) -> ContainerRecord:
    config = obj.get("configuration") or {}
    status = obj.get("status")
    nested = isinstance(status, dict)  # 1.x: {"status": {"state": ..., "networks": [...]}}
    if isinstance(status, dict):
        state = str(status.get("state") or "unknown")
        networks = status.get("networks") or []
        started = parse_time(status.get("startedDate"))
    else:  # 0.x: flat {"status": "running", "networks": [{"address": ...}]}
        state = str(status or "unknown")
        networks = obj.get("networks") or []
        started = parse_time(obj.get("startedDate"), apple_epoch=True)
    ip = None
    for net in networks:
        addr = net.get("ipv4Address") or net.get("address")
        if addr:
            ip = str(addr).split("/")[0]
            break
    mounts = tuple(
        Mount(
            host=str(m.get("source", "")),
            container=str(m.get("destination", "")),
            read_only="ro" in (m.get("options") or []),
            type=_apple_mount_type(m.get("type")),
        )
        for m in config.get("mounts") or []
        if m.get("source") and m.get("destination")
    )
    image = config.get("image") or {}
    ident = str(obj.get("id") or config.get("id") or "")
    if not ident:
        raise ParseError("container list: an entry has no id")
    # `creationDate` exists from 1.0.0 only; a container made before the upgrade decodes as
    # the Unix epoch (ContainerConfiguration's fallback): unknown, not "created in 1970".
    created_raw = config.get("creationDate", obj.get("creationDate"))
    return ContainerRecord(
        id=ident,
        name=ident,
        state=state,
        image=image.get("reference") if isinstance(image, dict) else str(image),
        image_id=(image.get("descriptor") or {}).get("digest") if isinstance(image, dict) else None,
        ip=ip,
        mounts=mounts,
        labels={str(k): str(v) for k, v in (config.get("labels") or {}).items()},
        created=_apple_known(parse_time(created_raw, apple_epoch=not nested)),
        started=started,
        ports=tuple(_apple_ports(config.get("publishedPorts"))),
    )


_UNIX_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _apple_known(when: dt.datetime | None) -> dt.datetime | None:
    """Apple's stand-in for "no date" is the Unix epoch (1.x decoders' fallback)."""
    return None if when is None or when <= _UNIX_EPOCH else when


def _apple_ports(ports: Any) -> Iterable[PortBinding]:
    """`configuration.publishedPorts[] = {hostAddress, hostPort, containerPort, proto,
    count}` (0.3 on; `count`, a range of consecutive ports, from 0.8). Ports are a bonus
    (for previewUrl): an entry of another shape is skipped, not a failed probe."""
    for p in ports if isinstance(ports, list) else []:
        if not isinstance(p, dict):
            continue
        host, inner, count = p.get("hostPort"), p.get("containerPort"), p.get("count", 1)
        if not (_is_int(host) and _is_int(inner) and _is_int(count)):
            continue
        for i in range(max(1, min(count, 65536))):
            yield PortBinding(
                container_port=inner + i,
                protocol=str(p.get("proto") or "tcp").lower(),
                host_ip=str(p.get("hostAddress") or "") or None,
                host_port=host + i,
            )


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


@_guarded
def parse_apple_images(text: str) -> list[ImageRecord]:
    """`container image list --format json`: 0.x `[{"reference", "descriptor"}]`, 1.x
    ImageResource (as `image inspect`)."""
    out = []
    for obj in _json_array(text, "image list"):
        if isinstance(obj.get("configuration"), dict):
            out.append(_apple_image_resource(obj))
            continue
        ref = obj.get("reference")
        desc = obj.get("descriptor") or {}
        if ref:
            out.append(ImageRecord(reference=str(ref), id=desc.get("digest"), created=None))
    return out


@_guarded
def parse_apple_image_inspect(text: str) -> list[ImageRecord]:
    """`container image inspect REF`. 0.x ImageDetail `[{"name", "index": {"digest"},
    "variants": [{"config": {"created"}}]}]`; 1.0 on ImageResource `[{"id", "configuration":
    {"name", "descriptor": {"digest"}, "creationDate"}, "variants": [{"digest", "config":
    {"created"}}]}]`. The image's build time is the newest variant's `created`."""
    out = []
    for obj in _json_array(text, "image inspect"):
        if isinstance(obj.get("configuration"), dict):
            out.append(_apple_image_resource(obj))
            continue
        name = obj.get("name") or obj.get("reference")
        if not name:
            raise ParseError("image inspect: an entry has no name")
        out.append(
            ImageRecord(
                reference=str(name),
                id=(obj.get("index") or {}).get("digest"),
                created=_newest_variant(obj.get("variants")),
            )
        )
    return out


def _apple_image_resource(obj: dict[str, Any]) -> ImageRecord:
    conf = obj["configuration"]
    name = conf.get("name")
    if not name:
        raise ParseError("image inspect: an entry has no configuration.name")
    created = _newest_variant(obj.get("variants"))
    return ImageRecord(
        reference=str(name),
        id=(conf.get("descriptor") or {}).get("digest"),
        # creationDate is the earliest variant's, or the Unix epoch when none has one
        created=created or _apple_known(parse_time(conf.get("creationDate"))),
    )


def _newest_variant(variants: Any) -> dt.datetime | None:
    created = [
        _apple_known(parse_time((v.get("config") or {}).get("created")))
        for v in variants or []
        if isinstance(v, dict)
    ]
    known = [c for c in created if c is not None]
    return max(known) if known else None


_APPLE_NOT_FOUND = re.compile(
    r"^Error: (?:notFound: "  # 0.1-0.9: `Error: notFound: "<message>"`
    r"|(?:container|image) not found: "  # 1.x inspect / image inspect
    r"|get failed: container .* not found"  # 0.10+ exec/start into a missing container
    r"|InspectError\(.*notFound: \"Image not found\")",  # 0.9-0.12 image inspect
    re.MULTILINE,
)


def apple_error_kind(stderr: str) -> str | None:
    """What an Apple CLI failure means, by its error code or message (both forms:
    `Error: <code>: "<message>"` to 0.9, `Error: <message>` from 0.10):
    `not-found`, `system-down` (no API server), `not-running` (the container), or None."""
    if "XPC connection error" in stderr:
        return "system-down"
    if _APPLE_NOT_FOUND.search(stderr):
        return "not-found"
    if re.search(r"^Error: (?:invalidState: \")?container \S+ is not running", stderr, re.M):
        return "not-running"
    return None


def parse_apple_system_status(returncode: int, stdout: str) -> tuple[str, str | None]:
    """(`running` | `not-running`, detail) from `container system status [--format json]`.

    Decided by the exit code and the JSON `status` field, never by a substring
    ("not running" contains "running")."""
    detail: str | None = None
    text = stdout.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
            detail = str(data.get("status")) if isinstance(data, dict) else None
        except json.JSONDecodeError:
            detail = None
    if returncode == 0 and detail in (None, "running"):
        return "running", detail
    return "not-running", detail or (" ".join(text.split()) or None)


# ---------------------------------------------------------------- Docker


@_guarded
def parse_docker_ps(text: str) -> list[ContainerRecord]:
    """`docker ps -a --format json`: one object per line, every value a string."""
    out = []
    for obj in _json_lines(text, "docker ps"):
        if not obj.get("ID"):
            raise ParseError("docker ps: an entry has no ID")
        labels = _split_docker_labels(str(obj.get("Labels") or ""))
        out.append(
            ContainerRecord(
                id=str(obj.get("ID") or ""),
                name=str(obj.get("Names") or "").split(",")[0],
                state=str(obj.get("State") or "unknown").lower(),
                image=str(obj.get("Image") or "") or None,
                labels=labels,
                created=parse_time(obj.get("CreatedAt")),
            )
        )
    return out


def _split_docker_labels(text: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    key = None
    for part in text.split(","):
        if "=" in part:
            key, _, value = part.partition("=")
            labels[key] = value
        elif key is not None:  # a comma inside a value
            labels[key] += "," + part
    return labels


@_guarded
def parse_inspect(text: str) -> list[ContainerRecord]:
    """`docker inspect` / `podman inspect` of containers (the same keys in both)."""
    return [_inspect_record(obj) for obj in _json_array(text, "inspect")]


def _inspect_record(obj: dict[str, Any]) -> ContainerRecord:
    state = obj.get("State") or {}
    config = obj.get("Config") or {}
    status = state.get("Status") if isinstance(state, dict) else state
    if not status and isinstance(state, dict):
        status = "running" if state.get("Running") else "stopped"
    net = obj.get("NetworkSettings") or {}
    ip = net.get("IPAddress") or None
    for n in (net.get("Networks") or {}).values():
        if isinstance(n, dict) and n.get("IPAddress"):
            ip = ip or n["IPAddress"]
    mounts = tuple(
        Mount(
            host=str(m.get("Source", "")),
            container=str(m.get("Destination", "")),
            read_only=not m.get("RW", True),
            type=str(m.get("Type") or "bind").lower(),
        )
        for m in obj.get("Mounts") or []
        if m.get("Source") and m.get("Destination")
    )
    ident = str(obj.get("Id") or obj.get("ID") or "")
    if not ident:
        raise ParseError("inspect: an entry has no Id")
    return ContainerRecord(
        id=ident,
        name=str(obj.get("Name") or ident).lstrip("/"),
        state=str(status or "unknown").lower(),
        image=obj.get("ImageName") or config.get("Image") or None,
        image_id=obj.get("Image") or None,
        ip=ip,
        mounts=mounts,
        labels={str(k): str(v) for k, v in (config.get("Labels") or {}).items()},
        created=parse_time(obj.get("Created")),
        started=parse_time(state.get("StartedAt") if isinstance(state, dict) else None),
        ports=tuple(_ports(net.get("Ports") or {})),
        env=_env_list(config.get("Env")),
        user=str(config.get("User") or "") or None,
    )


def _env_list(entries: Any) -> dict[str, str]:
    """`Config.Env` (`["K=V", ...]`) as a mapping; entries without `=` are not variables."""
    out: dict[str, str] = {}
    for entry in entries or []:
        key, sep, value = str(entry).partition("=")
        if sep and key:
            out[key] = value
    return out


def _ports(ports: dict[str, Any]) -> Iterable[PortBinding]:
    for key, bindings in ports.items():
        port, _, proto = str(key).partition("/")
        if not port.isdigit():
            continue
        for b in bindings or [None]:
            host_port = (b or {}).get("HostPort")
            yield PortBinding(
                container_port=int(port),
                protocol=proto or "tcp",
                host_ip=(b or {}).get("HostIp") or None,
                host_port=int(str(host_port)) if str(host_port or "").isdigit() else None,
            )


@_guarded
def parse_image_inspect(text: str) -> list[ImageRecord]:
    """`docker image inspect` / `podman image inspect`."""
    out = []
    for obj in _json_array(text, "image inspect"):
        tags = obj.get("RepoTags") or obj.get("Names") or []
        out.append(
            ImageRecord(
                reference=str(tags[0]) if tags else str(obj.get("Id", "")),
                id=obj.get("Id"),
                created=parse_time(obj.get("Created")),
            )
        )
    return out


# ---------------------------------------------------------------- Podman


@_guarded
def parse_podman_ps(text: str) -> list[ContainerRecord]:
    """`podman ps -a --format json`: one JSON array; Names is a list, Labels an object."""
    out = []
    for obj in _json_array(text, "podman ps"):
        if not (obj.get("Id") or obj.get("ID")):
            raise ParseError("podman ps: an entry has no Id")
        names = obj.get("Names") or []
        out.append(
            ContainerRecord(
                id=str(obj.get("Id") or obj.get("ID") or ""),
                name=str(names[0]) if names else "",
                state=str(obj.get("State") or "unknown").lower(),
                image=obj.get("Image") or None,
                image_id=obj.get("ImageID") or None,
                labels={str(k): str(v) for k, v in (obj.get("Labels") or {}).items()},
                created=parse_time(obj.get("Created")),
                ports=tuple(
                    PortBinding(
                        container_port=int(p["container_port"]),
                        protocol=str(p.get("protocol") or "tcp"),
                        host_ip=p.get("host_ip") or None,
                        host_port=int(p["host_port"]) if p.get("host_port") else None,
                    )
                    for p in obj.get("Ports") or []
                    if isinstance(p, dict) and str(p.get("container_port", "")).isdigit()
                ),
            )
        )
    return out
