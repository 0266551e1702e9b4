"""The layering stays clean: every module's imports, read with `ast`, against the rules of the layout.

- the core (queries, catalog, sqlgate, db, oauth) never imports the faces, which sit on top of it;
- the SQL gate is pure: nothing from db, oauth or faces;
- the backends know nothing of sign-in or faces;
- the OAuth provider's store and its thread (`provider.store`, `provider.io`) are its own business.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "mssql_mcp"
ROOT = PACKAGE.name

CORE = ("queries", "catalog", "sqlgate", "db", "oauth")
# (importing layer, layers it may not import)
RULES: list[tuple[str, tuple[str, ...]]] = [
    *((layer, ("faces",)) for layer in CORE),
    ("sqlgate", ("db", "oauth", "faces")),
    ("db", ("oauth", "faces")),
]
PROVIDER_MODULE = f"{ROOT}.oauth.provider"
PROVIDER_PRIVATE = frozenset({"store", "io", "_store", "_io"})  # the provider names them _store, _io


@dataclass(frozen=True)
class Module:
    name: str  # dotted, e.g. mssql_mcp.sqlgate.check
    path: Path
    tree: ast.Module

    @property
    def layer(self) -> str:
        parts = self.name.split(".")
        return parts[1] if len(parts) > 1 else ""


def modules() -> list[Module]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        found.append(Module(".".join(parts), path, ast.parse(path.read_text(encoding="utf-8"), str(path))))
    return found


def imported(module: Module) -> Iterator[tuple[str, int]]:
    """Every module name an import statement may bind (`from a import b` may bind a.b), with its line."""
    is_package = module.path.name == "__init__.py"
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                package = module.name.split(".")
                if not is_package:
                    package.pop()
                package = package[: len(package) - (node.level - 1)]
                base = ".".join([*package, base] if base else package)
            yield base, node.lineno
            for alias in node.names:
                yield f"{base}.{alias.name}", node.lineno


def layer_of(dotted: str) -> str | None:
    parts = dotted.split(".")
    return parts[1] if parts[0] == ROOT and len(parts) > 1 else None


def import_violations(module: Module) -> list[str]:
    problems = []
    for target, line in imported(module):
        target_layer = layer_of(target)
        for layer, forbidden in RULES:
            if module.layer == layer and target_layer in forbidden:
                problems.append(f"{module.path.relative_to(PACKAGE.parent)}:{line} {layer} imports {target}")
    return sorted(set(problems))


def provider_reach_ins(module: Module) -> list[str]:
    """`.store` / `.io` read off something named provider (`provider.store`, `self.provider.io`, ...)."""
    if module.name == PROVIDER_MODULE:
        return []
    problems = []
    for node in ast.walk(module.tree):
        if not isinstance(node, ast.Attribute) or node.attr not in PROVIDER_PRIVATE:
            continue
        owner = node.value
        if (isinstance(owner, ast.Name) and owner.id == "provider") or (
            isinstance(owner, ast.Attribute) and owner.attr == "provider"
        ):
            problems.append(f"{module.path.relative_to(PACKAGE.parent)}:{node.lineno} uses provider.{node.attr}")
    return problems


ALL = modules()


def test_the_package_is_read_whole() -> None:
    names = {m.name for m in ALL}
    assert {f"{ROOT}.queries", f"{ROOT}.sqlgate", f"{ROOT}.db.base", f"{ROOT}.oauth.provider"} <= names
    assert any(m.layer == "faces" for m in ALL)


@pytest.mark.parametrize("module", [m for m in ALL if m.layer in CORE], ids=lambda m: m.name)
def test_layers_import_only_what_is_below_them(module: Module) -> None:
    assert import_violations(module) == []


def test_nothing_outside_the_provider_touches_its_store_or_thread() -> None:
    assert [problem for m in ALL for problem in provider_reach_ins(m)] == []


def _synthetic(name: str, source: str) -> Module:
    path = PACKAGE.joinpath(*name.split(".")[1:]).with_suffix(".py")
    return Module(name, path, ast.parse(source))


@pytest.mark.parametrize(
    ("name", "source", "expected"),
    [
        ("mssql_mcp.queries", "from mssql_mcp.faces import claude", "queries imports mssql_mcp.faces"),
        ("mssql_mcp.oauth.routes", "from mssql_mcp import faces", "oauth imports mssql_mcp.faces"),
        ("mssql_mcp.sqlgate.walk", "import mssql_mcp.db.base", "sqlgate imports mssql_mcp.db.base"),
        ("mssql_mcp.sqlgate.check", "from ..db import sqlite", "sqlgate imports mssql_mcp.db"),
        ("mssql_mcp.db.sqlite", "from mssql_mcp.oauth.store import Store", "db imports mssql_mcp.oauth.store"),
        ("mssql_mcp.db.mssql", "if TYPE_CHECKING:\n    from ..faces.common import X", "db imports mssql_mcp.faces"),
    ],
)
def test_the_checker_sees_a_broken_rule(name: str, source: str, expected: str) -> None:
    """The rules above pass because the code is clean, not because the checker is blind."""
    assert any(expected in problem for problem in import_violations(_synthetic(name, source)))


def test_the_checker_sees_a_reach_into_the_provider() -> None:
    reaches = provider_reach_ins(
        _synthetic(
            "mssql_mcp.oauth.login",
            "def f(self, provider):\n    provider.store.get()\n    self.provider.io\n    provider._store.get()",
        )
    )
    assert sorted(r.rsplit(" ", 1)[1] for r in reaches) == ["provider._store", "provider.io", "provider.store"]
    allowed = _synthetic("mssql_mcp.oauth.provider", "self.store.get(); provider.io")
    assert provider_reach_ins(allowed) == []
