"""Every setting, declared once.

Each field of `Settings` is one row of the table: its environment variable, type, default and help
live together, in one module per group of rows (server_rows, query_rows, signin_rows, identity_rows; model.py
joins them into the one `Settings`), and everything else is derived from it: `load_settings()`, `mssql-mcp config`,
`.env.example` and the README's configuration table (`make docs`; a test keeps them in step).

Only the entrypoints and `cli.py` call `load_settings()`; the rest of the code is handed a `Settings`.
"""

from mssql_mcp.settings.fields import Secret, setting
from mssql_mcp.settings.load import Row, env_name, load_settings, rows
from mssql_mcp.settings.model import Settings

__all__ = ["Row", "Secret", "Settings", "env_name", "load_settings", "rows", "setting"]
