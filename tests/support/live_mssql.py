"""The real SQL Server the opt-in live suites use: MSSQL_TEST_CONNECTION_STRING, as the backend's settings."""

from __future__ import annotations

import os

from mssql_mcp.db.mssql import MssqlDatabase
from mssql_mcp.settings import load_settings

LIVE = os.environ.get("MSSQL_TEST_CONNECTION_STRING")


def live_database(connection_string: str) -> MssqlDatabase:
    driver = "FreeTDS" if "freetds" in connection_string.lower() else "ODBC Driver 18 for SQL Server"
    settings = load_settings(
        {"MSSQL_HOST": "live", "MSSQL_CONNECTION_STRING": connection_string, "MSSQL_DRIVER": driver}, env_file=None
    )
    return MssqlDatabase(settings)
