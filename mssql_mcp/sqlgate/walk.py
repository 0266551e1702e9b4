"""The SQL gate's tree walk: every node of a parsed statement against the rules in sqlgate.rules.

Reads are an allowlist (a node type not in READ_NODES is refused); DML adds its own node types;
DDL, which only runs with ALLOW_DDL=true, is checked against the refusal tables alone. In every mode,
a function call must be a T-SQL built-in (sqlgate.functions) or a schema-qualified user-defined
function, a hint list must hold table hints, and server-scoped objects stay out (rules.Policy).
"""

from __future__ import annotations

import re
from typing import Literal

from sqlglot import exp

from mssql_mcp.sqlgate import functions, rules
from mssql_mcp.sqlgate.rules import DEFAULT_POLICY, Policy

Mode = Literal["read", "dml", "ddl"]

# A regular T-SQL identifier (sqlglot strips the # of temp tables): letter, _, @, # or $, then \w@#$.
_REGULAR_NAME = re.compile(r"(?:[^\W\d]|[@#$])[\w@#$]*")
_DML_REFUSED = {cls: why for cls, why in rules.READ_REFUSED.items() if cls not in rules.DML_TOP}
del _DML_REFUSED[exp.NextValueFor]  # INSERT ... VALUES (NEXT VALUE FOR seq) is a write, and allowed
# DDL may nest DDL (ALTER TABLE ... DROP COLUMN) and NEXT VALUE FOR (a column default), but no writes.
_DDL_REFUSED = {cls: why for cls, why in _DML_REFUSED.items() if cls not in rules.DDL_TOP}
_DDL_REFUSED.update({cls: f"{word} inside DDL is not allowed." for cls, word in rules.DML_TOP.items()})


def walk(
    stmt: exp.Expression,
    mode: Mode,
    *,
    allow_top_into: bool = False,
    policy: Policy = DEFAULT_POLICY,
    sql: str = "",
) -> str | None:
    """The first problem found anywhere in the tree, or None. DDL is checked against refusals only.

    `sql` is the text the tree was parsed from: it gives the name a caller typed for a function that
    sqlglot turned into one of its own node types (SUBSTR and SUBSTRING both become Substring).
    """
    allowed = rules.READ_NODES if mode == "read" else rules.DML_NODES if mode == "dml" else None
    refused = rules.READ_REFUSED if mode == "read" else _DML_REFUSED if mode == "dml" else _DDL_REFUSED
    for node in stmt.walk():
        cls = type(node)
        reason = rules.ALWAYS_REFUSED.get(cls) or refused.get(cls)
        if allow_top_into and cls is exp.Into and node.parent is stmt:
            continue  # SELECT ... INTO with ALLOW_DDL (write mode); its target is still walked
        if reason:
            return reason
        problem = _node_problem(node, mode, policy)
        if problem:
            return problem
        if allowed is not None and cls in allowed:
            continue
        if isinstance(node, exp.Func) and not isinstance(node, exp.Anonymous):
            # In DDL too (CREATE VIEW ... AS SELECT MD5(x)); dbo.MD5(x) is a user function, checked above.
            problem = None if _user_function(node) else _known_function_problem(node, sql)
            if problem:
                return problem
        elif allowed is not None and not isinstance(node, exp.Func):
            return f"{cls.__name__} is not allowed in {'a read-only query' if mode == 'read' else 'this statement'}."
    return None


def _known_function_problem(node: exp.Func, sql: str) -> str | None:
    """A function sqlglot has a node type for: by the name typed when the parse kept it, else by type."""
    if type(node).__name__ in functions.SYNTAX_NODES:
        return None
    start, end = node.meta.get("start"), node.meta.get("end")
    typed = sql[start : end + 1] if isinstance(start, int) and isinstance(end, int) else ""
    if _WORD.fullmatch(typed) and typed.upper() not in functions.BUILTIN_FUNCTIONS:
        return not_builtin(typed)
    # A function from another dialect (UNNEST, MD5, ...) is no T-SQL built-in, even where sqlglot folds it
    # into a built-in's node and position (UPPER(HEX(x)) becomes one Hex node that starts at UPPER).
    return None if type(node).__name__ in functions.BUILTIN_NODES else not_builtin(typed or node.sql_name())


_WORD = re.compile(r"\w+")


def _node_problem(node: exp.Expr, mode: Mode, policy: Policy) -> str | None:
    """Checks on the content of nodes whose type alone is allowed."""
    if isinstance(node, exp.Identifier):
        return _name_problem(node)
    if isinstance(node, exp.Anonymous):
        return _function_problem(node, mode, policy)
    elif isinstance(node, exp.Func) and _qualifier(node):
        return _call_problem(node.sql_name(), _qualifier(node), policy)  # dbo.UPPER(x): a UDF, whatever sqlglot says
    elif isinstance(node, exp.Var) and node.name.upper() in rules.STATEMENT_STARTERS:
        return f"{node.name} starts a statement of its own in SQL Server and cannot appear here."
    elif isinstance(node, exp.Table):
        return _table_problem(node, mode, policy)
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
                return _locking_hint(name)
    return None


def _table_problem(node: exp.Table, mode: Mode, policy: Policy) -> str | None:
    if len(node.parts) > 3 or _name_slots(node) > 3:
        # OPENDATASOURCE(...).db.schema.table has four parts too: name the function when it is one.
        named = (_function_problem(f, mode, policy) for f in node.find_all(exp.Anonymous))
        return next((why for why in named if why), FOUR_PART_REASON)
    alias = node.args.get("alias")
    columns = alias.columns if isinstance(alias, exp.TableAlias) else []
    if isinstance(node.this, exp.Identifier) and columns:
        # `FROM t x (XLOCK)` reads as column aliases to sqlglot; to SQL Server it is a hint list.
        names = [c.name.upper() for c in columns]
        if any(n in rules.TABLE_HINT_WORDS for n in names):
            return _hints_problem(names, mode)
    return None if policy.server_views else _server_object_problem(node)


FOUR_PART_REASON = (
    "four-part names (server.database.schema.object, however spelled: a...b, srv.db..t) reach a linked server "
    "and are not allowed; name a column by its table alias (t.column)."
)


def _name_slots(node: exp.Table) -> int:
    """Name parts of a table, counting the empty ones sqlglot keeps as '' (srv.db..t is four)."""
    slots = sum(1 for key in ("catalog", "db") if node.args.get(key) is not None)
    this = node.this
    while isinstance(this, exp.Dot):
        slots += 1
        this = this.this
    return slots + 1


def _server_object_problem(node: exp.Table) -> str | None:
    catalog, schema, name = (_part(node.args.get(k)).upper() for k in ("catalog", "db", "this"))
    if catalog in rules.SERVER_DATABASES:
        return f"objects in the {catalog.lower()} database are server-level and not allowed (ALLOW_SERVER_VIEWS=true)."
    if (schema == "SYS" and (name.startswith(rules.SERVER_VIEW_PREFIXES) or name in rules.SERVER_VIEWS)) or (
        not schema and name in rules.SERVER_COMPAT_VIEWS
    ):
        return (
            f"sys.{name.lower()} is a server-level view; the current database's catalog views (sys.tables, "
            "sys.columns, INFORMATION_SCHEMA.*, ...) are allowed (ALLOW_SERVER_VIEWS=true allows server views)."
        )
    return None


def _part(value: object) -> str:
    """A name part's text; sqlglot keeps an empty part as '' and an absent one as None."""
    if isinstance(value, exp.Anonymous):
        return value.name
    if isinstance(value, exp.Expr):
        return value.name
    return str(value or "")


def _function_problem(node: exp.Anonymous, mode: Mode = "read", policy: Policy = DEFAULT_POLICY) -> str | None:
    name = node.name.upper()
    if name in rules.STATEMENT_STARTERS:
        return f"{node.name} starts a statement of its own in SQL Server; it is not a function."
    if name in rules.PASS_THROUGH_FUNCTIONS:
        return f"{name} reaches another server or a file and is never allowed."
    if name.startswith(rules.PROCEDURE_PREFIXES):
        return f"{node.name} is a system or extended procedure and cannot be called from a query."
    hints = _hint_call(node)
    if hints is not None:
        return _hints_problem(hints, mode)
    parent = node.parent
    if name == "INDEX" and (
        isinstance(parent, exp.WithTableHint) or (isinstance(parent, exp.Anonymous) and _hint_call(parent) is not None)
    ):
        return None  # the INDEX(ix) table hint, checked with its list
    return _call_problem(node.name, _qualifier(node), policy)


def _hint_call(node: exp.Anonymous) -> list[str] | None:
    """The hints when `FROM t (ROWLOCK, XLOCK)` was read as a call of a function t; None for a real call."""
    parent = node.parent
    if not isinstance(parent, exp.Table) or parent.this is not node or not node.expressions:
        return None
    names = []
    for arg in node.expressions:
        if isinstance(arg, exp.EQ):  # INDEX = ix
            arg = arg.this
        if isinstance(arg, exp.Column) and not arg.table and isinstance(arg.this, exp.Identifier):
            names.append(arg.name.upper())
        elif isinstance(arg, exp.Anonymous) and arg.name.upper() == "INDEX":  # INDEX(ix)
            names.append("INDEX")
        else:
            return None
    return names if any(n in rules.TABLE_HINT_WORDS for n in names) else None


def _hints_problem(names: list[str], mode: Mode) -> str | None:
    unknown = next((n for n in names if n not in rules.TABLE_HINT_WORDS), None)
    if unknown:
        return f"a list after a table name is a table hint list to SQL Server, and {unknown} is not a table hint."
    locking = next((n for n in names if n not in rules.READ_TABLE_HINTS), None) if mode == "read" else None
    return _locking_hint(locking) if locking else None


def _locking_hint(name: str) -> str:
    return f"the table hint {name} takes or holds locks; a read may use NOLOCK, READPAST or INDEX(...)."


def _qualifier(node: exp.Expr) -> list[str]:
    """The name parts before a call: ["sys"] for sys.fn_x(...), ["dbo"] for FROM dbo.tvf(...), [] unqualified."""
    parent = node.parent
    if isinstance(parent, exp.Dot) and parent.expression is node:
        parts: list[str] = []
        owner: exp.Expr = parent.this
        while isinstance(owner, exp.Dot):
            parts.insert(0, _part(owner.expression))
            owner = owner.this
        return [_part(owner), *parts]
    if isinstance(parent, exp.Table) and parent.this is node:
        return [_part(parent.args.get(k)) for k in ("catalog", "db") if parent.args.get(k) is not None]
    return []


def _user_function(node: exp.Expr) -> bool:
    parts = [q.upper() for q in _qualifier(node) if q]
    return bool(parts) and parts[-1] not in rules.SYSTEM_SCHEMAS


def _call_problem(name: str, qualifier: list[str], policy: Policy) -> str | None:
    """Unqualified, sys. and INFORMATION_SCHEMA. calls must be built-ins; other schemas hold user functions."""
    parts = [q.upper() for q in qualifier if q]
    full = ".".join([*qualifier, name])
    server = next((p for p in parts if p in rules.SERVER_DATABASES), None)
    if server and not policy.server_views:
        return f"{full} is in the {server.lower()} database, which is server-level and not allowed."
    if not parts or parts[-1] in rules.SYSTEM_SCHEMAS:
        return None if name.upper() in functions.BUILTIN_FUNCTIONS else not_builtin(full)
    if not policy.user_functions:
        return f"user-defined functions ({full}) are turned off on this server (ALLOW_USER_FUNCTIONS=false)."
    return None


NOT_BUILTIN = "the function "


def not_builtin(name: str) -> str:
    return (
        f"{NOT_BUILTIN}{name} is not one of the T-SQL built-in functions a query may call "
        "(pure reads: string, date, math, aggregate, window, JSON, conversion, identity)."
    )


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
