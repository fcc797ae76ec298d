"""Reading a file inside a container through its runtime (for `sero-container:` URIs)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sero_ls.runtime.backends import Backend

log = logging.getLogger(__name__)

MAX_FILE = 16 * 1024 * 1024


class ContainerFileError(Exception):
    pass


async def read_container_file(
    backend: Backend, container: str, path: str, *, limit: int = MAX_FILE, deadline: float = 15.0
) -> str:
    """The text of ``path`` in ``container``; ContainerFileError with a clear message else."""
    argv = backend.exec_argv(container, ["cat", "--", path], interactive=False)
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        raise ContainerFileError(f"cannot run {argv[0]}: {exc.strerror or exc}") from exc
    assert proc.stdout and proc.stderr
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(deadline):
            while True:
                chunk = await proc.stdout.read(65536)
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    raise ContainerFileError(
                        f"{path} in {container} is larger than {limit // (1024 * 1024)} MiB"
                    )
                chunks.append(chunk)
            err = await proc.stderr.read()
            code = await proc.wait()
    except TimeoutError:
        raise ContainerFileError(
            f"reading {path} in {container} took over {deadline:g} s"
        ) from None
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
    if code != 0:
        text = " ".join(err.decode("utf-8", "replace").split())[:300]
        raise ContainerFileError(f"cannot read {path} in {container}: {text or f'exit {code}'}")
    return b"".join(chunks).decode("utf-8", "replace")
