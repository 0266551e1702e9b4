"""The side-by-side benchmark (issue 7): our server against dbhub and MCP Toolbox. See docs/performance.md."""
