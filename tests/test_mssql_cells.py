"""Long values from SQL Server: bounded where they are sent (SET TEXTSIZE), cut to MAX_CELL_BYTES and marked.

Through the real drivers to the TDS test server, which cuts (max) values at TEXTSIZE as SQL Server does.
"""

from __future__ import annotations

from typing import cast

from mssql_mcp.db.cells import cut_mark
from mssql_mcp.db.mssql import MssqlDatabase
from mssql_mcp.db.mssql_types import textsize
from mssql_mcp.settings import load_settings
from tests.support.tds import TdsServer
from tests.support.tds import fixtures as tds_fixtures
from tests.support.tds.fixtures import TYPE_SAMPLE, DriverCase, backend_env

case, fixture_db, server = tds_fixtures.case, tds_fixtures.fixture_db, tds_fixtures.server

MEMO = str(TYPE_SAMPLE["memo"])
VBIN = cast(bytes, TYPE_SAMPLE["vbin"])
MEMO_BYTES = len(MEMO.encode())  # 9013: "Grüße 👋 " is 13 bytes of UTF-8


def fetch(server: TdsServer, case: DriverCase, limit: int) -> dict[str, object]:
    db = MssqlDatabase(load_settings(backend_env(server, case, MAX_CELL_BYTES=str(limit)), env_file=None))
    try:
        result = db.execute("SELECT id, memo, vbin, doc FROM TypeSamples ORDER BY id", (), max_rows=10, timeout=5)
    finally:
        db.close()
    assert result.rows[1] == (2, None, None, None)  # NULLs stay NULL
    return dict(zip(result.columns, result.rows[0], strict=True))


def head(value: object, limit: int) -> str:
    """The text before the mark; the mark must be there."""
    assert isinstance(value, str) and value.endswith(cut_mark(limit))
    return value[: -len(cut_mark(limit))]


def test_a_value_that_fits_is_whole_one_byte_more_is_cut_and_marked(server: TdsServer, case: DriverCase) -> None:
    row = fetch(server, case, len(VBIN))
    assert row["memo"] == MEMO and row["vbin"] == VBIN and row["doc"] == TYPE_SAMPLE["doc"]
    row = fetch(server, case, len(VBIN) - 1)  # under TEXTSIZE: sent whole, cut here
    assert row["memo"] == MEMO and head(row["vbin"], len(VBIN) - 1) == "0x000102030405060708090A0B0C0D0E0F"
    row = fetch(server, case, MEMO_BYTES)
    assert row["memo"] == MEMO
    row = fetch(server, case, MEMO_BYTES - 1)
    assert head(row["memo"], MEMO_BYTES - 1) == MEMO[:-1] and row["doc"] == TYPE_SAMPLE["doc"]


def test_the_server_sends_at_most_textsize_and_what_it_cut_is_marked(server: TdsServer, case: DriverCase) -> None:
    limit = 1024
    row = fetch(server, case, limit)
    settings = [e.detail for e in server.events if e.kind == "statement" and "TEXTSIZE" in e.detail.upper()]
    assert settings and all(s.endswith(f"SET TEXTSIZE {textsize(limit)}") for s in settings)
    text = head(row["memo"], limit)
    assert MEMO.startswith(text) and limit - 3 <= len(text.encode()) <= limit  # whole characters only
    assert head(row["vbin"], limit).startswith("0x00010203")


def test_the_result_stops_at_max_result_bytes_while_it_is_read(server: TdsServer, case: DriverCase) -> None:
    env = backend_env(server, case, MAX_RESULT_BYTES="65536")
    db = MssqlDatabase(load_settings(env, env_file=None))
    try:
        sql = "SELECT t.memo FROM TypeSamples t, Customers c, Orders o WHERE t.id = 1"  # 9 rows of 9,013 bytes
        result = db.execute(sql, (), max_rows=100, timeout=5)
    finally:
        db.close()
    assert result.truncated and result.truncated_reason == "bytes"
    assert 1 <= result.row_count < 9 and result.rows[0] == (MEMO,)
    assert result.size_bytes is not None and result.size_bytes <= 65536
