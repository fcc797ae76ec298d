"""What Apple's `container` CLI prints, release family by release family.

One table of facts, read from apple/container and apple/containerization at the
tags named in tests/fixtures/recorded/README.md, shared by the fixture writer
(tests/fixtures/recorded/synthesize.py) and the stand-in (tests/fixtures/bin/container),
so that the recorded files and the stand-in's output cannot drift apart.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any

APPLE_EPOCH = 978307200  # 2001-01-01T00:00:00Z as Unix time (Foundation's reference date)
XPC = "XPC connection error: Connection invalid"
HINT = "Ensure container system service has been started with `container system start`."
INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json"


@dataclass(frozen=True)
class Release:
    """One release family, known by the tag its facts were read at; each fact below is
    the release that brought it."""

    family: str
    version: str

    def since(self, version: str) -> bool:
        def key(v: str) -> tuple[int, ...]:
            return tuple(int(x) for x in v.split("."))

        return key(self.version) >= key(version)

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])

    # 1.0: ManagedContainer {"id", "configuration", "status": {...}}, Output.renderJSON's
    # .iso8601 dates (before: seconds since 2001), ContainerConfiguration.creationDate,
    # `inspect` of a missing container throws, ImageResource for image inspect/list
    nested = iso_dates = creation_date = inspect_missing_fails = image_resource = property(
        lambda self: self.since("1.0.0"))
    # 0.8: Attachment.ipv4Address (before: `address`), PrintableContainer.startedDate,
    # PublishPort.count
    ipv4_address = started_date = port_count = property(lambda self: self.since("0.8.0"))
    # 0.10: `system status --format`; containerization 0.26's LocalizedError (the message
    # alone is printed)
    status_format = message_errors = property(lambda self: self.since("0.10.0"))


RELEASES: dict[str, Release] = {
    family: Release(family, version)
    for family, version in (("0.5", "0.5.0"), ("0.9", "0.9.0"), ("0.12", "0.12.3"),
                            ("1.2", "1.2.2"))
}
# The older SERO_FAKE_APPLE_SHAPE values name a family each.
SHAPE_RELEASE = {"0": "0.12", "1": "1.2"}


def release(name: str) -> Release:
    """A family by name (`0.5`, `0.9`, `0.12`, `1.2`) or by any version in it (`0.10.0`)."""
    if name in RELEASES:
        return RELEASES[name]
    parts = name.split(".")
    if parts[0] == "1":
        return RELEASES["1.2"]
    minor = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else -1
    for family, lo, hi in (("0.5", 1, 7), ("0.9", 8, 9), ("0.12", 10, 12)):
        if parts[0] == "0" and lo <= minor <= hi:
            return RELEASES[family]
    raise ValueError(f"unknown Apple container release {name!r}: one of {sorted(RELEASES)}")


# ---------------------------------------------------------------- errors


def error(rel: Release, code: str, message: str) -> str:
    """What swift-argument-parser prints for `throw ContainerizationError(code, message)`.

    Before 0.10 the error's description, `<code>: "<message>"`; from 0.10 it is a
    LocalizedError and the message alone is printed."""
    return f"Error: {message}" if rel.message_errors else f'Error: {code}: "{message}"'


def xpc_error(rel: Release) -> str:
    """The API server is not there: Application.swift wraps the XPC error with the hint."""
    inner = f'interrupted: "{XPC}"'
    return error(rel, "interrupted", f"{inner}\n{HINT}")


def inspect_missing(rel: Release, names: list[str]) -> str | None:
    """stderr of `inspect` naming missing containers (None: 0.x prints what it found)."""
    if not rel.inspect_missing_fails:
        return None
    return error(rel, "notFound", f"container not found: {', '.join(sorted(names))}")


def get_missing(rel: Release, name: str) -> str:
    """`exec`/`start` of a missing container (ContainerClient.get)."""
    return error(rel, "notFound", f"get failed: container {name} not found")


def not_running(rel: Release, name: str) -> str:
    """`exec` into a stopped container (ProcessUtils.ensureRunning)."""
    return error(rel, "invalidState", f"container {name} is not running")


def image_missing(rel: Release, refs: list[str]) -> str:
    """`image inspect` of references that are not there."""
    if rel.image_resource:
        return error(rel, "notFound", f"image not found: {', '.join(sorted(refs))}")
    if rel.family == "0.5":
        return error(rel, "notFound", "Images: " + "\n".join(refs))
    # 0.9-0.12: a log line per image (its wording differs by release and is not matched on),
    # then InspectError, which has no description: Swift prints the struct.
    failed = ", ".join(f'("{r}", notFound: "Image not found")' for r in refs)
    if rel.message_errors:  # 0.12.3: log.error("image inspect failed", metadata: ...)
        logs = [f'image inspect failed: ["name": {r}, "error": Image not found]' for r in refs]
    else:  # 0.9: "\(name): \(error.localizedDescription)", no LocalizedError yet
        logs = [f"{r}: The operation couldn\u2019t be completed. (ContainerizationError."
                "ContainerizationError error 1.)" for r in refs]
    return "\n".join([*logs, f"Error: InspectError(succeeded: [], failed: [{failed}])"])


# ---------------------------------------------------------------- JSON


def date(rel: Release, when: dt.datetime | None) -> str | float | None:
    if when is None:
        return None
    if rel.iso_dates:
        return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return round(when.timestamp() - APPLE_EPOCH, 6)


def attachment(rel: Release, network: str, hostname: str, cidr: str, gateway: str,
               mac: str | None = None) -> dict[str, Any]:
    if not rel.ipv4_address:
        return {"network": network, "hostname": hostname, "address": cidr, "gateway": gateway}
    out: dict[str, Any] = {"network": network, "hostname": hostname, "ipv4Address": cidr,
                           "ipv4Gateway": gateway}
    if mac:
        out["macAddress"] = mac
    return out


def published_port(rel: Release, host_address: str, host_port: int, container_port: int,
                   proto: str = "tcp", count: int = 1) -> dict[str, Any]:
    out: dict[str, Any] = {"hostAddress": host_address, "hostPort": host_port,
                           "containerPort": container_port, "proto": proto}
    if rel.port_count:
        out["count"] = count
    return out


def container(rel: Release, configuration: dict[str, Any], created: dt.datetime | None,
              state: str, networks: list[dict[str, Any]],
              started: dt.datetime | None) -> dict[str, Any]:
    """One entry of `list --format json` / `inspect`, in this family's shape."""
    conf = dict(configuration)
    if rel.creation_date:
        # A container made before the upgrade to 1.x decodes as the Unix epoch.
        conf["creationDate"] = date(rel, created or dt.datetime(1970, 1, 1, tzinfo=dt.UTC))
    if rel.nested:
        return {"id": conf["id"], "configuration": conf,
                "status": {"state": state, "networks": networks,
                           "startedDate": date(rel, started)}}
    out: dict[str, Any] = {"status": state, "configuration": conf, "networks": networks}
    if rel.started_date:
        out["startedDate"] = date(rel, started)
    return out


def image(rel: Release, reference: str, digest: str, size: int,
          variants: list[dict[str, Any]]) -> dict[str, Any]:
    """One entry of `image inspect`: 0.x ImageDetail, 1.x ImageResource.

    `variants`: [{"platform", "digest", "size", "config": {"created", ...}}]."""
    index = {"mediaType": INDEX_MEDIA_TYPE, "digest": digest, "size": size}
    if not rel.image_resource:
        return {"name": reference, "index": index,
                "variants": [{"platform": v["platform"], "config": v["config"],
                              "size": v["size"]} for v in variants]}
    created = [v["config"].get("created") for v in variants if v["config"].get("created")]
    return {"id": digest.split(":", 1)[-1],
            # the earliest variant's date, with .iso8601 (whole seconds); else the epoch
            "configuration": {"name": reference, "descriptor": index,
                              "creationDate": re.sub(r"\.\d+", "", min(created)) if created
                              else "1970-01-01T00:00:00Z"},
            "variants": variants}


def image_list_entry(rel: Release, reference: str, digest: str, size: int,
                     variants: list[dict[str, Any]]) -> dict[str, Any]:
    """One entry of `image list --format json`."""
    if rel.image_resource:
        return image(rel, reference, digest, size, variants)
    return {"reference": reference,
            "descriptor": {"mediaType": INDEX_MEDIA_TYPE, "digest": digest, "size": size}}


# ---------------------------------------------------------------- system status


def status_payload(status: str, info: dict[str, Any] | None = None) -> dict[str, Any]:
    """SystemStatus.PrintableStatus: every key, empty strings when not running; the
    optional logRoot is left out when nil (JSONEncoder's encodeIfPresent)."""
    out: dict[str, Any] = {"status": status, "appRoot": "", "installRoot": "",
                           "apiServerVersion": "", "apiServerCommit": "",
                           "apiServerBuild": "", "apiServerAppName": ""}
    out.update(info or {})
    return {k: v for k, v in out.items() if v is not None}


def status_json(rel: Release, payload: dict[str, Any]) -> str:
    """0.10-0.12: JSONEncoder() (declaration order); 1.x: sorted keys."""
    return swift_json(rel, payload)


def swift_json(rel: Release, value: Any, pretty: bool = False) -> str:
    """Foundation's JSONEncoder text: `/` escaped as `\\/`, non-ASCII as is; 1.x sorts keys
    (JSONOptions.compact / .pretty) and pretty-prints `inspect` and `image inspect`
    (2-space indent, `"key" : value`)."""
    if pretty:
        text = json.dumps(value, ensure_ascii=False, sort_keys=rel.iso_dates, indent=2,
                          separators=(",", " : "))
    else:
        text = json.dumps(value, ensure_ascii=False, sort_keys=rel.iso_dates,
                          separators=(",", ":"))
    return text.replace("/", "\\/")


def status_text(rel: Release, status: str, info: dict[str, Any] | None = None) -> str:
    """Plain `system status`."""
    if status == "unregistered":
        return "apiserver is not running and not registered with launchd"
    if status != "running":
        return "apiserver is not running"
    info = info or {}
    if not rel.status_format:  # 0.5-0.9: lines of prose
        return "\n".join([
            "apiserver is running",
            f"application data root: {info.get('appRoot', '')}",
            f"application install root: {info.get('installRoot', '')}",
            f"container-apiserver version: {info.get('apiServerVersion', '')}",
            f"container-apiserver commit: {info.get('apiServerCommit', '')}",
        ])
    rows = [("FIELD", "VALUE"), ("status", status), ("appRoot", info.get("appRoot", "")),
            ("installRoot", info.get("installRoot", "")), ("logRoot", info.get("logRoot") or ""),
            ("apiserver.version", info.get("apiServerVersion", "")),
            ("apiserver.commit", info.get("apiServerCommit", "")),
            ("apiserver.build", info.get("apiServerBuild", "")),
            ("apiserver.appName", info.get("apiServerAppName", ""))]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(width)}  {v}".rstrip() for k, v in rows)


def unknown_option(command: str, option: str) -> str:
    """swift-argument-parser's usage error (exit 64), e.g. `--format` before 0.10."""
    return (f"Error: Unknown option '{option}'\nUsage: container {command} [<options>]\n"
            f"  See 'container {command} --help' for more information.")
