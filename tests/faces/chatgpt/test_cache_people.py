"""The ChatGPT face's result cache never serves one person's rows to another: the database may answer each
person differently (their own database user, or a row-level-security policy on the session context)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from mssql_mcp.cache import ResultCache
from mssql_mcp.db.identity import identity_of, person_scope
from mssql_mcp.db.sqlite import SqliteDatabase
from mssql_mcp.faces.chatgpt.fetch import Fetcher, QueryRun
from mssql_mcp.faces.chatgpt.signing import signer_for
from mssql_mcp.queries import QueryService
from mssql_mcp.settings import load_settings
from tests.support.chatgpt_contract import TEST_ID_KEY

pytestmark = pytest.mark.anyio
SQL = "SELECT CompanyName FROM dbo.Customers WHERE CustomerID = 1"


async def test_a_cached_result_is_the_same_persons_only(demo_copy: Path) -> None:
    settings = load_settings(environ={"SQLITE_PATH": str(demo_copy), "RECORD_ID_KEYS": TEST_ID_KEY}, env_file=None)
    queries = QueryService(SqliteDatabase(demo_copy, read_only=True), max_rows=50, timeout=5, workers=2, read_only=True)
    cache: ResultCache[QueryRun] = ResultCache(ttl=300)
    fetcher = Fetcher(queries, base_url="http://127.0.0.1:9/chatgpt", cache=cache, signer=signer_for(settings, None))
    try:
        with person_scope(identity_of("alice")):
            alice, cached = await fetcher.run_query(SQL)
            assert not cached
            assert (await fetcher.run_query(SQL))[1]  # alice's own repeat is a hit
        with sqlite3.connect(demo_copy) as db:  # what bob's own run reads differs from alice's cached rows
            db.execute("UPDATE Customers SET CompanyName = 'Seen by bob' WHERE CustomerID = 1")
        with person_scope(identity_of("bob")):
            bob, cached = await fetcher.run_query(SQL)
        assert not cached and bob.rows == [["Seen by bob"]] and alice.rows != bob.rows
        nobody, cached = await fetcher.run_query(SQL)  # no one signed in: not alice's nor bob's entry
        assert not cached and len(cache) == 3
    finally:
        queries.close()
