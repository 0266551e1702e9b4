"""Who a query runs for, and the SQL Server session context that names them.

A tool call sets `PERSON` (faces/common.py `run_tool`); the worker pool copies context variables to the
database thread (workers.py), so the backend reads the person of the call it serves. The SQLite backend
ignores it.

Before each query the SQL Server backend sets these keys with `sp_set_session_context`, in its own batch
on the connection the query will use, so a DBA can write row-level-security predicates on
`SESSION_CONTEXT(N'mcp_user')`:

    mcp_user              the person's stable, issuer-qualified key (what their access token carries)
    mcp_email             a verified e-mail address, else NULL
    mcp_groups            a JSON array of group names or ids
    mcp_groups_truncated  N'1' when the array above was cut down to the groups that matter (below), else NULL
    mcp_issuer            who vouched for the person: the identity provider's issuer, or "local"

A pooled connection serves many people, so every key is overwritten before every query (`@read_only = 0`:
a read-only key could not be overwritten for the next person), and a key the person lacks is set to NULL.
The one exception: a connection that already holds exactly this batch, from the same person's previous
read, is left as it is (the pool prefers such a connection). Only sp_set_session_context changes a key,
and the gate refuses EXEC, so nothing in between could have changed them.
https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-set-session-context-transact-sql
"""

from __future__ import annotations

import contextlib
import contextvars
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

LOCAL_ISSUER = "local"
OIDC_PREFIX = "oidc:"  # oauth/identity.py KEY_PREFIX: "oidc:" + issuer + "#" + subject
# sp_set_session_context: "The value ... of type sql_variant ... Maximum size is 8,000 bytes." An nvarchar
# value takes two bytes a UTF-16 code unit.
MAX_VALUE_BYTES = 8000
KEYS = ("mcp_user", "mcp_email", "mcp_groups", "mcp_groups_truncated", "mcp_issuer")


@dataclass(frozen=True)
class DbIdentity:
    """The signed-in person as the database layer sees them."""

    key: str  # stable and issuer-qualified: "oidc:<issuer>#<sub>", or a local username
    issuer: str  # the upstream issuer, or LOCAL_ISSUER for a builtin password account
    email: str | None = None  # verified only (the sign-in rules keep no other)
    groups: tuple[str, ...] = ()
    # DB_IDENTITY=entra_obo: the person's access token from Entra, which the on-behalf-of exchange presents
    # (db/mssql_obo.py). A secret: kept out of repr (logs) and of equality (caches key on who, not on it).
    assertion: str | None = field(default=None, repr=False, compare=False)

    @property
    def is_local(self) -> bool:
        return self.issuer == LOCAL_ISSUER


PERSON: contextvars.ContextVar[DbIdentity | None] = contextvars.ContextVar("mssql_mcp_person", default=None)


@contextlib.contextmanager
def person_scope(person: DbIdentity | None) -> Iterator[None]:
    """Run the database calls made inside the block for `person` (None: nobody signed in)."""
    token = PERSON.set(person)
    try:
        yield
    finally:
        PERSON.reset(token)


def identity_of(username: str, *, email: str | None = None, groups: Sequence[str] = ()) -> DbIdentity:
    """The identity behind an access token's username: an upstream person's key names its issuer."""
    if username.startswith(OIDC_PREFIX):
        issuer = username[len(OIDC_PREFIX) :].rpartition("#")[0]
        return DbIdentity(username, issuer or LOCAL_ISSUER, email, tuple(groups))
    return DbIdentity(username, LOCAL_ISSUER, email, tuple(groups))


def _fits(text: str) -> bool:
    return len(text.encode("utf-16-le")) <= MAX_VALUE_BYTES


def groups_value(groups: Sequence[str], keep: Sequence[str]) -> tuple[str, bool]:
    """The JSON array for mcp_groups, and whether it was cut down.

    Past 8,000 bytes (200 Entra group ids do not fit) the array holds only the groups named in `keep`
    (DB_IDENTITY_GROUPS: the groups that matter to the database), in the person's order, as many as fit.
    """
    whole = json.dumps(list(groups), ensure_ascii=False)
    if _fits(whole):
        return whole, False
    wanted = {g.lower() for g in keep}
    kept: list[str] = []
    for group in groups:
        if group.lower() in wanted and _fits(json.dumps([*kept, group], ensure_ascii=False)):
            kept.append(group)
    return json.dumps(kept, ensure_ascii=False), True


def session_values(person: DbIdentity | None, keep: Sequence[str] = ()) -> list[tuple[str, str | None]]:
    """Every key with its value for `person`; all NULL for nobody."""
    if person is None:
        return [(key, None) for key in KEYS]
    groups, truncated = groups_value(person.groups, keep)
    return [
        ("mcp_user", person.key),
        ("mcp_email", person.email),
        ("mcp_groups", groups),
        ("mcp_groups_truncated", "1" if truncated else None),
        ("mcp_issuer", person.issuer),
    ]


def literal(value: str | None) -> str:
    """An N'' literal (quotes doubled, as T-SQL reads them), or NULL."""
    return "NULL" if value is None else "N'" + value.replace("'", "''") + "'"


def context_batch(person: DbIdentity | None, keep: Sequence[str] = ()) -> str:
    """One plain batch that sets every key, the values as N'' literals.

    Not parameters: bound NULLs make ODBC Driver 18 ask the server to describe them first (two calls of
    sp_describe_undeclared_parameters, then sp_prepexec and sp_unprepare, measured on the TDS test
    server), four round trips where one batch takes one."""
    return ";\n".join(
        f"EXEC sys.sp_set_session_context @key = N'{key}', @value = {literal(value)}, @read_only = 0"
        for key, value in session_values(person, keep)
    )
