"""Apple's `container` CLI (releases 0.x and 1.x)."""

from __future__ import annotations

from sero_ls.runtime.backends.base import Backend, SystemProbe
from sero_ls.runtime.backends.parse import (
    apple_error_kind,
    parse_apple_containers,
    parse_apple_image_inspect,
    parse_apple_system_status,
)
from sero_ls.runtime.invoke import ProbeError, ProbeTimeout
from sero_ls.runtime.model import ContainerRecord, ImageRecord

APPLE_CLI = "/usr/local/bin/container"


class AppleBackend(Backend):
    name = "apple"
    has_init = False  # `container run` has no --init (apple/container#1225)
    install_hint = f"Apple's container CLI (at {APPLE_CLI})"
    # Apple installs to /usr/local/bin; a `container` on PATH is accepted too.
    default_cli = (APPLE_CLI, "container")

    async def system(self) -> SystemProbe:
        # Not `container --help`: it pings the API server for up to 10 s first.
        try:
            result = await self.run("system", "status", "--format", "json")
            if result.returncode == 64:  # before 0.10.0 there was no --format
                result = await self.run("system", "status")
        except ProbeTimeout:
            # Registered but silent: Apple's CLI pings for 10 s (ClientHealthCheck.ping) and
            # then says "apiserver is not running"; probeTimeout is usually shorter.
            return SystemProbe(
                "not-running",
                f"`{self.cmd('system', 'status')}` did not answer within {self.timeout:g} s: "
                "the API server is registered but does not respond",
            )
        state, detail = parse_apple_system_status(result.returncode, result.stdout)
        if state == "running":
            return SystemProbe("running", detail)
        return SystemProbe("not-running", result.error_text() if result.stderr.strip() else detail)

    async def containers(self) -> list[ContainerRecord]:
        result = await self.run("list", "--all", "--format", "json")
        if not result.ok:
            raise ProbeError(f"`{self.cmd('list', '--all')}` failed: {result.error_text()}")
        return self._parsed(result, parse_apple_containers)

    async def inspect(self, container: str) -> ContainerRecord | None:
        result = await self.run("inspect", container)
        if not result.ok:  # 1.x: not found, exit 1 (0.x prints [] with exit 0)
            if apple_error_kind(result.stderr) == "not-found":
                return None
            raise ProbeError(f"`{self.cmd('inspect', container)}` failed: {result.error_text()}")
        found = self._parsed(result, parse_apple_containers)
        return found[0] if found else None

    async def image(self, reference: str) -> ImageRecord | None:
        # `image inspect`, not `image list`: only inspect carries the build time (staleness).
        result = await self.run("image", "inspect", reference)
        if not result.ok:
            if apple_error_kind(result.stderr) == "not-found":
                return None
            raise ProbeError(
                f"`{self.cmd('image', 'inspect', reference)}` failed: {result.error_text()}"
            )
        found = self._parsed(result, parse_apple_image_inspect)
        return found[0] if found else None

    def remedy_system(self) -> list[str]:
        return [self.cmd("system", "start"), self.cmd("system", "status")]

    def remedy_install(self) -> list[str]:
        # Sero's own setup checks, once Apple's installer has put the CLI in place.
        return [f"{APPLE_CLI} --help", f"{APPLE_CLI} system status"]

    def remove_args(self, container: str) -> list[str]:
        return ["delete", "--force", container]
