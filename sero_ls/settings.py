"""Settings (section `sero`, CONTRACT §6), from every source, validated key by key.

Sources, later wins: defaults, ``initializationOptions.settings``,
``workspace/configuration`` (section `sero`, scoped to the folder), the folder's
``.sero/config.toml``, the persisted ``sero/setRuntime`` toggle. An invalid value
is reported (key, problem, where) and its default applies; nothing crashes.

Of ``.sero/config.toml`` (which comes with the folder, e.g. a clone), the keys that
make sero-ls run something (``EXECUTING_KEYS``) apply only once the user trusts the
file's current content (runtime/trust.py); the other keys apply at once.
"""

from __future__ import annotations

import logging
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from cattrs.v import format_exception

from sero_ls.runtime.model import TrustInfo
from sero_ls.runtime.trust import TrustStore, content_hash

log = logging.getLogger(__name__)

CONFIG_FILE = Path(".sero") / "config.toml"
RUNTIMES = ("auto", "container", "host")
BACKENDS = ("auto", "apple", "docker", "podman")
TRACES = ("off", "messages", "verbose")


@attrs.define(kw_only=True)
class ServerConfig:
    """One language server: how to run it on the host and in the container."""

    command: list[str]
    languages: list[str] = attrs.field(factory=list)
    container_command: list[str] | None = None
    host_command: list[str] | None = None
    env: dict[str, str] = attrs.field(factory=dict)
    initialization_options: Any = None
    settings: Any = None  # answered to the server's workspace/configuration (extension)
    # The hub's order among servers of one language (lower first; default: declared order).
    priority: int | None = None
    # Features this server must not answer in the hub ("hover", "formatting", a method name).
    disabled_features: list[str] = attrs.field(factory=list)

    def __attrs_post_init__(self) -> None:
        for name in ("command", "container_command", "host_command"):
            value = getattr(self, name)
            if value is not None and (not value or not all(isinstance(a, str) for a in value)):
                raise ValueError(f"{_camel(name)} must be a non-empty list of strings")

    @property
    def in_container(self) -> list[str]:
        return self.container_command or self.command

    @property
    def on_host(self) -> list[str]:
        return self.host_command or self.command


@attrs.define(kw_only=True)
class Settings:
    runtime: Literal["auto", "container", "host"] = "auto"
    container_backend: Literal["auto", "apple", "docker", "podman"] = "auto"
    container_cli: str | None = None
    container: str | None = None
    image: str = "sero-node:latest"
    probe_timeout: float = 5.0
    servers: dict[str, ServerConfig] = attrs.field(factory=dict)
    # Extensions (docs/settings.md)
    dockerfile: str | None = None
    poll_interval: float = 2.0
    trace: Literal["off", "messages", "verbose"] = "off"  # sero_ls/trace.py
    # Dev Containers, Compose and remote engines (docs/settings.md, issue #14)
    container_context: str | None = None  # docker --context / podman --connection
    service: str | None = None  # the Compose service, when a project has several


# Every setting is one or the other (tests/unit/test_trust_store.py checks that each is listed):
# EXECUTING names a program to run or something handed to one, and from a folder's
# .sero/config.toml applies only once the user trusts the file; INERT applies at once.
# containerContext: it sends every CLI call to another engine (an ssh:// context runs ssh)
EXECUTING_KEYS = frozenset({"containerCli", "containerContext", "servers"})
INERT_KEYS = frozenset(
    {
        "runtime",
        "containerBackend",
        "container",
        "image",
        "probeTimeout",
        "dockerfile",
        "pollInterval",
        "service",
        "trace",
    }
)
# Of a server entry, everything is executing: its command lines and environment, and
# its initializationOptions/settings (which name interpreters and tools: python.pythonPath...).
EXECUTING_SERVER_KEYS = frozenset(
    {"command", "containerCommand", "hostCommand", "env", "initializationOptions", "settings"}
)
# (These only order and filter the entry's own answers; the whole entry waits for trust.)
INERT_SERVER_KEYS = frozenset({"languages", "priority", "disabledFeatures"})


@attrs.frozen
class SettingsProblem:
    key: str
    message: str
    source: str  # "initializationOptions" | "workspace/configuration" | ".sero/config.toml" | ...
    line: int | None = None  # 0-based, in .sero/config.toml
    severity: Literal["error", "warning"] = "error"


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.capitalize() for p in rest)


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True)

    def strict_float(value: Any, _: type) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"expected a number, got {value!r}")
        return float(value)

    def strict_str(value: Any, _: type) -> str:
        if not isinstance(value, str):
            raise ValueError(f"expected a string, got {value!r}")
        return value

    def strict_str_list(value: Any, _: type) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"expected a list of strings, got {value!r}")
        return list(value)

    def strict_str_dict(value: Any, _: type) -> dict[str, str]:
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise ValueError(f"expected a table of strings, got {value!r}")
        return dict(value)

    conv.register_structure_hook_func(lambda t: t == list[str], strict_str_list)
    conv.register_structure_hook_func(lambda t: t == dict[str, str], strict_str_dict)
    conv.register_structure_hook(float, strict_float)
    conv.register_structure_hook(str, strict_str)
    for cls in (ServerConfig, Settings):
        renames = {a.name: override(rename=_camel(a.name)) for a in attrs.fields(cls)}
        conv.register_structure_hook(
            cls,
            make_dict_structure_fn(cls, conv, _cattrs_forbid_extra_keys=True, **renames),  # type: ignore[arg-type]
        )
        conv.register_unstructure_hook(cls, make_dict_unstructure_fn(cls, conv, **renames))  # type: ignore[arg-type]
    return conv


CONVERTER = _make_converter()
FIELDS = {_camel(a.name): a for a in attrs.fields(Settings)}


def _validate_value(key: str, value: Any) -> Any:
    """The structured value of one setting, or ValueError saying what is wrong."""
    attr = FIELDS[key]
    if value is None:
        if attr.default is None:
            return None
        raise ValueError("must not be null")
    if key == "runtime" and value not in RUNTIMES:
        raise ValueError(f"must be one of {', '.join(RUNTIMES)}, not {value!r}")
    if key == "containerBackend" and value not in BACKENDS:
        raise ValueError(f"must be one of {', '.join(BACKENDS)}, not {value!r}")
    if key == "trace" and value not in TRACES:
        raise ValueError(f"must be one of {', '.join(TRACES)}, not {value!r}")
    if key == "servers":
        if not isinstance(value, Mapping):
            raise ValueError("must be a table of servers, {id: {command = [...], ...}}")
        return value  # entries are validated one by one in merge()
    try:
        structured = CONVERTER.structure(value, attr.type)  # type: ignore[arg-type]
    except Exception as exc:
        raise ValueError(_explain(exc)) from None
    if key in ("image", "container", "service") and structured.startswith("-"):
        # Passed to the CLIs as a name (`image inspect <image>`): never as an option.
        raise ValueError(f"must be a name, not an option: {value!r}")
    if key in ("probeTimeout", "pollInterval") and not 0 < structured <= 600:
        raise ValueError(f"must be a number of seconds between 0 and 600, not {value!r}")
    return structured


def _explain(exc: BaseException) -> str:
    if isinstance(exc, cattrs.BaseValidationError):
        return "; ".join(cattrs.transform_error(exc, format_exception=_format_exception))
    return str(exc)


def _format_exception(exc: BaseException, type_: Any) -> str:
    """cattrs' wording, except that our own checks say what they found."""
    if isinstance(exc, ValueError) and str(exc):
        return str(exc)
    return format_exception(exc, type_)


def _server(sid: str, conf: Any) -> ServerConfig:
    try:
        server: ServerConfig = CONVERTER.structure(conf, ServerConfig)
    except Exception as exc:  # cattrs' errors carry the nested path
        raise ValueError(f"server {sid!r}: {_explain(exc)}") from None
    return server


def merge(
    layers: list[tuple[str, Mapping[str, Any] | None]],
) -> tuple[Settings, list[SettingsProblem]]:
    """Merge raw setting layers (name, dict) in order; later wins, key by key.

    An invalid value is a problem and leaves the earlier (or default) value in place."""
    values: dict[str, Any] = {}
    problems: list[SettingsProblem] = []
    for source, layer in layers:
        if not layer:
            continue
        if not isinstance(layer, Mapping):
            problems.append(SettingsProblem("sero", "settings must be an object", source))
            continue
        for key, raw in layer.items():
            if key not in FIELDS:
                problems.append(
                    SettingsProblem(key, f"unknown setting {key!r}", source, severity="warning")
                )
                continue
            try:
                value = _validate_value(key, raw)
            except ValueError as exc:
                problems.append(SettingsProblem(key, f"{key}: {exc}", source))
                continue
            if key != "servers":
                values[FIELDS[key].name] = value
                continue
            # Server by server: a bad entry is dropped alone; a later layer wins per id.
            servers = values.setdefault("servers", {})
            for sid, conf in value.items():
                try:
                    servers[str(sid)] = _server(str(sid), conf)
                except ValueError as exc:
                    problems.append(SettingsProblem(f"servers.{sid}", f"servers: {exc}", source))
    return Settings(**values), problems


def read_config_toml(
    folder: Path,
) -> tuple[dict[str, Any] | None, list[SettingsProblem], str, str | None]:
    """The folder's `.sero/config.toml` as a raw dict (top level or a [sero] table), its
    problems, its text and the sha256 of its bytes (read once: what is hashed is parsed)."""
    path = folder / CONFIG_FILE
    try:
        data = path.read_bytes()
        text = data.decode("utf-8").replace("\r\n", "\n")
    except FileNotFoundError:
        return None, [], "", None
    except (OSError, UnicodeDecodeError) as exc:
        problem = SettingsProblem("sero", f"cannot read {path}: {exc}", str(CONFIG_FILE))
        return None, [problem], "", None
    sha256 = content_hash(data)
    try:
        parsed = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        line = int(m.group(1)) - 1 if m else 0
        problem = SettingsProblem("sero", f"invalid TOML: {exc}", str(CONFIG_FILE), line)
        return None, [problem], text, sha256
    table = parsed.get("sero", parsed) if isinstance(parsed.get("sero"), dict) else parsed
    return table, [], text, sha256


def executing_entries(table: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """The (dotted key, value) pairs of a config table that make sero-ls run something."""
    out: list[tuple[str, Any]] = []
    for key, value in table.items():
        if key not in EXECUTING_KEYS:
            continue
        if key != "servers" or not isinstance(value, Mapping):
            out.append((key, value))
            continue
        for sid, conf in value.items():
            entries = [
                (f"servers.{sid}.{k}", v)
                for k, v in (conf.items() if isinstance(conf, Mapping) else [])
                if k in EXECUTING_SERVER_KEYS
            ]
            out += entries or [(f"servers.{sid}", conf)]
    return out


def _held_back(
    folder: Path, table: dict[str, Any], text: str, sha256: str, store: TrustStore
) -> tuple[dict[str, Any], TrustInfo | None]:
    """The table without its executing keys unless the folder trusts this content."""
    entries = executing_entries(table)
    if not entries:
        return table, None
    trusted = store.trusted_hash(folder)
    info = TrustInfo(
        state="trusted" if trusted == sha256 else "untrusted",
        config=str(folder / CONFIG_FILE),
        sha256=sha256,
        ignored=[] if trusted == sha256 else [k for k, _ in entries],
        changed=trusted is not None and trusted != sha256,
        line=_entry_line(text, entries[0][0]),
    )
    if info.state == "trusted":
        return table, info
    return {k: v for k, v in table.items() if k not in EXECUTING_KEYS}, info


def key_line(text: str, key: str) -> int | None:
    """0-based line where ``key = ...`` appears in a TOML text (for diagnostics)."""
    pattern = re.compile(
        rf"^\s*(?:\"{re.escape(key)}\"|{re.escape(key)})\s*=|^\s*\[(?:sero\.)?{re.escape(key)}[.\]]"
    )
    for i, line in enumerate(text.splitlines()):
        if pattern.search(line):
            return i
    return None


def folder_settings(
    folder: Path,
    *,
    init_settings: Mapping[str, Any] | None = None,
    client_settings: Mapping[str, Any] | None = None,
    toggle: str | None = None,
) -> tuple[Settings, list[SettingsProblem]]:
    settings, problems, _ = load_folder(
        folder, init_settings=init_settings, client_settings=client_settings, toggle=toggle
    )
    return settings, problems


def load_folder(
    folder: Path,
    *,
    init_settings: Mapping[str, Any] | None = None,
    client_settings: Mapping[str, Any] | None = None,
    toggle: str | None = None,
    trust: TrustStore | None = None,
) -> tuple[Settings, list[SettingsProblem], TrustInfo | None]:
    """The folder's settings, their problems, and the trust of its config (None: the
    file names nothing to run)."""
    toml, toml_problems, text, sha256 = read_config_toml(folder)
    info = None
    if toml is not None and sha256 is not None:
        toml, info = _held_back(folder, toml, text, sha256, trust or TrustStore())
    layers: list[tuple[str, Mapping[str, Any] | None]] = [
        ("initializationOptions", init_settings),
        ("workspace/configuration", client_settings),
        (str(CONFIG_FILE), toml),
    ]
    if toggle is not None:
        layers.append(("sero/setRuntime", {"runtime": toggle}))
    settings, problems = merge(layers)
    located = [
        attrs.evolve(p, line=_problem_line(text, p.key)) if p.source == str(CONFIG_FILE) else p
        for p in problems
    ]
    return settings, toml_problems + located, info


def _entry_line(text: str, key: str) -> int:
    """The line of a dotted key (`servers.py.command`: that line of its [servers.py] table)."""
    table, _, last = key.rpartition(".")
    start = key_line(text, table) if table else None
    if start is not None:
        rest = text.splitlines()[start + 1 :]
        for i, line in enumerate(rest):
            if line.lstrip().startswith("["):
                break
            if key_line(line, last) is not None:
                return start + 1 + i
    return _problem_line(text, key)


def _problem_line(text: str, key: str) -> int:
    """The line of `key` (`servers.<id>`: its table, else the `servers` key), else the first."""
    for candidate in (key, key.split(".", 1)[0]):
        line = key_line(text, candidate)
        if line is not None:
            return line
    return 0


def settings_from_init_options(options: Any) -> Mapping[str, Any] | None:
    """Accept the shapes editors send: {settings: {...}}, {sero: {...}}, or the settings."""
    if not isinstance(options, Mapping):
        return None
    for key in ("settings", "sero"):
        inner = options.get(key)
        if isinstance(inner, Mapping):
            nested = inner.get("sero")
            return nested if isinstance(nested, Mapping) else inner
    return options
