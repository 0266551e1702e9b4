"""The table as data (`rows()`, which `mssql-mcp config`, `.env.example` and the README table are made from), and
`load_settings()`: the environment over the `.env` file over the defaults, each value parsed by its row's type."""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from dotenv import dotenv_values

from mssql_mcp.errors import ConfigError
from mssql_mcp.settings.fields import Secret
from mssql_mcp.settings.model import Settings


@dataclass(frozen=True)
class Row:
    name: str
    env: str
    type_name: str
    default: Any
    help: str
    group: str
    secret: bool


_HINTS = typing.get_type_hints(Settings)


def rows() -> Iterator[Row]:
    for f in dataclasses.fields(Settings):
        yield Row(
            name=f.name,
            env=f.metadata["env"],
            type_name=_type_name(_HINTS[f.name]),
            default=f.default,
            help=f.metadata["help"],
            group=f.metadata["group"],
            secret=f.metadata["secret"],
        )


def env_name(field_name: str) -> str:
    return next(r.env for r in rows() if r.name == field_name)


# --------------------------------------------------------------------------------------------
# Loading

_TRUE = {"1", "true", "yes", "on", "y", "t"}
_FALSE = {"0", "false", "no", "off", "n", "f", ""}


def load_settings(
    environ: Mapping[str, str] | None = None, env_file: Path | None = Path(".env"), **overrides: Any
) -> Settings:
    """Settings from `environ` (default: os.environ) over the `.env` file, over the defaults.

    `overrides` are field values that win over both (the CLI's flags use them). A bad value raises
    ConfigError naming the variable.
    """
    source: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        source.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    source.update(os.environ if environ is None else environ)
    values: dict[str, Any] = {}
    for row in rows():
        if row.name in overrides:
            values[row.name] = overrides.pop(row.name)
        elif row.env in source:
            values[row.name] = _parse(row.env, source[row.env], _HINTS[row.name])
    if overrides:
        raise TypeError(f"unknown settings: {sorted(overrides)}")
    return Settings(**values)


def _parse(env: str, raw: str, hint: Any) -> Any:
    raw = raw.strip()
    origin, args = get_origin(hint), get_args(hint)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        if raw == "":
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _parse(env, raw, inner)
    try:
        if hint is bool:
            low = raw.lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            raise ValueError("expected true/false (or yes/no, 1/0)")
        if hint is int:
            return int(raw)
        if hint is float:
            return float(raw)
        if hint is str:
            return raw
        if hint is Path:
            return Path(raw).expanduser()
        if hint is Secret:
            return Secret(raw)
        if origin is tuple:
            return tuple(part.strip() for part in raw.split(",") if part.strip())
        if origin is Literal:
            for choice in args:
                if raw.upper() == str(choice).upper():
                    return choice
            raise ValueError(f"expected one of {', '.join(map(str, args))}")
    except ValueError as exc:
        reason = str(exc) if "expected" in str(exc) else f"expected {_type_name(hint)}"
        raise ConfigError(f"{env}: bad value {raw!r}: {reason}.") from None
    raise TypeError(f"no parser for {hint!r}")  # a programming error in the table above


def _type_name(hint: Any) -> str:
    origin, args = get_origin(hint), get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in args if a is not type(None)) + " (optional)"
    if origin is tuple:
        return "list"
    if origin is Literal:
        return " | ".join(map(str, args))
    return {bool: "bool", int: "int", float: "float", str: "str", Path: "path", Secret: "secret"}.get(hint, str(hint))
