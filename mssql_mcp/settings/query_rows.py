"""Settings rows: what one query may cost, and the ChatGPT face's search."""

from __future__ import annotations

from dataclasses import dataclass

from mssql_mcp.settings.fields import Secret, setting


@dataclass(frozen=True)
class QueryRows:
    # --- queries and safety ------------------------------------------------------------------
    read_only_mode: bool = setting(
        "READ_ONLY_MODE", True, "Only single SELECT statements run, and nothing is ever committed.", group="safety"
    )
    allow_ddl: bool = setting(
        "ALLOW_DDL", False, "With READ_ONLY_MODE=false, also allow DDL (CREATE, ALTER, DROP).", group="safety"
    )
    allow_user_functions: bool = setting(
        "ALLOW_USER_FUNCTIONS",
        True,
        "Allow calls of schema-qualified user-defined functions (dbo.fn_total(x)); SQL Server forbids side "
        "effects in them. false: the gate refuses them (built-in functions stay allowed).",
        group="safety",
    )
    allow_server_views: bool = setting(
        "ALLOW_SERVER_VIEWS",
        False,
        "Allow server-level views: sys.server_*, sys.dm_*, sys.sql_logins and the like, and objects in master "
        "and msdb. Off: only the current database's catalog views (sys.tables, INFORMATION_SCHEMA.*, ...).",
        group="safety",
    )
    max_rows: int = setting("MAX_ROWS", 1000, "Row cap per result; results past it say truncated.", group="safety")
    query_timeout_seconds: float = setting(
        "QUERY_TIMEOUT_SECONDS", 30.0, "Per-query timeout; the query is cancelled past it.", group="safety"
    )
    max_cell_bytes: int = setting(
        "MAX_CELL_BYTES",
        65_536,
        "Largest text or binary value one result cell carries, in bytes; a longer one is cut and marked as cut. "
        "SQL Server is asked (SET TEXTSIZE) not to send much more.",
        group="safety",
    )
    db_workers: int = setting(
        "DB_WORKERS",
        8,
        "Worker threads for database calls (the event loop never blocks on the database).",
        group="safety",
    )
    db_workers_per_caller: int = setting(
        "DB_WORKERS_PER_CALLER",
        0,
        "Most database workers one caller (a signed-in person, or a client address without sign-in) holds at "
        "once; their further calls wait their turn, up to their timeout. 0: half of DB_WORKERS.",
        group="safety",
    )
    max_statement_bytes: int = setting(
        "MAX_STATEMENT_BYTES",
        65_536,
        "Longest SQL statement accepted, in UTF-8 bytes; a longer one is refused before it is parsed.",
        group="safety",
    )
    max_result_bytes: int = setting(
        "MAX_RESULT_BYTES",
        4 * 1024 * 1024,
        "Largest result one tool call returns (rows, as JSON, estimated); past it the rows stop and the result "
        "says truncated, reason bytes.",
        group="safety",
    )
    max_value_bytes: int = setting(
        "MAX_VALUE_BYTES",
        16 * 1024 * 1024,
        "Embedded SQLite: largest string or blob a statement may read or build (SQLITE_LIMIT_LENGTH); past it "
        "the statement fails with an error that says so.",
        group="safety",
    )
    # --- ChatGPT face ------------------------------------------------------------------------
    max_search_results: int = setting(
        "MAX_SEARCH_RESULTS", 20, "Most results one ChatGPT search returns.", group="chatgpt"
    )
    cache_ttl_seconds: int = setting(
        "CACHE_TTL_SECONDS", 300, "How long ChatGPT query results stay cached.", group="chatgpt"
    )
    search_timeout_seconds: float = setting(
        "SEARCH_TIMEOUT_SECONDS",
        5.0,
        "Time budget of one ChatGPT keyword search; past it, the results found so far are returned.",
        group="chatgpt",
    )
    record_id_keys: Secret | None = setting(
        "RECORD_ID_KEYS",
        None,
        "Keys (comma-separated, 32+ characters each) for the MAC every ChatGPT record id carries: the first signs, "
        "all verify (rotation). Unset: a key derived from the OAuth store's, shared by replicas that share it.",
        group="chatgpt",
        secret=True,
    )
