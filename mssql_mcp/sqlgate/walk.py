"""The SQL gate's tree walk: every node of a parsed statement against the rules in sqlgate.rules.

Reads are an allowlist (a node type not in READ_NODES is refused); DML adds its own node types;
DDL, which only runs with ALLOW_DDL=true, is checked against the refusal tables alone.
"""

from __future__ import annotations

import re
from typing import Literal

from sqlglot import exp

from mssql_mcp.sqlgate import rules

Mode = Literal["read", "dml", "ddl"]

# A regular T-SQL identifier (sqlglot strips the # of temp tables): letter, _, @, # or $, then \w@#$.
_REGULAR_NAME = re.compile(r"(?:[^\W\d]|[@#$])[\w@#$]*")
_DML_REFUSED = {cls: why for cls, why in rules.READ_REFUSED.items() if cls not in rules.DML_TOP}
del _DML_REFUSED[exp.NextValueFor]  # INSERT ... VALUES (NEXT VALUE FOR seq) is a write, and allowed
# DDL may nest DDL (ALTER TABLE ... DROP COLUMN) and NEXT VALUE FOR (a column default), but no writes.
_DDL_REFUSED = {cls: why for cls, why in _DML_REFUSED.items() if cls not in rules.DDL_TOP}
_DDL_REFUSED.update({cls: f"{word} inside DDL is not allowed." for cls, word in rules.DML_TOP.items()})


def walk(stmt: exp.Expression, mode: Mode, *, allow_top_into: bool = False) -> str | None:
    """The first problem found anywhere in the tree, or None. DDL is checked against refusals only."""
    allowed = rules.READ_NODES if mode == "read" else rules.DML_NODES if mode == "dml" else None
    refused = rules.READ_REFUSED if mode == "read" else _DML_REFUSED if mode == "dml" else _DDL_REFUSED
    for node in stmt.walk():
        cls = type(node)
        reason = rules.ALWAYS_REFUSED.get(cls) or refused.get(cls)
        if allow_top_into and cls is exp.Into and node.parent is stmt:
            continue  # SELECT ... INTO with ALLOW_DDL (write mode); its target is still walked
        if reason:
            return reason
        problem = _node_problem(node, mode)
        if problem:
            return problem
        if allowed is not None and cls not in allowed and not isinstance(node, exp.Func):
            return f"{cls.__name__} is not allowed in {'a read-only query' if mode == 'read' else 'this statement'}."
    return None


def _node_problem(node: exp.Expr, mode: Mode) -> str | None:
    """Checks on the content of nodes whose type alone is allowed."""
    if isinstance(node, exp.Identifier):
        return _name_problem(node)
    if isinstance(node, exp.Anonymous):
        return _function_problem(node)
    elif isinstance(node, exp.Var) and node.name.upper() in rules.STATEMENT_STARTERS:
        return f"{node.name} starts a statement of its own in SQL Server and cannot appear here."
    elif isinstance(node, exp.Table) and len(node.parts) > 3:
        # OPENDATASOURCE(...).db.schema.table has four parts too: name the function when it is one.
        named = (_function_problem(f) for f in node.find_all(exp.Anonymous))
        return next((why for why in named if why), "four-part names reach a linked server and are not allowed.")
    elif isinstance(node, exp.Select):
        # `SELECT @x = c Name` parses as an aliased comparison: unwrap aliases, fail closed.
        if any(
            isinstance(e.unalias(), exp.EQ) and isinstance(e.unalias().this, exp.Parameter) for e in node.expressions
        ):
            return "assigning variables (SELECT @x = ...) is not allowed."
    elif isinstance(node, exp.WithTableHint) and mode == "read":
        for hint in node.expressions:
            name = hint.name.upper() if isinstance(hint, (exp.Var, exp.Anonymous)) else type(hint).__name__
            if name not in rules.READ_TABLE_HINTS:
                return f"the table hint {name} takes or holds locks; a read may use NOLOCK, READPAST or INDEX(...)."
    return None


def _function_problem(node: exp.Anonymous) -> str | None:
    name = node.name.upper()
    if name in rules.STATEMENT_STARTERS:
        return f"{node.name} starts a statement of its own in SQL Server; it is not a function."
    if name in rules.PASS_THROUGH_FUNCTIONS:
        return f"{name} reaches another server or a file and is never allowed."
    if name.startswith(rules.PROCEDURE_PREFIXES):
        return f"{node.name} is a system or extended procedure and cannot be called from a query."
    return None


def _name_problem(node: exp.Identifier) -> str | None:
    if node.quoted:
        return None
    name: str = node.this
    upper = name.upper()
    niladic_call = upper in rules.NILADIC_FUNCTIONS and isinstance(node.parent, exp.Column)  # SELECT USER
    if upper in rules.STATEMENT_WORDS and not niladic_call:
        return f"{name} is a reserved word, which SQL Server may run as a statement of its own; write [{name}]."
    if not _REGULAR_NAME.fullmatch(name):
        return f"the name {name!r} has characters that need [brackets]."
    return None
