"""The cell types of the settings table: `Secret` for values that must never be shown, `setting()` for a row."""

from __future__ import annotations

from dataclasses import field
from typing import Any


class Secret:
    """A value that must never reach a log or a repr. Use `.reveal()` where the value is really needed."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def setting(env: str, default: Any, help: str, *, group: str, secret: bool = False) -> Any:
    """One row of the table. `default` is a Python value of the field's type."""
    meta = {"env": env, "help": help, "group": group, "secret": secret}
    if isinstance(default, list | dict):
        raise TypeError("use tuples for sequence defaults")  # frozen settings stay hashable
    return field(default=default, metadata=meta)
