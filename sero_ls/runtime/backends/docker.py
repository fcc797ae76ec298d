"""Docker and Podman: the same commands, different `ps` JSON shapes."""

from __future__ import annotations

from typing import ClassVar

from sero_ls.runtime.backends.base import Backend, SystemProbe, on_macos
from sero_ls.runtime.backends.parse import (
    parse_docker_ps,
    parse_image_inspect,
    parse_inspect,
    parse_podman_ps,
)
from sero_ls.runtime.invoke import ProbeError
from sero_ls.runtime.model import ContainerRecord, ImageRecord


class DockerBackend(Backend):
    name = "docker"
    install_hint = "Docker"
    default_cli = ("docker",)
    context_flag = "--context"  # docker --context NAME (docs: docker context)

    def parse_ps(self, text: str) -> list[ContainerRecord]:
        return parse_docker_ps(text)

    # `ps -a` answers "does the engine run?" as well as `info` (both need the daemon, or
    # Podman's storage) at a fraction of the cost (`podman info` gathers host facts: ~180 ms
    # against ~20 ms), and a round of resolution needs the listing anyway: one call for both.
    PS: ClassVar[tuple[str, ...]] = ("ps", "-a", "--no-trunc", "--format", "json")

    async def system(self) -> SystemProbe:
        result = await self.run(*self.PS)
        if result.ok:
            return SystemProbe("running")
        return SystemProbe("not-running", result.error_text())

    async def containers(self) -> list[ContainerRecord]:
        ps = await self.run(*self.PS)
        if not ps.ok:
            raise ProbeError(f"`{self.cmd('ps', '-a')}` failed: {ps.error_text()}")
        listed = self._parsed(ps, self.parse_ps)
        if not listed:
            return []
        # ps does not carry mount sources (docker) or IPs: inspect them all in one call.
        result = await self.run("inspect", "--type", "container", *[c.id for c in listed])
        if not result.ok and not result.stdout.strip().startswith("["):
            raise ProbeError(f"`{self.cmd('inspect')}` failed: {result.error_text()}")
        # A container removed between ps and inspect is simply absent from the answer.
        return self._parsed(result, parse_inspect)

    async def inspect(self, container: str) -> ContainerRecord | None:
        result = await self.run("inspect", "--type", "container", container)
        if not result.ok:
            if _not_found(result.error_text()):
                return None
            raise ProbeError(f"`{self.cmd('inspect', container)}` failed: {result.error_text()}")
        found = self._parsed(result, parse_inspect)
        return found[0] if found else None

    async def image(self, reference: str) -> ImageRecord | None:
        result = await self.run("image", "inspect", reference)
        if not result.ok:
            text = result.error_text()
            if _not_found(text):
                return None
            raise ProbeError(f"`{self.cmd('image', 'inspect', reference)}` failed: {text}")
        images = self._parsed(result, parse_image_inspect)
        return images[0] if images else None

    def remedy_system(self) -> list[str]:
        if on_macos():
            return ["open -a Docker"]
        return ["sudo systemctl start docker"]

    def remedy_install(self) -> list[str]:
        return ["brew install --cask docker"] if on_macos() else ["sudo apt-get install docker.io"]


class PodmanBackend(DockerBackend):
    name = "podman"
    install_hint = "Podman"
    default_cli = ("podman",)
    context_flag = "--connection"  # podman --connection NAME (podman system connection)

    def parse_ps(self, text: str) -> list[ContainerRecord]:
        return parse_podman_ps(text)

    def remedy_system(self) -> list[str]:
        if on_macos():
            return ["podman machine start"]
        return ["podman info", "systemctl --user start podman.socket"]

    def remedy_install(self) -> list[str]:
        return ["brew install podman"] if on_macos() else ["sudo apt-get install podman"]


def _not_found(error: str) -> bool:
    """docker: `No such object`/`No such image`; podman: `no such object`, `image not known`."""
    text = error.lower()
    return "no such" in text or "not known" in text or "not found" in text
