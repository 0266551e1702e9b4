"""A TDS (SQL Server wire protocol) test server backed by SQLite. See server.py."""

from tests.support.tds.server import Event, TdsServer

__all__ = ["Event", "TdsServer"]
