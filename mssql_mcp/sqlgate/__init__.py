"""The SQL gate: decide whether one T-SQL text may run, before any database sees it.

    check(sql, read_only=True)   -> Verdict("read", tree)  or raise QueryRefused("Refused: ...")

`check` holds the entry point and the statement-level decisions, `walk` the per-node checks, and
`rules` and `functions` the data (allowlists and refusal reasons) both of them read; `Policy` holds
the choices a DBA may change. The gate is pure: it imports nothing from the database, OAuth or
face layers (tests/test_layering.py says so).
"""

from mssql_mcp.sqlgate.check import StatementKind, Verdict, check
from mssql_mcp.sqlgate.rules import DEFAULT_POLICY, Policy

__all__ = ["DEFAULT_POLICY", "Policy", "StatementKind", "Verdict", "check"]
