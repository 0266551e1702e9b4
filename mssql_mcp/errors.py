"""The exception tree. Every error knows the one-line message a user may see.

    MssqlMcpError                 base; ``.message`` is safe to show to a client
    ├── ConfigError               a bad setting; names the variable (start-up stops)
    ├── QueryRefused              the read-only gate (or write-mode rules) refused a statement
    ├── UnknownTable              a table name not in the catalog; carries close matches
    ├── InvalidArgument           a tool argument out of range (limit, empty query, ...)
    ├── TranslationError          T-SQL the SQLite backend cannot translate
    │   └── NotOnEmbedded         a SQL Server feature SQLite lacks (@@VERSION, sys.* and INFORMATION_SCHEMA views)
    ├── QueryError                the database rejected or failed a statement
    │   ├── QueryTimeout          the statement ran past QUERY_TIMEOUT_SECONDS and was cancelled
    │   └── ValueTooLarge         a value the statement read or built passed MAX_VALUE_BYTES
    ├── ServerBusy                no database worker for this call now (the caller's share, or all stuck)
    ├── DatabaseUnavailable       no connection could be made or kept (outage, login, driver)
    ├── IdentityRefused           Entra would not let this server query as the person (on-behalf-of)
    └── StoreUnavailable          the authorization store (Redis) cannot be reached: sign-in and token checks get 503
        └── IssuerUnavailable     AUTH_MODE=external: the company's authorization server does not answer (503 too)

Messages never contain secrets: connection strings and passwords stay out of them.
A message that points to another tool names it as the Claude face does (``list_tables``) and lists it in
``.tools``; ``worded`` says it in another face's terms (the ChatGPT face: ``search "list tables"``).
Database errors keep the server's error number (``.number``, e.g. SQL Server 208) when it is known.
"""

from __future__ import annotations

import re
from collections.abc import Mapping


class MssqlMcpError(Exception):
    """Base of every error this package raises on purpose."""

    #: The tools the message points to, by their Claude-face names (see `worded`).
    tools: tuple[str, ...] = ()

    def __init__(self, message: str) -> None:
        # One line, always: clients render it as-is and logs stay greppable.
        self.message = " ".join(message.split())
        super().__init__(self.message)

    def worded(self, names: Mapping[str, str]) -> str:
        """The message with the tools it names called as a face calls them (`names`: Claude's name -> the face's)."""
        text = self.message
        for tool in self.tools:  # the tool's own word, not inside a quoted name the user wrote
            said = names.get(tool, tool).replace("\\", "\\\\")  # a replacement template: backslashes doubled
            text = re.sub(rf"(?<![\w'\"]){re.escape(tool)}(?![\w'\"])", said, text)
        return text


class ConfigError(MssqlMcpError):
    """A setting has a bad value. The message starts with the variable's name."""


class QueryRefused(MssqlMcpError):
    """The SQL gate refused the statement; the database was not touched."""


class UnknownTable(MssqlMcpError):
    """A table name that is not in the catalog."""

    def __init__(self, name: str, suggestions: list[str]) -> None:
        self.name = name
        self.suggestions = suggestions
        self.tools = () if suggestions else ("list_tables",)
        hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else " Use list_tables to see the tables."
        super().__init__(f"Unknown table {name!r}.{hint}")


class InvalidArgument(MssqlMcpError):
    """A tool argument is out of its allowed range."""


class TranslationError(MssqlMcpError):
    """The embedded SQLite backend cannot translate this T-SQL construct."""


class NotOnEmbedded(TranslationError):
    """A SQL Server feature the embedded SQLite database does not have; `tools` may name what to use instead."""

    def __init__(self, message: str, tools: tuple[str, ...] = ()) -> None:
        self.tools = tools
        super().__init__(message)


class QueryError(MssqlMcpError):
    """The database failed the statement. ``number`` is the server's error number when known."""

    def __init__(self, message: str, number: int | None = None) -> None:
        self.number = number
        prefix = f"SQL error {number}: " if number is not None else ""
        super().__init__(prefix + message)


class QueryTimeout(QueryError):
    """The statement was cancelled after the query timeout."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(f"Query cancelled: it ran longer than the {seconds:g} s timeout (QUERY_TIMEOUT_SECONDS).")


class ValueTooLarge(QueryError):
    """A string or binary value the statement read or built is past the database's length limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(
            f"Query stopped: a value it read or built is larger than the {limit}-byte limit (MAX_VALUE_BYTES). "
            "Build smaller values, e.g. with LEFT() or SUBSTRING()."
        )


class ServerBusy(MssqlMcpError):
    """No database worker can take this call now; the caller should try again shortly."""


class DatabaseUnavailable(MssqlMcpError):
    """The database cannot be reached or logged into right now."""

    def __init__(self, message: str, number: int | None = None) -> None:
        self.number = number
        super().__init__(message)


class IdentityRefused(MssqlMcpError):
    """DB_IDENTITY=entra_obo: Entra refused to exchange the person's token (consent missing, person disabled,
    sign-in expired); `code` is Entra's AADSTS number, for the log."""

    def __init__(self, message: str, code: int | None = None) -> None:
        self.code = code
        super().__init__(message)


class StoreUnavailable(MssqlMcpError):
    """The authorization store cannot be reached right now; nothing about sign-in can be decided."""

    def __init__(self, message: str = "authorization store unavailable") -> None:
        super().__init__(message)


class IssuerUnavailable(StoreUnavailable):
    """The company's authorization server (EXTERNAL_ISSUER) did not answer a token check.

    The token may be good: a 401 would send the client to sign in again, at an issuer that is down. So it is
    an outage, answered 503 with Retry-After like a store outage, and /health is unaffected (the issuer is not
    ours to watch).
    """

    def __init__(self) -> None:
        super().__init__("the company's authorization server did not answer")
