"""T-SQL parsed for the embedded database: sqlglot's tsql dialect, keeping what its tree loses.

sqlglot maps DATEPART's and DATENAME's date part to a shared vocabulary, and some T-SQL abbreviations land
on the wrong part: `DATEPART(w, d)` is the weekday in T-SQL but reads as the week, `DATENAME(dy, d)` (day of
year) as the day, `DATENAME(hh, d)` as a 12-hour clock. SYSDATETIME (datetime2(7)) and GETDATE (datetime)
become the same node. Here DATEPART and DATENAME keep the part as written (as `tsql_datepart` /
`tsql_datename` calls are built from it, https://learn.microsoft.com/sql/t-sql/functions/datepart-transact-sql
lists the abbreviations), and SYSDATETIME stays a call of its own.

The gate parses with the stock dialect; a statement that uses one of these names is parsed again here.
"""

from __future__ import annotations

import re

from sqlglot import exp
from sqlglot.dialects.tsql import TSQL
from sqlglot.parsers.tsql import TSQLParser

NEEDS_OWN_PARSE = re.compile(r"\b(?:DATEPART|DATENAME|SYSDATETIME)\b", re.IGNORECASE)


def _datename(args: list[exp.Expr]) -> exp.Expr:
    return exp.Anonymous(this="TSQL_DATENAME_RAW", expressions=args)


class EmbeddedTSQL(TSQL):
    class Parser(TSQLParser):
        FUNCTIONS = {
            **TSQLParser.FUNCTIONS,
            "DATENAME": _datename,
            "SYSDATETIME": lambda args: exp.Anonymous(this="SYSDATETIME", expressions=args),
        }
        FUNCTION_PARSERS = {
            **TSQLParser.FUNCTION_PARSERS,
            "DATEPART": lambda self: self.expression(
                exp.Anonymous(this="TSQL_DATEPART_RAW", expressions=self._parse_csv(self._parse_bitwise))
            ),
        }


def part_name(node: exp.Expr) -> str:
    """The date part as written: `w`, `weekday`, `iso_week` (a bare word parses as a column)."""
    return node.name.lower() if isinstance(node, exp.Column | exp.Var | exp.Identifier) else ""
