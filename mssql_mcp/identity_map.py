"""Which database user a signed-in person queries as (DB_IDENTITY=impersonate).

- The mapping file (DB_IDENTITY_MAP_FILE), a JSON object from a person's key to a database user, wins.
- Otherwise the template (DB_IDENTITY_TEMPLATE) maps people who came through the configured identity
  provider (OIDC_ISSUER) only. A local password account maps only through the file: an operator-created
  local user named like a colleague's e-mail can never become that colleague in the database.
- Anyone else is refused with one line, and nothing runs.
"""

from __future__ import annotations

import json
import string
from pathlib import Path

from mssql_mcp.db.identity import DbIdentity
from mssql_mcp.errors import ConfigError, MssqlMcpError
from mssql_mcp.settings import Settings

FIELDS = ("email", "email_local", "subject")
MAX_PRINCIPAL = 128  # sysname


class Unmapped(MssqlMcpError):
    """The person has no database user: nothing runs."""


def load_map(path: Path | None) -> dict[str, str]:
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"DB_IDENTITY_MAP_FILE: cannot read {path} as JSON ({type(exc).__name__}).") from None
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise ConfigError("DB_IDENTITY_MAP_FILE: must be one JSON object of person key -> database user name.")
    for user in data.values():
        _check_principal(user, "DB_IDENTITY_MAP_FILE")
    return dict(data)


def _check_principal(name: str, where: str) -> None:
    if not name.strip() or len(name) > MAX_PRINCIPAL or any(ord(c) < 32 for c in name):
        raise ConfigError(f"{where}: {name!r} is not a database user name (1 to 128 printable characters).")


def check_template(template: str) -> None:
    used = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    unknown = used - set(FIELDS)
    if not used or unknown:
        raise ConfigError(
            f"DB_IDENTITY_TEMPLATE: use one or more of {{email}}, {{email_local}}, {{subject}}; got {template!r}."
        )


class IdentityMap:
    def __init__(self, settings: Settings) -> None:
        self.template = settings.db_identity_template
        check_template(self.template)
        self.issuer = (settings.oidc_issuer or "").rstrip("/") or None
        self.entries = load_map(settings.db_identity_map_file)

    def principal(self, person: DbIdentity | None) -> str:
        """The database user `person` queries as; Unmapped (one line) when there is none."""
        if person is None:
            raise Unmapped("This server runs each query as the signed-in person, and nobody is signed in.")
        mapped = self.entries.get(person.key)
        if mapped is not None:
            return mapped
        if person.is_local or self.issuer is None or person.issuer.rstrip("/") != self.issuer:
            raise Unmapped("You have no database user on this server; ask its operator to map your account.")
        values = {
            "email": person.email,
            "email_local": person.email.partition("@")[0] if person.email else None,
            "subject": person.key.rpartition("#")[2],
        }
        needed = {f for _, f, _, _ in string.Formatter().parse(self.template) if f}
        if any(not values[f] for f in needed):
            raise Unmapped("Your account has no verified e-mail to name your database user; ask the operator.")
        name = self.template.format(**values)
        if not name.strip() or len(name) > MAX_PRINCIPAL:
            raise Unmapped("Your account does not give a valid database user name; ask the operator.")
        return name
