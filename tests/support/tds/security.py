"""Who a TDS test server session is, and what it may see: a small emulation of SQL Server's security.

- `sp_set_session_context` (named or positional arguments; `@read_only` keys stay) and, in server.py,
  `SESSION_CONTEXT(N'key')`.
- `EXECUTE AS USER = N'name' [WITH COOKIE INTO @v]` and `REVERT [WITH COOKIE = @v]`: a stack per
  connection; a context made with a cookie reverts only with that cookie (error 15196 otherwise).
  `USER_NAME()`, `SUSER_SNAME()` and `ORIGINAL_LOGIN()` answer from it (server.py).
- `DECLARE @v type [= literal]`, and `@v` in a later statement of the same batch.
- Permissions: an impersonated principal (or a FEDAUTH login named in `principals`) may read only the
  tables `TdsServer.principals` grants it
  (error 229 otherwise); the service login reads everything. A principal missing from `principals` does
  not exist (error 15517).
- Metadata visibility: an impersonated principal sees in sys.objects only the tables and views it may read
  (SQL Server shows a principal only the objects it has some permission on), so a catalog read as it lists
  just those.
- IMPERSONATE: `TdsServer.impersonable` names the principals the login may become (None: all of them);
  EXECUTE AS USER on another fails with error 15517, as it does on SQL Server. `DATABASE_PRINCIPAL_ID(N'x')`
  and `HAS_PERMS_BY_NAME(N'x', N'USER', N'IMPERSONATE')` answer from it (server.py).
- One row filter (`TdsServer.row_filter = (table, column, key)`), like an RLS security policy whose
  predicate is `column = SESSION_CONTEXT(N'key')`: it applies to every reader of the table.
This is our emulation, for the drivers and the product's order of work; the live suite proves the real thing.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any

import sqlglot
from sqlglot import exp

if TYPE_CHECKING:
    from tests.support.tds.engine import Session

_SET_CONTEXT = re.compile(r"^EXEC(?:UTE)?\s+(?:\[?sys\]?\.)?\[?sp_set_session_context\]?\s+(.*)$", re.I | re.S)
_ARG = re.compile(r"\s*(?:@(\w+)\s*=\s*)?(N?'(?:[^']|'')*'|@\w+|NULL|-?\d+)\s*(?:,|$)", re.I)
_EXECUTE_AS = re.compile(
    r"^EXEC(?:UTE)?\s+AS\s+USER\s*=\s*(N?'(?:[^']|'')*'|@\w+)(?:\s+WITH\s+COOKIE\s+INTO\s+@(\w+))?$", re.I | re.S
)
_REVERT = re.compile(r"^REVERT(?:\s+WITH\s+COOKIE\s*=\s*@(\w+))?$", re.I)
_DECLARE = re.compile(r"^DECLARE\s+@(\w+)\s+[\w\s(),]+?(?:\s*=\s*(.+))?$", re.I | re.S)
_SKIP_SCHEMAS = {"sys", "information_schema"}


def _error(number: int, text: str) -> Exception:
    from tests.support.tds.engine import SqlError

    return SqlError(number, text, 16)


def literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, int):
        return str(value)
    return "N'" + str(value).replace("'", "''") + "'"


def _argument(token: str, session: Session, params: dict[str, Any]) -> Any:
    """One argument: a bound @parameter or batch variable, a string, hex or number literal, or NULL."""
    if token.startswith("@"):
        name = token[1:]
        return params[name] if name in params else session.variables.get(name)
    if token.upper() == "NULL":
        return None
    if token.lower().startswith("0x"):
        return bytes.fromhex(token[2:])
    if token.endswith("'"):
        return token[token.index("'") + 1 : -1].replace("''", "'")
    return int(token)


def principal(session: Session) -> str:
    return session.impersonating[-1][0] if session.impersonating else session.login


def statement(session: Session, sql: str, params: dict[str, Any]) -> bool:
    """Run `sql` if it is one of the statements above; False to let the engine run it as a query."""
    m = _SET_CONTEXT.match(sql) or _EXECUTE_AS.match(sql) or _REVERT.match(sql) or _DECLARE.match(sql)
    if m is None:
        return False
    fault = session.server.faults.match(sql)
    if fault is not None and fault.error is not None:
        raise _error(fault.error, fault.error_text or f"Injected error {fault.error}.")
    if m.re is _SET_CONTEXT:
        _set_context(session, m.group(1), params)
    elif m.re is _EXECUTE_AS:
        _execute_as(session, _argument(m.group(1), session, params), m.group(2))
    elif m.re is _REVERT:
        _revert(session, session.variables.get(m.group(1)) if m.group(1) else None)
    else:
        value = m.group(2).strip() if m.group(2) else None
        session.variables[m.group(1)] = _argument(value, session, params) if value else None
    return True


def _set_context(session: Session, text: str, params: dict[str, Any]) -> None:
    args: dict[str, Any] = {}
    for i, m in enumerate(_ARG.finditer(text)):
        name = (m.group(1) or ("key", "value", "read_only")[min(i, 2)]).lower()
        args[name] = _argument(m.group(2), session, params)
    key = args.get("key")
    if not isinstance(key, str) or not key:
        raise _error(201, "Procedure or function 'sp_set_session_context' expects parameter '@key'.")
    if key in session.context and session.context[key][1]:
        raise _error(
            15664,
            f"Cannot set key '{key}' in the session context. The key has been set as read_only for this session.",
        )
    session.context[key] = (args.get("value"), bool(args.get("read_only") or 0))


def may_impersonate(server: Any, name: str) -> bool | None:
    """Whether the login may become database user `name`; None when there is no such user."""
    if name.lower() not in server.principals:
        return None
    return server.impersonable is None or name.lower() in {p.lower() for p in server.impersonable}


def _execute_as(session: Session, name: Any, cookie_var: str | None) -> None:
    if not isinstance(name, str) or not may_impersonate(session.server, name):
        raise _error(
            15517,
            f'Cannot execute as the database principal because the principal "{name}" does not exist, '
            "this type of principal cannot be impersonated, or you do not have permission.",
        )
    cookie = os.urandom(16) if cookie_var else None
    if cookie_var:
        session.variables[cookie_var] = cookie
    session.impersonating.append((name, cookie))
    session.server.record(session.spid, "execute_as", name)


def _revert(session: Session, cookie: Any) -> None:
    if not session.impersonating:
        return
    name, expected = session.impersonating[-1]
    if expected is not None and cookie != expected:
        raise _error(15196, "The current security context cannot be reverted with that cookie.")
    session.impersonating.pop()
    session.server.record(session.spid, "revert", name)


def secure(session: Session, sql: str) -> str:
    """`sql` with batch variables as literals, checked against the principal's grants and row-filtered."""
    for name, value in session.variables.items():
        sql = re.sub(rf"@{name}\b", lambda _m, v=value: literal(v), sql)
    server = session.server
    # An impersonated user, or a login that is itself one of the principals (an Entra token's person).
    current = principal(session).lower()
    who = current if session.impersonating or current in server.principals else None
    if who is None and server.row_filter is None:
        return sql
    try:
        tree = sqlglot.parse_one(sql, read="tsql")
    except Exception:
        return sql
    changed = False
    for table in list(tree.find_all(exp.Table)):
        schema = (table.db or "dbo").lower()
        if who is not None and schema == "sys" and table.name.lower() == "objects":
            _visible_objects(table, server.principals.get(who, set()))
            changed = True
            continue
        if schema in _SKIP_SCHEMAS or not table.name:
            continue
        name = table.name.lower()
        if who is not None and name not in server.principals.get(who, set()):
            raise _error(
                229,
                f"The SELECT permission was denied on the object '{table.name}', database '{server.database}', "
                f"schema '{schema}'.",
            )
        reading = isinstance(tree, exp.Query)  # a filter predicate: writes are not filtered here
        if reading and server.row_filter is not None and name == server.row_filter[0].lower():
            _, column, key = server.row_filter
            value = literal(session.context.get(key, (None, False))[0])
            alias = table.alias_or_name
            inner = sqlglot.parse_one(f"SELECT * FROM [{table.name}] WHERE [{column}] = {value}", read="tsql")
            table.replace(exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier(alias))))
            changed = True
    return tree.sql("tsql") if changed else sql


def _visible_objects(table: exp.Table, granted: set[str]) -> None:
    """sys.objects as `granted`'s principal sees it: other kinds of object, and the tables it may read."""
    names = ", ".join(literal(n) for n in sorted(granted)) or "NULL"
    inner = sqlglot.parse_one(
        f"SELECT * FROM sys.objects WHERE type NOT IN ('U', 'V') OR LOWER(name) IN ({names})", read="tsql"
    )
    table.replace(exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier(table.alias_or_name))))
