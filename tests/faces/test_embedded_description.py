"""On the embedded database, execute_sql's description says it is SQLite speaking T-SQL, and that what it
cannot answer as SQL Server would is refused (docs/embedded_database.md)."""

from __future__ import annotations

import pytest

from tests.support.mcp_client import connect
from tests.support.procs import ServerProcess

pytestmark = pytest.mark.anyio


async def test_execute_sql_says_the_embedded_database_is_sqlite_speaking_tsql(dev_server: ServerProcess) -> None:
    async with connect(dev_server.base_url, "streamable") as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    description = tools["execute_sql"].description or ""
    assert "SQLite" in description and "T-SQL" in description and "refused" in description
