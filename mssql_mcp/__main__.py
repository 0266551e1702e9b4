"""`python -m mssql_mcp` is an alias of the `mssql-mcp` console script."""

from mssql_mcp.cli import main

raise SystemExit(main())
