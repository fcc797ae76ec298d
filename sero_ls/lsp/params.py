"""The checks of custom requests' params and commands' arguments: one home, one wording
of the InvalidParams errors an editor gets."""

from __future__ import annotations

from typing import Any

from pygls.exceptions import JsonRpcInvalidParams


def param(params: Any, key: str, kind: type | tuple[type, ...], *, required: bool = False) -> Any:
    """One field of a custom request's params, or InvalidParams saying what is wrong."""
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise JsonRpcInvalidParams(f"params must be an object, not {type(params).__name__}")
    value = params.get(key)
    if value is None:
        if required:
            raise JsonRpcInvalidParams(f"missing required parameter {key!r}")
        return None
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise JsonRpcInvalidParams(f"{key!r} must be {_kind_name(kind)}, not a boolean")
    if not isinstance(value, kind):
        raise JsonRpcInvalidParams(f"{key!r} must be {_kind_name(kind)}, not {value!r:.60}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        list: "a list",
        dict: "an object",
    }
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def uri_arg(args: tuple[Any, ...], index: int = 0) -> str | None:
    """A command's folder URI argument (a string, or {"uri"|"folderUri": ...}); None if absent."""
    if len(args) <= index or args[index] is None:
        return None
    value = args[index]
    if isinstance(value, dict):  # some clients pass {"uri": ...}
        value = value.get("uri") or value.get("folderUri")
    if not isinstance(value, str):
        raise JsonRpcInvalidParams(f"argument {index + 1} must be a folder URI string")
    return value
