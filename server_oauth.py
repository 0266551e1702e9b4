"""Claude face: `python server_oauth.py` serves list_tables, describe_table, execute_sql, get_table_sample."""

import sys

from mssql_mcp.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", "--face", "claude", *sys.argv[1:]]))
