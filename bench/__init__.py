"""The side-by-side benchmark: our server against dbhub and MCP Toolbox. See docs/performance.md."""
