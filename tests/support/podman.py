"""Real podman containers for tests, on this kind of machine.

The product talks to runtimes with plain ``podman``/``docker``/``container``
commands. Only test fixtures need the adjustments below (see
/work/shared/containers.md, "A real container runtime on this kind of machine"):

* the hard RLIMIT_NOFILE/NPROC here are below podman's defaults: pass lower
  ``--ulimit`` values;
* cgroups are hybrid v1+v2 and crun refuses that: ``podman run`` and
  ``podman start`` run inside a private mount namespace where the v2 hierarchy
  is unmounted, with ``--cgroups=disabled``. A plain ``podman start`` fails here
  ("cgroups in hybrid mode not supported"), so :func:`start` uses the same
  namespace; ``podman exec/stop/rm/inspect`` work from anywhere;
* no registry is reachable: the host's ``/`` is the rootfs, as an overlay
  (``--rootfs /:O``), or a busybox image made with ``podman import``;
* the host's copy of the workspace is visible inside (the rootfs is the host's
  ``/``): it is deleted inside, which only writes a whiteout into the
  container's overlay layer.

Every call is an argv list with a timeout. Only the standard library is used,
so the Apple ``container`` stand-in (tests/fixtures/bin/container) imports this
module too.
"""

from __future__ import annotations

import functools
import io
import json
import os
import resource
import shutil
import subprocess
import tarfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

PODMAN = "podman"
TEST_PREFIX = "sero-test-"
OWNER_LABEL = "ai.sero.test.owner-pid"
WORKSPACE_LABEL = "ai.sero.workspacePath"
BUSYBOX_REF = "localhost/sero-node:latest"
BUSYBOX_APPLETS = ("sh", "sleep", "ls", "cat", "mkdir", "pwd", "env", "echo", "test", "true", "rm")
NETNS_DIR = "/run/netns"
TIMEOUT = 60.0
UNOWNED_GRACE_S = 3600.0

# Runs "$@" in the new mount namespace with the cgroup v2 hierarchy unmounted.
# The unified mount is made private first, so its unmounting never propagates
# back to the host when / is a shared mount; the other mounts keep their
# propagation, so the network namespaces podman mounts under /run/netns (a
# shared bind mount, see ensure_netns_shared) stay visible outside.
_PRIVATE_NS_SCRIPT = (
    'u=/sys/fs/cgroup/unified; if mountpoint -q "$u"; then '
    'mount --make-private "$u" && umount "$u" || exit 125; fi; exec "$@"'
)


PathArg = str | os.PathLike[str]
# (source, destination) or (source, destination, "ro")
MountSpec = tuple[PathArg, str] | tuple[PathArg, str, str]


class PodmanError(RuntimeError):
    """A podman command failed; the message holds the command and its stderr."""


@dataclass(frozen=True)
class Container:
    name: str
    id: str
    workspace: Path
    dest: str


def run(
    argv: Sequence[str],
    *,
    input: str | None = None,
    timeout: float = TIMEOUT,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run argv, capture text output; raise PodmanError on failure when check."""
    try:
        proc = subprocess.run(
            list(argv), input=input, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:
        raise PodmanError(f"timed out after {timeout} s: {list(argv)}") from exc
    if check and proc.returncode != 0:
        raise PodmanError(
            f"exit {proc.returncode}: {list(argv)}\n{proc.stderr.strip() or proc.stdout.strip()}"
        )
    return proc


def in_private_ns(argv: Sequence[str]) -> list[str]:
    """argv wrapped to run in a private mount namespace without cgroup v2."""
    return ["unshare", "-m", "--propagation", "unchanged", "sh", "-c", _PRIVATE_NS_SCRIPT, "sh",
            *argv]


def _limit(which: int, cap: int) -> int:
    hard = resource.getrlimit(which)[1]
    return cap if hard == resource.RLIM_INFINITY else min(hard, cap)


def run_flags() -> list[str]:
    """The flags every fixture `podman run` needs here (ulimits, no cgroups)."""
    nofile = _limit(resource.RLIMIT_NOFILE, 1_048_576)
    nproc = _limit(resource.RLIMIT_NPROC, 32_768)
    return [
        "--ulimit", f"nofile={nofile}:{nofile}",
        "--ulimit", f"nproc={nproc}:{nproc}",
        "--cgroups=disabled",
    ]


def netns_is_shared() -> bool:
    proc = run(["findmnt", "-n", "-o", "PROPAGATION", "--mountpoint", NETNS_DIR], check=False)
    return proc.returncode == 0 and "shared" in proc.stdout


def ensure_netns_shared() -> None:
    """Make /run/netns a shared bind mount (idempotent; same as scripts/setup.d/10-podman.sh)."""
    if netns_is_shared():
        return
    os.makedirs(NETNS_DIR, exist_ok=True)
    mounted = run(["findmnt", "-n", "--mountpoint", NETNS_DIR], check=False).returncode == 0
    if not mounted:
        run(["mount", "--bind", NETNS_DIR, NETNS_DIR])
    run(["mount", "--make-shared", NETNS_DIR])


@functools.cache
def podman_ok() -> str | None:
    """None when real containers can run here, else the reason (cached per process)."""
    for tool in (PODMAN, "unshare", "mountpoint", "findmnt"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (run: bash scripts/setup --test)"
    try:
        info = run([PODMAN, "info", "--format", "json"], timeout=30, check=False)
        if info.returncode != 0:
            return f"`podman info` failed: {info.stderr.strip()}"
        smoke = run(
            in_private_ns([PODMAN, "run", "--rm", *run_flags(), "--network", "none",
                           "--rootfs", "/:O", "true"]),
            timeout=60,
            check=False,
        )
    except PodmanError as exc:
        return str(exc)
    if smoke.returncode != 0:
        return f"a smoke container did not run: {smoke.stderr.strip()}"
    return None


def _mount_flag(source: PathArg, dest: str, options: str = "") -> list[str]:
    src = os.fspath(source)
    if ":" in src or ":" in dest:
        spec = f"type=bind,source={src},destination={dest}"
        return ["--mount", spec + (",ro" if options == "ro" else "")]
    return ["-v", f"{src}:{dest}" + (f":{options}" if options else "")]


def create_workspace_container(
    name: str,
    workspace: Path,
    *,
    dest: str = "/workspace",
    label: bool = True,
    hide_host_copy: bool = True,
    extra_mounts: Sequence[MountSpec] = (),
    image: str | None = None,
    network: str | None = "none",
    publish: Sequence[str] = (),
    command: Sequence[str] = ("sleep", "infinity"),
    labels: Mapping[str, str] | None = None,
    workdir: str | None = None,
    init: bool = False,
) -> Container:
    """Create and start a container with `workspace` mounted at `dest`.

    The rootfs is the host's / as an overlay unless `image` is given. `network`
    None means podman's default bridge (then /run/netns is made shared first);
    `publish` entries are `-p` values and must bind 127.0.0.1. `extra_mounts`
    are (source, destination[, "ro"]) tuples; `labels` are added to the
    workspace label and the owner label used to clean up after dead sessions.
    """
    if hide_host_copy and image is None:
        _refuse_hiding_a_mount(workspace, [dest, *(m[1] for m in extra_mounts)])
    argv = [PODMAN, "run", "-d", "--name", name, *run_flags(), *(["--init"] if init else [])]
    if network is None:
        ensure_netns_shared()
    else:
        argv += ["--network", network]
    for spec in publish:
        if not spec.startswith("127.0.0.1:"):
            raise ValueError(f"publish on 127.0.0.1 only, got {spec!r}")
        argv += ["-p", spec]
    argv += _mount_flag(workspace, dest)
    for mount in extra_mounts:
        argv += _mount_flag(*mount)
    argv += ["-w", workdir or dest]
    all_labels = {OWNER_LABEL: str(os.getpid())}
    if label:
        all_labels[WORKSPACE_LABEL] = os.fspath(workspace)
    all_labels.update(labels or {})
    for key, value in all_labels.items():
        argv += ["--label", f"{key}={value}"]
    argv += [image] if image else ["--rootfs", "/:O"]
    argv += list(command)
    cid = run(in_private_ns(argv)).stdout.strip().splitlines()[-1]
    container = Container(name=name, id=cid, workspace=Path(workspace), dest=dest)
    if hide_host_copy and image is None:
        hide_path(name, os.fspath(workspace))
    return container


def _refuse_hiding_a_mount(workspace: PathArg, destinations: Sequence[str]) -> None:
    """Deleting the host path inside must never reach a bind mount of real files."""
    ws = PurePosixPath(os.fspath(workspace))
    for dest in destinations:
        target = PurePosixPath(dest)
        if target == ws or target in ws.parents or ws in target.parents:
            raise ValueError(
                f"hide_host_copy would delete {ws} inside, which overlaps the mount at {dest}: "
                "pass hide_host_copy=False"
            )


def hide_path(name: str, path: str) -> None:
    """Delete `path` inside an overlay-rootfs container (a whiteout; the host keeps it)."""
    run([PODMAN, "exec", name, "rm", "-rf", "--", path])
    if exec_(name, ["test", "!", "-e", path]).returncode != 0:
        raise PodmanError(f"{path} is still visible inside {name}")


def expose_rootfs(name: str) -> None:
    """`podman mount` the container's root in the host's mount namespace.

    The fixtures create containers in a private mount namespace, so the root podman
    mounted for them is not visible here; `podman exec -u NAME` looks NAME up in that
    root's /etc/passwd and fails ("no matching entries in passwd file") until it is.
    Write what the test needs inside first: two overlay mounts of one upper layer do not
    mix, so a copy-up inside after this can fail (seen here: mkdir under /opt, ENOENT)."""
    run([PODMAN, "mount", name])


def start(name: str) -> None:
    run(in_private_ns([PODMAN, "start", name]))


def stop(name: str) -> None:
    run([PODMAN, "stop", "-t", "0", name])


def remove(name: str) -> None:
    run([PODMAN, "rm", "-f", "-t", "0", name])


def exec_(
    name: str,
    argv: Sequence[str],
    *,
    input: str | None = None,
    workdir: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    """`podman exec` (with -i when input is given); never raises on exit status."""
    cmd = [PODMAN, "exec"]
    if input is not None:
        cmd.append("-i")
    if workdir:
        cmd += ["-w", workdir]
    for key, value in (env or {}).items():
        cmd += ["-e", f"{key}={value}"]
    return run([*cmd, name, *argv], input=input, timeout=timeout, check=False)


def write_file_in_container(name: str, path: str, text: str) -> None:
    """Write a file that exists only inside the container (its overlay layer)."""
    script = 'd=${1%/*}; [ -z "$d" ] || mkdir -p "$d" && cat > "$1"'
    proc = exec_(name, ["sh", "-c", script, "sh", path], input=text)
    if proc.returncode != 0:
        raise PodmanError(f"writing {path} in {name} failed: {proc.stderr.strip()}")


def inspect(name: str) -> dict[str, object]:
    data = json.loads(run([PODMAN, "container", "inspect", name]).stdout)
    if not isinstance(data, list) or not data or not isinstance(data[0], dict):
        raise PodmanError(f"unexpected inspect output for {name}")
    return data[0]


def state(name: str) -> str:
    argv = [PODMAN, "container", "inspect", "--format", "{{.State.Status}}", name]
    return run(argv).stdout.strip()


def exists(name: str) -> bool:
    return run([PODMAN, "container", "exists", name], check=False).returncode == 0


def image_exists(ref: str) -> bool:
    return run([PODMAN, "image", "exists", ref], check=False).returncode == 0


def import_busybox_image(ref: str = BUSYBOX_REF, *, force: bool = False) -> str:
    """Make `ref` a real image from the host's static busybox; returns the image id.

    Idempotent: an existing image is kept unless `force`, which re-imports it
    (a new image with a new creation time, as after a rebuild).
    """
    if not force and image_exists(ref):
        return run([PODMAN, "image", "inspect", "--format", "{{.Id}}", ref]).stdout.strip()
    busybox = shutil.which("busybox") or "/bin/busybox"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for folder in ("bin", "tmp", "workspace"):
            info = tarfile.TarInfo(folder)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if folder == "tmp" else 0o755
            tar.addfile(info)
        tar.add(busybox, arcname="bin/busybox")
        for applet in BUSYBOX_APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
    proc = subprocess.run(
        [PODMAN, "import", "--change", "ENV=PATH=/bin", "-", ref],
        input=buf.getvalue(), capture_output=True, timeout=TIMEOUT, check=False,
    )
    if proc.returncode != 0:
        raise PodmanError(f"podman import {ref} failed: {proc.stderr.decode(errors='replace')}")
    return proc.stdout.decode().strip().splitlines()[-1]


def processes_in_container(name: str) -> list[str]:
    """Command lines of every process in the container's PID namespace.

    Read from the host's /proc (no exec, which would show up itself), so it
    works for any image and sees orphans left by a killed `podman exec`.
    """
    pid = run([PODMAN, "container", "inspect", "--format", "{{.State.Pid}}", name]).stdout.strip()
    if pid in ("", "0"):
        return []
    try:
        target = os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return []
    found: list[str] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{entry}/ns/pid") != target:
                continue
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                raw = fh.read()
        except OSError:
            continue
        if raw:
            parts = raw.rstrip(b"\0").split(b"\0")
            found.append(" ".join(p.decode(errors="replace") for p in parts))
    return found


def list_names(prefix: str = TEST_PREFIX) -> list[str]:
    out = run([PODMAN, "ps", "-a", "--format", "{{.Names}}"]).stdout
    return [n for n in out.split() if n.startswith(prefix)]


def remove_orphaned_test_containers(prefix: str = TEST_PREFIX) -> list[str]:
    """Remove `prefix*` containers whose creating process is gone (never another live session's)."""
    removed = []
    for name in list_names(prefix):
        proc = run([PODMAN, "container", "inspect", "--format",
                    f'{{{{index .Config.Labels "{OWNER_LABEL}"}}}}', name], check=False)
        if proc.returncode != 0:
            continue
        owner = proc.stdout.strip()
        if owner.isdigit() and _pid_alive(int(owner)):
            continue
        if not owner.isdigit() and not _older_than(name, UNOWNED_GRACE_S):
            continue  # made by someone else's helper: leave it to them for a while
        run([PODMAN, "rm", "-f", "-t", "0", name], check=False)
        removed.append(name)
    return removed


def remove_owned_test_containers(pid: int | None = None) -> list[str]:
    """Remove every container this process (or `pid`) created, whatever its name."""
    owner = os.getpid() if pid is None else pid
    out = run([PODMAN, "ps", "-a", "--filter", f"label={OWNER_LABEL}={owner}",
               "--format", "{{.Names}}"], check=False).stdout
    names = out.split()
    for name in names:
        run([PODMAN, "rm", "-f", "-t", "0", name], check=False)
    return names


def _older_than(name: str, seconds: float) -> bool:
    proc = run([PODMAN, "container", "inspect", "--format", "{{.Created.Unix}}", name], check=False)
    created = proc.stdout.strip()
    return proc.returncode == 0 and created.isdigit() and time.time() - int(created) > seconds


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
