"""The Claude face's tool tests, run again with SQL Server as the backend.

The MCP server runs as a user runs it (`MSSQL_HOST=127.0.0.1,PORT`), reaching the TDS test server, which
serves a copy of the demo database, through pyodbc with FreeTDS, ODBC Driver 18, and Driver 18 over TLS.
Every test of faces/test_claude_tools.py is imported unchanged (a new one joins by itself);
they pick up this module's `dev_server`. Only the error
test is rewritten, since SQL Server words its errors differently from SQLite.
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faces.test_claude_tools import *  # noqa: F403 - every tool test, collected here against this dev_server
from tests.support.mcp_client import connect, text_of
from tests.support.procs import ServerProcess, free_port, running_server, start_server
from tests.support.tds import TdsServer
from tests.support.tds import fixtures as tds_fixtures
from tests.support.tds.fixtures import DriverCase, backend_env

pytestmark = pytest.mark.anyio
# SQLite's wording of errors; replaced below by test_sql_server_errors_are_one_line_with_their_number.
globals().pop("test_execute_sql_errors_are_one_line_tool_errors", None)
# The shared module-scoped fixtures (tests/support/tds/fixtures.py), bound here so that pytest finds them.
case, tds = tds_fixtures.module_case, tds_fixtures.demo_tds


@pytest.fixture(scope="module")
def dev_server(
    tds: TdsServer, case: DriverCase, dev_server_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    env = {**dev_server_env, **backend_env(tds, case)}
    with running_server(env, tmp_path_factory.mktemp(f"mcp-{case.id}")) as server:
        yield server


def health(server: ServerProcess) -> dict[str, object]:
    with urllib.request.urlopen(server.base_url + "/health", timeout=10) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


async def test_health_names_the_backend(dev_server: ServerProcess) -> None:
    body = health(dev_server)
    assert body["status"] == "ok" and body["database"] == "mssql"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("DROP TABLE Customers", "Refused"),
        ("SELECT * INTO Evil FROM Customers", "Refused"),
        ("SELECT nope FROM Customers", "SQL error 207: Invalid column name 'nope'"),
        ("SELECT * FROM NoSuchTable", "SQL error 208: Invalid object name 'NoSuchTable'"),
    ],
)
async def test_sql_server_errors_are_one_line_with_their_number(
    dev_server: ServerProcess, query: str, message: str
) -> None:
    async with connect(dev_server.base_url) as client:
        result = await client.call_tool("execute_sql", {"query": query})
        assert result.is_error and message in text_of(result) and "\n" not in text_of(result)
        assert not (await client.call_tool("execute_sql", {"query": "SELECT 1 AS one"})).is_error


async def test_nothing_is_ever_committed(dev_server: ServerProcess, tds: TdsServer) -> None:
    async with connect(dev_server.base_url) as client:
        await client.call_tool("execute_sql", {"query": "SELECT TOP 1 * FROM Orders"})
    assert "commit" not in tds.kinds() and "rollback" in tds.kinds()


async def test_a_connection_dropped_mid_query(dev_server: ServerProcess, tds: TdsServer) -> None:
    query = "SELECT TOP 500 * FROM OrderLines ORDER BY OrderID, LineNumber"
    async with connect(dev_server.base_url) as client:
        tds.faults.add("FROM OrderLines ORDER BY OrderID, LineNumber", drop=True, times=1)
        result = await client.call_tool("execute_sql", {"query": query})
        assert not result.is_error, text_of(result)  # the read was retried on a fresh connection
        tds.faults.add("FROM OrderLines ORDER BY OrderID, LineNumber", drop=True)
        result = await client.call_tool("execute_sql", {"query": query})
        assert result.is_error and "was lost" in text_of(result) and "\n" not in text_of(result)
        tds.faults.clear()
        assert not (await client.call_tool("execute_sql", {"query": query})).is_error


async def test_wrong_password_is_a_clear_tool_error(
    tds: TdsServer, case: DriverCase, dev_server_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**dev_server_env, **backend_env(tds, case, MSSQL_PASSWORD="not-the-password")}
    with running_server(env, tmp_path) as server:
        assert health(server)["status"] == "degraded"
        async with connect(server.base_url) as client:
            result = await client.call_tool("list_tables", {})
        assert result.is_error and "18456" in text_of(result) and "not-the-password" not in text_of(result)
        assert "not-the-password" not in server.log()


# Each case waits for the server to notice the database came back: the TLS cases add nothing the plain
# Driver 18 case does not show, so they run with the slow tests.
@pytest.mark.parametrize(
    "case", [pytest.param(c, id=c.id, marks=[pytest.mark.slow] if c.tls else []) for c in tds_fixtures.DRIVER_CASES]
)
async def test_database_down_at_start_then_back(
    case: DriverCase, demo_db: Path, dev_server_env: dict[str, str], tmp_path: Path
) -> None:
    copy = tmp_path / "demo.sqlite"
    shutil.copy(demo_db, copy)
    tds = TdsServer(copy, tmp_path / "tds", tls=case.tls, port=free_port())
    env = {**dev_server_env, **backend_env(tds, case)}  # nothing listens on the port yet
    with running_server(env, tmp_path) as server:
        body = health(server)
        assert body["status"] == "degraded" and body["reason"]
        async with connect(server.base_url) as client:
            result = await client.call_tool("execute_sql", {"query": "SELECT 1 AS one"})
            assert result.is_error and "\n" not in text_of(result)
            with tds.running():
                deadline = time.monotonic() + 20
                while health(server)["status"] != "ok" and time.monotonic() < deadline:
                    time.sleep(0.2)
                assert health(server)["status"] == "ok"
                result = await client.call_tool("execute_sql", {"query": "SELECT TOP 2 CustomerID FROM Customers"})
                assert not result.is_error, text_of(result)
            result = await client.call_tool("execute_sql", {"query": "SELECT 1 AS one"})
            assert result.is_error  # down again: an error, and the MCP server keeps running
        assert server.proc.poll() is None


async def test_writable_login_warns_at_start_or_refuses_to_start(
    case: DriverCase, demo_db: Path, dev_server_env: dict[str, str], tmp_path: Path
) -> None:
    tds = TdsServer(demo_db, tmp_path / "tds", tls=case.tls, roles={"public", "db_owner"})
    with tds.running():
        env = {**dev_server_env, **backend_env(tds, case)}
        with running_server(env, tmp_path) as server:
            deadline = time.monotonic() + 10
            while "can write" not in server.log() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert "WARNING" in server.log() and "can write: db_owner" in server.log()
        with pytest.raises(RuntimeError, match="server exited with 2") as info:
            start_server({**env, "MSSQL_REFUSE_WRITABLE_LOGIN": "true"}, tmp_path).stop()
        assert "MSSQL_REFUSE_WRITABLE_LOGIN" in str(info.value) and "db_owner" in str(info.value)
