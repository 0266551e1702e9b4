"""The exception tree. Every error knows the one-line message a user may see.

    MssqlMcpError                 base; ``.message`` is safe to show to a client
    ├── ConfigError               a bad setting; names the variable (start-up stops)
    ├── QueryRefused              the read-only gate (or write-mode rules) refused a statement
    ├── UnknownTable              a table name not in the catalog; carries close matches
    ├── InvalidArgument           a tool argument out of range (limit, empty query, ...)
    ├── TranslationError          T-SQL the SQLite backend cannot translate
    ├── QueryError                the database rejected or failed a statement
    │   ├── QueryTimeout          the statement ran past QUERY_TIMEOUT_SECONDS and was cancelled
    │   └── ValueTooLarge         a value the statement read or built passed MAX_VALUE_BYTES
    ├── ServerBusy                no database worker for this call now (the caller's share, or all stuck)
    └── DatabaseUnavailable       no connection could be made or kept (outage, login, driver)

Messages never contain secrets: connection strings and passwords stay out of them.
Database errors keep the server's error number (``.number``, e.g. SQL Server 208) when it is known.
"""

from __future__ import annotations


class MssqlMcpError(Exception):
    """Base of every error this package raises on purpose."""

    def __init__(self, message: str) -> None:
        # One line, always: clients render it as-is and logs stay greppable.
        self.message = " ".join(message.split())
        super().__init__(self.message)


class ConfigError(MssqlMcpError):
    """A setting has a bad value. The message starts with the variable's name."""


class QueryRefused(MssqlMcpError):
    """The SQL gate refused the statement; the database was not touched."""


class UnknownTable(MssqlMcpError):
    """A table name that is not in the catalog."""

    def __init__(self, name: str, suggestions: list[str]) -> None:
        self.name = name
        self.suggestions = suggestions
        hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else " Use list_tables to see the tables."
        super().__init__(f"Unknown table {name!r}.{hint}")


class InvalidArgument(MssqlMcpError):
    """A tool argument is out of its allowed range."""


class TranslationError(MssqlMcpError):
    """The embedded SQLite backend cannot translate this T-SQL construct."""


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
