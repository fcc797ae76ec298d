"""Dev Containers (containers.dev): what a container made by the Dev Containers tooling asks
for, read from its labels; and the folder's own `devcontainer.json` when it has no container.

The Dev Containers CLI (`devcontainer up`) and VS Code label the container with
`devcontainer.local_folder` (the host folder), `devcontainer.config_file` and
`devcontainer.metadata`: a JSON array of objects (the image's, each feature's, then
devcontainer.json's) merged in order as the spec's "merge logic" says: `remoteUser`,
`containerUser` and `userEnvProbe` last value wins; `remoteEnv` and `containerEnv` per
variable, last value wins. Tools run as `remoteUser` (default `containerUser`, default the
container's own user) with `remoteEnv` on top of the environment the `userEnvProbe` finds.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Mapping
from typing import Any

import attrs

from sero_ls.runtime.model import ContainerRecord

LOCAL_FOLDER_LABEL = "devcontainer.local_folder"
CONFIG_FILE_LABEL = "devcontainer.config_file"
METADATA_LABEL = "devcontainer.metadata"
# Where the Dev Containers CLI looks for a folder's configuration (first found wins).
CONFIG_CANDIDATES = (".devcontainer/devcontainer.json", ".devcontainer.json")
PROBE_KINDS = ("none", "loginShell", "interactiveShell", "loginInteractiveShell")
DEFAULT_PROBE = "loginInteractiveShell"  # the spec's default for userEnvProbe
# Set by the shell itself or meaningless for another process: never passed on from a probe.
PROBE_SKIP = frozenset({"PWD", "OLDPWD", "SHLVL", "_", "HOSTNAME", "TERM", "PS1", "LINES",
                        "COLUMNS"})  # fmt: skip


@attrs.frozen
class Metadata:
    remote_user: str | None = None
    container_user: str | None = None
    user_env_probe: str | None = None
    remote_env: dict[str, str | None] = attrs.field(factory=dict)
    container_env: dict[str, str] = attrs.field(factory=dict)
    problem: str | None = None  # the label was there but not valid

    @property
    def user(self) -> str | None:
        return self.remote_user or self.container_user


def is_devcontainer(c: ContainerRecord) -> bool:
    return LOCAL_FOLDER_LABEL in c.labels or METADATA_LABEL in c.labels


def merge_metadata(label: str | None) -> Metadata:
    """The `devcontainer.metadata` label merged in order (an object alone counts as [object])."""
    if not label:
        return Metadata()
    try:
        data = json.loads(label)
    except json.JSONDecodeError as exc:
        return Metadata(problem=f"{METADATA_LABEL} is not JSON ({exc.msg})")
    entries = data if isinstance(data, list) else [data]
    users: dict[str, str] = {}
    remote_env: dict[str, str | None] = {}
    container_env: dict[str, str] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        for key in ("remoteUser", "containerUser", "userEnvProbe"):
            if isinstance(entry.get(key), str) and entry[key]:
                users[key] = entry[key]
        remote_env.update(_env_object(entry.get("remoteEnv"), allow_null=True))
        container_env.update(
            {k: v for k, v in _env_object(entry.get("containerEnv")).items() if v is not None}
        )
    probe = users.get("userEnvProbe")
    return Metadata(
        remote_user=users.get("remoteUser"),
        container_user=users.get("containerUser"),
        user_env_probe=probe if probe in PROBE_KINDS else None,
        remote_env=remote_env,
        container_env=container_env,
    )


def _env_object(value: Any, *, allow_null: bool = False) -> dict[str, str | None]:
    """`{"K": "V"}`; a null value (remoteEnv only) unsets K; other types are not variables."""
    if not isinstance(value, dict):
        return {}
    out: dict[str, str | None] = {}
    for key, v in value.items():
        if isinstance(v, str):
            out[str(key)] = v
        elif v is None and allow_null:
            out[str(key)] = None
    return out


_CONTAINER_ENV = re.compile(r"\$\{containerEnv:([^}:]+)(?::([^}]*))?\}")


def substitute(value: str, container_env: Mapping[str, str]) -> str:
    """`${containerEnv:VAR}` and `${containerEnv:VAR:default}` from the container's environment
    (remoteEnv is applied at exec time, after the container exists: the spec's variables)."""
    return _CONTAINER_ENV.sub(lambda m: container_env.get(m.group(1), m.group(2) or ""), value)


def exec_identity(
    c: ContainerRecord, meta: Metadata, probed: Mapping[str, str] | None = None
) -> tuple[str | None, dict[str, str]]:
    """(user, env) for every exec into a Dev Container: remoteUser (else containerUser, else
    the container's default: None), and the probed environment with remoteEnv over it."""
    env: dict[str, str] = {k: v for k, v in (probed or {}).items() if k not in PROBE_SKIP}
    for key, value in meta.remote_env.items():
        if value is None:
            env.pop(key, None)
        else:  # ${containerEnv:X}: the container's own environment (Config.Env)
            env[key] = substitute(value, c.env)
    return meta.user, env


def probe_kind(meta: Metadata) -> str:
    return meta.user_env_probe or DEFAULT_PROBE


# The probe runs the user's login shell (from the passwd database inside) the way the kind
# says and prints its environment between markers, so that a chatty profile is ignored.
PROBE_MARK = "-SERO-ENV-7f3a-"
_PROBE_FLAGS = {"loginShell": "-lc", "interactiveShell": "-ic", "loginInteractiveShell": "-lic"}


def probe_argv(kind: str) -> list[str] | None:
    """The command (run with `exec -u USER`) that prints the probed environment, or None."""
    flags = _PROBE_FLAGS.get(kind)
    if flags is None:
        return None
    inner = f"printf %s {PROBE_MARK}; cat /proc/self/environ; printf %s {PROBE_MARK}"
    script = (
        's=$( (getent passwd "$(id -u)" || grep "^$(id -un):" /etc/passwd) 2>/dev/null '
        '| cut -d: -f7); [ -x "$s" ] || s=/bin/sh; exec "$s" ' + flags + " " + shlex.quote(inner)
    )
    return ["sh", "-c", script]


def parse_probe(stdout: str) -> dict[str, str] | None:
    """The NUL-separated environment between the markers (None when they are not there)."""
    parts = stdout.split(PROBE_MARK)
    if len(parts) < 3:
        return None
    env: dict[str, str] = {}
    for entry in parts[-2].split("\0"):
        key, sep, value = entry.partition("=")
        if sep and key:
            env[key] = value
    return env


# ---------------------------------------------------------------- the folder's own config


def find_config(folder: str) -> str | None:
    """The folder's devcontainer.json (`.devcontainer/devcontainer.json`, `.devcontainer.json`)."""
    for rel in CONFIG_CANDIDATES:
        path = os.path.join(folder, rel)
        if os.path.isfile(path):
            return path
    return None


def up_command(folder: str, backend: str | None, cli: str | None) -> list[str]:
    """`devcontainer up --workspace-folder <folder>` (with `--docker-path` for podman, which the
    Dev Containers CLI does not pick by itself)."""
    argv = ["devcontainer", "up", "--workspace-folder", folder]
    if backend == "podman":
        argv += ["--docker-path", os.path.basename(cli or "podman")]
    return argv


_JSONC_TOKEN = re.compile(r'"(?:\\.|[^"\\])*"|//[^\n]*|/\*.*?\*/', re.S)
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")


def read_config(path: str) -> dict[str, Any] | None:
    """devcontainer.json (JSON with comments and trailing commas), None when unreadable."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError):
        return None
    text = _JSONC_TOKEN.sub(lambda m: m.group(0) if m.group(0).startswith('"') else " ", text)
    text = _TRAILING_COMMA.sub(r"\1", text)
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def config_dockerfile(config_path: str) -> str | None:
    """The Dockerfile devcontainer.json builds its image from (`build.dockerfile`, or the old
    top-level `dockerFile`), relative to the config's folder; None for an image or Compose."""
    data = read_config(config_path)
    if data is None:
        return None
    build = data.get("build")
    name = build.get("dockerfile") if isinstance(build, dict) else None
    name = name or data.get("dockerFile")
    if not isinstance(name, str) or not name:
        return None
    return os.path.normpath(os.path.join(os.path.dirname(config_path), name))
