"""A real Docker engine (dockerd, from Debian's docker.io) and the real docker CLI, for the
docker backend's tests.

dockerd runs on this kind of machine (seen here: docker.io 20.10 with its own containerd
and runc, cgroupfs, the default bridge with published ports through docker-proxy). The
fixture starts one per test session on a socket, data root and exec root of its own
(`--iptables=false`, a bridge of its own on a random 172.31.x.0/24, so that a system
dockerd and its docker0 are never touched), and stops it by its own process id at the
end; sero-ls under test reaches it through DOCKER_HOST (or a docker context).

No registry is reachable: the image is imported from a busybox root (`docker import`),
with a `vscode` user for the Dev Container tests; the host's /usr, /lib and /lib64 are
bind-mounted read-only where a container needs Python (pylsp, http.server). The
workspace's own host path is not mounted, so path mapping is really needed.
"""

from __future__ import annotations

import io
import os
import random
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

START_DEADLINE = 60.0
IMAGE = "sero-dk-test:latest"
APPLETS = ("sh", "sleep", "ls", "cat", "mkdir", "pwd", "env", "echo", "test", "true", "rm",
           "id", "ps", "kill", "grep", "cut", "printf", "touch", "stat")  # fmt: skip
REMOTE_UID = 4321  # the image's `vscode` user (a uid no host account is likely to have)
HOST_LIBS = ("/usr", "/lib", "/lib64")


class DockerError(RuntimeError):
    pass


@dataclass
class Dockerd:
    cli: str
    root: Path
    bridge: str = ""
    subnet: str = ""  # the bridge's network, e.g. 172.31.7.0/24
    proc: subprocess.Popen[bytes] | None = None
    version: str = ""
    env: dict[str, str] = field(default_factory=dict)  # DOCKER_HOST (and DOCKER_CONFIG)

    @property
    def socket(self) -> Path:
        return self.root / "docker.sock"

    def run(
        self, *args: str, check: bool = True, timeout: float = 60.0, input: bytes | None = None
    ) -> str:
        """`docker ARGS...` against this engine; its stdout."""
        proc = subprocess.run(
            [self.cli, *args], capture_output=True, env={**os.environ, **self.env},
            timeout=timeout, check=False, input=input,
        )  # fmt: skip
        if check and proc.returncode != 0:
            err = proc.stderr.decode(errors="replace").strip()
            raise DockerError(f"docker {' '.join(args)}: exit {proc.returncode}: {err}")
        return proc.stdout.decode(errors="replace")

    def import_image(self, ref: str = IMAGE) -> str:
        """A busybox image with a `vscode` user; re-importing makes a new image (a rebuild)."""
        self.run("import", "--change", "ENV PATH=/usr/local/bin:/usr/bin:/bin",
                 "-", ref, input=busybox_tar())  # fmt: skip
        return ref

    def create(
        self,
        name: str,
        workspace: Path,
        *,
        dest: str = "/workspace",
        labels: Mapping[str, str] | None = None,
        image: str = IMAGE,
        python: bool = True,
        network: str | None = "none",
        publish: Sequence[str] = (),
        command: Sequence[str] = ("sleep", "1000000"),
        env: Mapping[str, str] | None = None,
    ) -> str:
        """`docker run -d` with the workspace at ``dest`` (and the host's Python when asked)."""
        argv = ["run", "-d", "--name", name, "-v", f"{workspace}:{dest}", "-w", dest]
        if python:
            for lib in HOST_LIBS:
                if os.path.isdir(lib):
                    argv += ["-v", f"{lib}:{lib}:ro"]
        if network:
            argv += ["--network", network]
        for spec in publish:
            if not spec.startswith("127.0.0.1:"):
                raise ValueError(f"publish on 127.0.0.1 only, got {spec!r}")
            argv += ["-p", spec]
        for key, value in (labels or {}).items():
            argv += ["--label", f"{key}={value}"]
        for key, value in (env or {}).items():
            argv += ["-e", f"{key}={value}"]
        return self.run(*argv, image, *command).strip()

    def exec_(self, name: str, *argv: str, user: str | None = None) -> str:
        return self.run("exec", *(["-u", user] if user else []), name, *argv)

    def write_file(self, name: str, path: str, text: str) -> None:
        """A file that exists only inside the container (its own layer)."""
        script = 'mkdir -p "${1%/*}" && cat > "$1"'
        self.run("exec", "-i", name, "sh", "-c", script, "sh", path, input=text.encode())


def busybox_tar() -> bytes:
    busybox = shutil.which("busybox") or "/bin/busybox"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:

        def folder(path: str, mode: int = 0o755, uid: int = 0) -> None:
            info = tarfile.TarInfo(path)
            info.type, info.mode, info.uid, info.gid = tarfile.DIRTYPE, mode, uid, uid
            tar.addfile(info)

        def text(path: str, content: str) -> None:
            data = content.encode()
            info = tarfile.TarInfo(path)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))

        for path in ("bin", "etc", "workspace", "workspaces", "home", "root", "opt", "proc"):
            folder(path)
        folder("tmp", 0o1777)
        folder("home/vscode", 0o755, REMOTE_UID)
        text("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"
             f"vscode:x:{REMOTE_UID}:{REMOTE_UID}:vscode:/home/vscode:/bin/sh\n")  # fmt: skip
        text("etc/group", f"root:x:0:\nvscode:x:{REMOTE_UID}:\n")
        # the remote user's login profile: what a userEnvProbe must find
        text("home/vscode/.profile", 'export SERO_PROFILE=login\necho "profile noise"\n')
        tar.add(busybox, arcname="bin/busybox")
        for applet in APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
    return buf.getvalue()


def docker_cli() -> str | None:
    return shutil.which("docker")


def dockerd_bin() -> str | None:
    return shutil.which("dockerd") or (
        "/usr/sbin/dockerd" if os.access("/usr/sbin/dockerd", os.X_OK) else None
    )


def start(cli: str, daemon: str) -> Dockerd:
    """Start dockerd on a root of its own; wait (with a deadline) until it answers."""
    root = Path(tempfile.mkdtemp(prefix="sero-dockerd-"))
    (root / "config").mkdir()
    third = random.randrange(1, 255)
    d = Dockerd(cli=cli, root=root, bridge=f"serodk{os.getpid() % 100000}",
                subnet=f"172.31.{third}.0/24")  # fmt: skip
    d.env = {"DOCKER_HOST": f"unix://{d.socket}", "DOCKER_CONFIG": str(root / "config")}
    try:
        _ip("link", "add", d.bridge, "type", "bridge")
        _ip("addr", "add", f"172.31.{third}.1/24", "dev", d.bridge)
        _ip("link", "set", d.bridge, "up")
        _launch(d, daemon)
    except BaseException:
        stop(d)
        raise
    return d


def _launch(d: Dockerd, daemon: str) -> None:
    log = open(d.root / "dockerd.log", "wb")  # the daemon's own log, kept open for it
    root = d.root
    d.proc = subprocess.Popen(
        [daemon, "--data-root", str(root / "data"), "--exec-root", str(root / "exec"),
         "--pidfile", str(root / "dockerd.pid"), "-H", f"unix://{d.socket}",
         "--iptables=false", "--ip-masq=false", "--bridge", d.bridge],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + START_DEADLINE
    last = ""
    while time.monotonic() < deadline:
        if d.proc.poll() is not None:
            raise DockerError(f"dockerd exited: {tail(root)}")
        if d.socket.exists():
            try:
                fmt = "{{.Client.Version}} {{.Server.Version}}"
                d.version = d.run("version", "--format", fmt, timeout=10).strip()
                return
            except (DockerError, subprocess.TimeoutExpired) as exc:
                last = str(exc)
        time.sleep(0.1)  # polling for the socket; bounded by the deadline
    raise DockerError(f"dockerd did not answer within {START_DEADLINE:g} s: {last} {tail(root)}")


def stop(d: Dockerd) -> None:
    """Remove every container, then end the daemon this fixture started (its pid only)."""
    if d.proc is not None and d.proc.poll() is None:
        ids = d.run("ps", "-aq", check=False).split()
        if ids:
            d.run("rm", "-f", *ids, check=False)
        d.proc.send_signal(signal.SIGTERM)
        try:
            d.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            d.proc.kill()
            d.proc.wait(timeout=15)
    subprocess.run(["umount", "-R", str(d.root / "data")], capture_output=True, check=False)
    shutil.rmtree(d.root, ignore_errors=True)
    if d.bridge:
        _ip("link", "delete", d.bridge, check=False)


def _ip(*args: str, check: bool = True) -> None:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=False)
    if check and proc.returncode != 0:
        raise DockerError(f"ip {' '.join(args)}: {proc.stderr.strip()}")


def tail(root: Path) -> str:
    try:
        return (root / "dockerd.log").read_text(errors="replace")[-800:]
    except OSError:
        return ""
