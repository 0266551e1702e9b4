"""The ChatGPT face's tests (search and fetch), run again with SQL Server as the backend.

As in faces/test_claude_tools_mssql.py: the MCP server reaches the TDS test server (a copy of the demo database)
through each driver, and the face's own tests are imported unchanged, picking up this `chatgpt_server`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faces.chatgpt.test_tools import *  # noqa: F403 - collected here, against this module's chatgpt_server
from tests.faces.chatgpt.test_tools import MAX_RESULTS
from tests.support.procs import ServerProcess, running_server
from tests.support.tds import TdsServer
from tests.support.tds import fixtures as tds_fixtures
from tests.support.tds.fixtures import DriverCase, backend_env

pytestmark = pytest.mark.anyio
# The shared module-scoped fixtures (tests/support/tds/fixtures.py), bound here so that pytest finds them.
case, tds = tds_fixtures.module_case, tds_fixtures.demo_tds


@pytest.fixture(scope="module")
def chatgpt_server(
    tds: TdsServer, case: DriverCase, dev_server_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    env = {**dev_server_env, **backend_env(tds, case), "MAX_SEARCH_RESULTS": str(MAX_RESULTS)}
    with running_server(
        env, tmp_path_factory.mktemp(f"gpt-{case.id}"), face="chatgpt", health_path="/chatgpt/health"
    ) as server:
        yield server


async def test_describe_and_column_records_carry_sql_server_types(chatgpt_server: ServerProcess) -> None:
    record = await fetch(chatgpt_server, "table:dbo.Customers")  # noqa: F405
    for text in ("CustomerID", "CompanyName", "nvarchar(80)", "uniqueidentifier", "datetime2"):
        assert text in record["text"], text
    column = await fetch(chatgpt_server, "column:dbo.Orders:ShipCountry")  # noqa: F405
    assert "type: nvarchar(40)" in column["text"]
