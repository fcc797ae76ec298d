"""Which language servers to run for a folder: from the `servers` setting (hub) or
from the command line (wrapper mode)."""

from __future__ import annotations

from typing import Any

import attrs

from sero_ls.settings import ServerConfig

ANY_LANGUAGE = "*"


@attrs.frozen
class ServerSpec:
    id: str
    languages: tuple[str, ...]
    host_argv: tuple[str, ...]
    container_argv: tuple[str, ...]
    env: dict[str, str] = attrs.field(factory=dict)
    initialization_options: Any = None
    settings: Any = None
    # Wrapper mode: the client's initialize params (initializationOptions included) are
    # the server's own; pass them through instead of the hub's.
    passthrough: bool = False
    priority: int | None = None
    disabled_features: tuple[str, ...] = ()

    def disabled(self, names: set[str]) -> bool:
        """Whether a `disabledFeatures` entry names one of ``names`` (see policies.feature_of)."""
        return bool(names.intersection(self.disabled_features))

    def handles(self, language_id: str | None) -> bool:
        return ANY_LANGUAGE in self.languages or (language_id in self.languages)


def from_settings(servers: dict[str, ServerConfig]) -> list[ServerSpec]:
    return [
        ServerSpec(
            id=sid,
            languages=tuple(conf.languages) or (ANY_LANGUAGE,),
            host_argv=tuple(conf.on_host),
            container_argv=tuple(conf.in_container),
            env=dict(conf.env),
            initialization_options=conf.initialization_options,
            settings=conf.settings,
            priority=conf.priority,
            disabled_features=tuple(conf.disabled_features),
        )
        for sid, conf in servers.items()
    ]


def for_wrapper(name: str, argv: list[str]) -> ServerSpec:
    return ServerSpec(
        id=name,
        languages=(ANY_LANGUAGE,),
        host_argv=tuple(argv),
        container_argv=tuple(argv),
        passthrough=True,
    )


# For documents the client has not opened (no languageId), a guess from the extension.
EXTENSION_LANGUAGE = {
    ".py": "python", ".pyi": "python", ".js": "javascript", ".mjs": "javascript",
    ".cjs": "javascript", ".jsx": "javascriptreact", ".ts": "typescript", ".mts": "typescript",
    ".cts": "typescript", ".tsx": "typescriptreact", ".json": "json", ".rs": "rust",
    ".go": "go", ".c": "c", ".h": "c", ".cpp": "cpp", ".hpp": "cpp", ".cc": "cpp",
    ".java": "java", ".rb": "ruby", ".lua": "lua", ".sh": "shellscript", ".css": "css",
    ".html": "html", ".md": "markdown", ".toml": "toml", ".yaml": "yaml", ".yml": "yaml",
}  # fmt: skip


def guess_language(uri: str) -> str | None:
    dot = uri.rfind(".")
    if dot < 0 or "/" in uri[dot:]:
        return None
    return EXTENSION_LANGUAGE.get(uri[dot:].lower())
