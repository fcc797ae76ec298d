"""The eleven capabilities of CONTRACT §3 and which runtime each needs."""

from __future__ import annotations

from sero_ls.runtime.model import Capability, Mode

CONTAINER_ONLY: dict[str, str] = {
    "workspace-exec": "containerized workspace execution",
    "language-servers": "containerized tooling and language servers",
    "browser-automation": "browser automation",
    "managed-preview": "managed preview/dev-server URLs on the container IP",
    "container-networking": "Linux/container networking semantics",
    "isolation": "container isolation",
}
EVERYWHERE: dict[str, str] = {
    "onboarding": "onboarding and provider setup",
    "agent-chat": "core agent chat and coding tasks",
    "file-editing": "file browsing and editing",
    "host-shell": "general host-shell development",
    "host-dev-server": "a normal host dev server",
}
DESCRIPTIONS = {**CONTAINER_ONLY, **EVERYWHERE}


def capabilities_for(mode: Mode, reason: str | None) -> list[Capability]:
    caps = [
        Capability(
            id=cid,
            available=mode == "container",
            requires="container",
            reason=None if mode == "container" else (reason or "runtime-host-selected"),
        )
        for cid in CONTAINER_ONLY
    ]
    caps += [Capability(id=cid, available=True, requires="any") for cid in EVERYWHERE]
    return caps


def unavailable(caps: list[Capability]) -> list[str]:
    return [c.id for c in caps if not c.available]
