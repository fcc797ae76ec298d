"""Settings (section `sero`, CONTRACT §6), from every source, validated key by key.

Sources, later wins: defaults, ``initializationOptions.settings``,
``workspace/configuration`` (section `sero`, scoped to the folder), the folder's
``.sero/config.toml``, the persisted ``sero/setRuntime`` toggle. An invalid value
is reported (key, problem, where) and its default applies; nothing crashes.
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


def read_config_toml(folder: Path) -> tuple[dict[str, Any] | None, list[SettingsProblem], str]:
    """The folder's `.sero/config.toml` as a raw dict (top level or a [sero] table)."""
    path = folder / CONFIG_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [], ""
    except (OSError, UnicodeDecodeError) as exc:
        return None, [SettingsProblem("sero", f"cannot read {path}: {exc}", str(CONFIG_FILE))], ""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        line = int(m.group(1)) - 1 if m else 0
        return None, [SettingsProblem("sero", f"invalid TOML: {exc}", str(CONFIG_FILE), line)], text
    table = data.get("sero", data) if isinstance(data.get("sero"), dict) else data
    return table, [], text


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
    toml, toml_problems, text = read_config_toml(folder)
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
    return settings, toml_problems + located


def _problem_line(text: str, key: str) -> int:
    """The line of `key` (`servers.<id>`: its table, else the `servers` key), else the first."""
    for candidate in (key, key.split(".", 1)[0]):
        line = key_line(text, candidate)
        if line is not None:
            return line
    return 0
