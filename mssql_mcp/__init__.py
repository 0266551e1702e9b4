"""mssql-mcp: an MCP server that lets Claude and ChatGPT query SQL Server safely."""

__version__ = "0.1.0"
