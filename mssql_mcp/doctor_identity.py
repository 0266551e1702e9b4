"""`mssql-mcp doctor`'s identity steps: which DB_IDENTITY mode, and whether the login can become people's users.

    identity   the mode; under impersonate, EXECUTE AS ... REVERT WITH COOKIE for each user of the mapping file
    mapping    (--as PERSON) the database user that person maps to, and through what: the file or the template
    as         (--as PERSON) that user exists, and this login holds IMPERSONATE on it (directly, through a
               role, or as its owner: HAS_PERMS_BY_NAME says what SQL Server itself would decide), proved by
               an EXECUTE AS ... REVERT WITH COOKIE on it

PERSON is a key as `mssql-mcp users list` shows it (a local username, or oidc:ISSUER#SUBJECT), or the verified
e-mail of a person from OIDC_ISSUER. As at query time, a local account maps only through the mapping file.
Each failure says what the DBA runs: CREATE USER ... WITHOUT LOGIN, GRANT IMPERSONATE ON USER::... TO ....
"""

from __future__ import annotations

from typing import Any, TextIO

from mssql_mcp.db.identity import DbIdentity, identity_of, literal
from mssql_mcp.errors import MssqlMcpError
from mssql_mcp.identity_map import IdentityMap
from mssql_mcp.settings import Settings

MAX_USERS_CHECKED = 50  # DB_IDENTITY_MAP_FILE users tried with EXECUTE AS ... REVERT


class Report:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.failed = False

    def line(self, status: str, step: str, text: str, fix: str | None = None) -> None:
        self.failed |= status == "FAIL"
        self.out.write(f"{status:<4}  {step:<11} {text}{f'  -> fix: {fix}' if fix else ''}\n")
        self.out.flush()

    def skip(self, *steps: str) -> int:
        for step in steps:
            self.line("SKIP", step, "an earlier step failed")
        return 1


def bracket(name: str) -> str:
    return "[" + name.replace("]", "]]") + "]"


def grant_fix(user: str, me: str, *, create: bool) -> str:
    grant = f"GRANT IMPERSONATE ON USER::{bracket(user)} TO {bracket(me)}"
    return f"CREATE USER {bracket(user)} WITHOUT LOGIN; {grant}" if create else grant


def _me(conn: Any) -> str:
    """This login's database user (the grantee a fix names)."""
    row = conn.cursor().execute("SELECT USER_NAME() AS me").fetchone()
    return str(row[0]) if row and row[0] else "<this login's database user>"


def check_identity(conn: Any, settings: Settings, report: Report) -> None:
    """DB_IDENTITY: which mode, and under impersonate, that the login can become each mapped user."""
    from mssql_mcp.db.mssql_impersonate import execute_as, revert  # pyodbc only once a driver is set up

    if settings.db_identity == "service":
        report.line(
            "OK", "identity", "DB_IDENTITY=service: queries run as this login; the session context names the person"
        )
        return
    if settings.db_identity == "entra_obo":
        _entra_obo(settings, report)
        return
    try:
        people = IdentityMap(settings)
    except MssqlMcpError as exc:
        report.line("FAIL", "identity", exc.message)
        return
    missing = []
    for user in sorted(set(people.entries.values()))[:MAX_USERS_CHECKED]:
        try:
            revert(conn, execute_as(conn, user))
        except Exception:
            missing.append(user)
        conn.rollback()
    issuer = people.issuer or "nobody (OIDC_ISSUER unset)"
    how = f"DB_IDENTITY=impersonate: template {people.template!r} for people from {issuer}"
    if missing:
        report.line(
            "FAIL",
            "identity",
            f"{how}; this login cannot become {', '.join(missing)}",
            grant_fix(missing[0], _me(conn), create=True),
        )
    else:
        report.line("OK", "identity", f"{how}; {len(people.entries)} mapped accounts, each user can be impersonated")


def _entra_obo(settings: Settings, report: Report) -> None:
    """DB_IDENTITY=entra_obo: the Entra authority answers (MSAL reads its OpenID configuration)."""
    from mssql_mcp.db.mssql_obo import OboTokens

    tokens = OboTokens(settings)
    how = f"DB_IDENTITY=entra_obo: each person signs in to Azure SQL with their own token from {tokens.authority}"
    try:
        tokens.check()
    except MssqlMcpError as exc:
        report.line("FAIL", "identity", f"{how}; {exc.message}", "check DB_OBO_AUTHORITY and the network to it")
        return
    report.line(
        "OK",
        "identity",
        f"{how} (app {tokens.client_id}); each person needs a database user: CREATE USER [upn] FROM EXTERNAL PROVIDER",
    )


def person_of(text: str, people: IdentityMap) -> DbIdentity:
    """The person `text` names: a mapped key, an upstream key, an e-mail from OIDC_ISSUER, else a local account."""
    if text in people.entries or "@" not in text or text.startswith("oidc:"):
        return identity_of(text)
    issuer = people.issuer or "(OIDC_ISSUER unset)"
    return DbIdentity(f"oidc:{issuer}#", issuer, text)


def check_person(conn: Any, settings: Settings, report: Report, text: str) -> None:
    """--as PERSON: the mapping for one person, then whether this login may impersonate their database user."""
    from mssql_mcp.db.mssql_impersonate import execute_as, revert

    if settings.db_identity != "impersonate":
        report.line("OK", "as", f"DB_IDENTITY={settings.db_identity}: --as checks the impersonate mode; nothing to do")
        return
    people = IdentityMap(settings)
    person = person_of(text, people)
    by_mail = text not in people.entries and not person.is_local and person.key.endswith("#")
    if by_mail and "{subject}" in people.template:
        report.line("FAIL", "mapping", f"{text}: the template needs the subject", "give the key oidc:ISSUER#SUBJECT")
        return
    try:
        user = people.principal(person)
    except MssqlMcpError as exc:
        where = "a local account maps only through" if person.is_local else "add the person's key to"
        report.line("FAIL", "mapping", f"{text}: {exc.message}", f"{where} DB_IDENTITY_MAP_FILE")
        return
    source = "DB_IDENTITY_MAP_FILE" if text in people.entries else f"the template {people.template!r}"
    report.line("OK", "mapping", f"{text} -> database user {user} (through {source})")
    me = _me(conn)
    row = (
        conn.cursor()
        .execute(
            f"SELECT DATABASE_PRINCIPAL_ID({literal(user)}) AS id, "
            f"HAS_PERMS_BY_NAME({literal(user)}, N'USER', N'IMPERSONATE') AS may"
        )
        .fetchone()
    )
    conn.rollback()
    if row is None or row[0] is None:
        report.line(
            "FAIL",
            "as",
            f"database user {user} does not exist (or this login has no permission on it)",
            grant_fix(user, me, create=True),
        )
        return
    if not row[1]:
        report.line("FAIL", "as", f"{me} has no IMPERSONATE on database user {user}", grant_fix(user, me, create=False))
        return
    try:
        revert(conn, execute_as(conn, user))
    except Exception as exc:
        failed = f"EXECUTE AS USER {user} failed ({type(exc).__name__})"
        report.line("FAIL", "as", failed, grant_fix(user, me, create=False))
        return
    finally:
        conn.rollback()
    report.line("OK", "as", f"{me} may impersonate {user} (EXECUTE AS ... REVERT WITH COOKIE succeeded)")
