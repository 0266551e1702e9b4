"""Names vulture cannot see being used: called by a framework, by the standard library, or by the tests.

`make lint` runs `vulture mssql_mcp vulture_whitelist.py --min-confidence 80`. Unused functions, methods and
attributes are reported at 60%; with this list, `vulture mssql_mcp vulture_whitelist.py --min-confidence 60`
prints nothing either, so anything it does print is a leftover to remove (or a new entry here, with its reason).
"""

# ruff: noqa: B018  (each line is a bare use of a name: that is what vulture reads)

from vulture.whitelist_utils import Whitelist

_ = Whitelist()

# Tools the MCP SDK registers through `@server.tool(...)` and calls by name (mssql_mcp/faces/claude.py,
# mssql_mcp/faces/chatgpt/tools.py).
_.list_tables
_.describe_table
_.execute_sql
_.get_table_sample
_.search
_.fetch

# The SDK's OAuthAuthorizationServerProvider protocol, called by its auth routes and bearer middleware
# (mssql_mcp/oauth/provider.py).
_.register_client
_.authorize
_.load_refresh_token
_.exchange_refresh_token
_.verify_token
_.revoke_token

# Module `__getattr__` (PEP 562): imports the OAuth wiring on first use (mssql_mcp/oauth/__init__.py).
_.__getattr__

# Standard library hooks set as attributes: configparser's key folding (mssql_mcp/db/drivers.py) and
# sqlite3's row type (mssql_mcp/oauth/sqlite_store.py).
_.optionxform
_.row_factory

# Counters and probes the tests read to see what happened inside (cache hits and misses, connections thrown
# away, statements the watchdog stopped, per-caller work in flight, stuck workers), and the check that the
# gate's table of builtin node types still matches what sqlglot parses (tests/test_sqlgate.py).
_.misses
_.discarded
_.interrupts
_.in_flight
_.stuck_workers
_.derive_builtin_nodes
