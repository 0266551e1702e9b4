"""What the login may do: fn_my_permissions and role membership, for the start-up check and `doctor`.

The product is read-only by design (sqlgate + a rolled-back transaction), but the last layer is a login
that cannot write at all. A login that can is reported loudly, or refused with MSSQL_REFUSE_WRITABLE_LOGIN.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Database permissions that let a login change data or schema (fn_my_permissions(NULL, 'DATABASE')).
WRITE_PERMISSIONS = frozenset(
    {
        "INSERT",
        "UPDATE",
        "DELETE",
        "ALTER",
        "CONTROL",
        "TAKE OWNERSHIP",
        "CREATE TABLE",
        "CREATE VIEW",
        "CREATE PROCEDURE",
        "CREATE FUNCTION",
        "CREATE SCHEMA",
        "CREATE TYPE",
        "ALTER ANY SCHEMA",
        "ALTER ANY USER",
        "ALTER ANY ROLE",
        "IMPERSONATE ANY LOGIN",
    }
)
WRITE_ROLES = ("sysadmin", "db_owner", "db_datawriter", "db_ddladmin")

IDENTITY = """
SELECT SUSER_SNAME() AS login_name, DB_NAME() AS database_name,
       IS_SRVROLEMEMBER('sysadmin') AS sysadmin, IS_ROLEMEMBER('db_owner') AS db_owner,
       IS_ROLEMEMBER('db_datawriter') AS db_datawriter, IS_ROLEMEMBER('db_ddladmin') AS db_ddladmin
"""
PERMISSIONS = "SELECT permission_name FROM fn_my_permissions(NULL, 'DATABASE') ORDER BY permission_name"


@dataclass(frozen=True)
class PermissionReport:
    login: str
    database: str
    permissions: tuple[str, ...]
    roles: tuple[str, ...]  # the write-capable roles the login is in

    @property
    def writes(self) -> list[str]:
        return list(self.roles) + sorted(p for p in self.permissions if p.upper() in WRITE_PERMISSIONS)

    @property
    def can_write(self) -> bool:
        return bool(self.writes)

    def summary(self) -> str:
        if not self.can_write:
            return f"login {self.login} on {self.database} is read-only ({', '.join(self.permissions) or 'no grants'})"
        return f"login {self.login} on {self.database} can write: {', '.join(self.writes)}"


def check_permissions(cursor: Any) -> PermissionReport:
    row = cursor.execute(IDENTITY).fetchone()
    roles = tuple(role for role, flag in zip(WRITE_ROLES, row[2:6], strict=True) if flag == 1)
    permissions = tuple(str(r[0]) for r in cursor.execute(PERMISSIONS).fetchall())
    return PermissionReport(login=str(row[0]), database=str(row[1]), permissions=permissions, roles=roles)


def writable_message(report: PermissionReport) -> str:
    return (
        f"READ_ONLY_MODE is on, but the SQL Server {report.summary()}. Queries are still gated and rolled "
        "back, but use a login with only SELECT (db_datareader) as the last safety layer: see "
        "docs/read_only.md. Set MSSQL_REFUSE_WRITABLE_LOGIN=true to refuse such a login."
    )
