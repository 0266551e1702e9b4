"""The embedded backend's second layer: an authorizer on every user statement (not on the backend's own
catalog queries), so a statement the gate missed still cannot reach SQLite's dangerous corners.

SQLite asks the authorizer about each action while it prepares a statement
(https://www.sqlite.org/c3ref/set_authorizer.html). This one allows:
- functions on SQLITE_FUNCTIONS only: SQLite's own names, as the T-SQL translation emits them
  (`like`, `strftime`, `group_concat`, ...). Not `load_extension`, `fts3_tokenizer` (it hands out native
  pointers), `zeroblob`/`printf` (gigantic values), `readfile`, `sqlite_*` and the like;
- no PRAGMA, including the `pragma_*` table-valued functions, which reveal file paths and settings;
- no ATTACH/DETACH, no virtual-table creation, and no reads of the internal virtual tables (dbstat,
  sqlite_dbpage, ...). Transaction control stays allowed: Python's sqlite3 begins and commits a write
  itself, under the same authorizer (and the gate refuses it in the caller's text).
Installing an authorizer expires the connection's prepared statements, so a cached statement is
prepared again under it (SQLite's sqlite3_set_authorizer does this itself).
"""

from __future__ import annotations

import sqlite3

# What the T-SQL translation emits, plus SQLite's other pure built-ins: core, date, aggregate, window,
# math and JSON functions (https://www.sqlite.org/lang_corefunc.html and the pages it links).
SQLITE_FUNCTIONS = frozenset(
    """
abs char coalesce concat concat_ws glob hex ifnull iif instr length like likelihood likely lower ltrim max min
nullif octet_length random randomblob replace round rtrim sign soundex substr substring trim typeof unhex unicode
unlikely upper tsql_cast tsql_try_cast tsql_charindex tsql_replace tsql_stuff tsql_replicate tsql_datefromparts
tsql_dateadd tsql_datediff tsql_datename tsql_datepart tsql_now tsql_patindex tsql_avg
tsql_reverse tsql_space tsql_divide tsql_decimal_divide tsql_modulo tsql_concat_ws
date time datetime julianday unixepoch strftime timediff current_date current_time current_timestamp
avg count group_concat string_agg sum total
row_number rank dense_rank percent_rank cume_dist ntile lag lead first_value last_value nth_value
acos acosh asin asinh atan atan2 atanh ceil ceiling cos cosh degrees exp floor ln log log10 log2 mod pi pow
power radians sin sinh sqrt tan tanh trunc
json jsonb json_array jsonb_array json_array_length json_error_position json_extract jsonb_extract -> ->>
json_insert jsonb_insert json_object jsonb_object json_patch jsonb_patch json_pretty json_remove jsonb_remove
json_replace jsonb_replace json_set jsonb_set json_type json_valid json_quote json_group_array jsonb_group_array
json_group_object jsonb_group_object
""".split()
)
# Eponymous virtual tables that describe the file rather than its data.
_HIDDEN_TABLES = frozenset({"dbstat", "sqlite_dbpage", "sqlite_stmt", "fts3tokenize"})
_DENIED_ACTIONS = {
    sqlite3.SQLITE_ATTACH: "ATTACH",
    sqlite3.SQLITE_DETACH: "DETACH",
    sqlite3.SQLITE_CREATE_VTABLE: "virtual tables",
    sqlite3.SQLITE_DROP_VTABLE: "virtual tables",
}


class Authorizer:
    """One per statement: remembers what it refused, so the caller can say so in the product's words."""

    def __init__(self) -> None:
        self.refused: str | None = None

    def __call__(self, action: int, arg1: str | None, arg2: str | None, _db: str | None, _src: str | None) -> int:
        what = self._refusal(action, arg1, arg2)
        if what is None:
            return sqlite3.SQLITE_OK
        self.refused = self.refused or what
        return sqlite3.SQLITE_DENY

    @staticmethod
    def _refusal(action: int, arg1: str | None, arg2: str | None) -> str | None:
        if action == sqlite3.SQLITE_FUNCTION:
            name = (arg2 or "").lower()
            return None if name in SQLITE_FUNCTIONS else f"the function {arg2}"
        if action == sqlite3.SQLITE_PRAGMA:
            return f"PRAGMA {arg1} (and the pragma_{arg1} function)"
        if action == sqlite3.SQLITE_READ:
            table = (arg1 or "").lower()
            return f"the internal table {arg1}" if table.startswith("pragma_") or table in _HIDDEN_TABLES else None
        return _DENIED_ACTIONS.get(action)
