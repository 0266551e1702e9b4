"""TOP … WITH TIES and TOP … PERCENT on SQLite, whose LIMIT takes a number of rows only.

Both become a LIMIT computed by a subquery over the same rows (https://learn.microsoft.com/sql/t-sql/queries/top-transact-sql):
- WITH TIES returns the first n rows and every row whose ORDER BY values equal the last of them: exactly the
  rows whose RANK() over that order is at most n, so the limit is the count of those;
- PERCENT returns that percentage of the rows, the count rounded up (TOP 10 PERCENT of 11 rows is 2).
"""

from __future__ import annotations

from sqlglot import exp

from mssql_mcp.errors import TranslationError


def apply(tree: exp.Expr) -> None:
    for select in list(tree.find_all(exp.Select)):
        limit = select.args.get("limit")
        options = limit.args.get("limit_options") if isinstance(limit, exp.Limit) else None
        if not isinstance(limit, exp.Limit) or not isinstance(options, exp.LimitOptions):
            continue
        ties, percent = bool(options.args.get("with_ties")), bool(options.args.get("percent"))
        if not (ties or percent):
            continue
        if ties and percent:
            raise TranslationError("TOP … PERCENT WITH TIES is not supported on the embedded SQLite database.")
        count = _ties_count(select, limit.expression) if ties else _percent_count(select, limit.expression)
        select.set("limit", exp.Limit(expression=exp.Subquery(this=count)))


def _rows(select: exp.Select) -> exp.Select:
    rows = select.copy()
    for key in ("limit", "order", "offset"):
        rows.set(key, None)
    return rows


def _ties_count(select: exp.Select, n: exp.Expr) -> exp.Select:
    order = select.args.get("order")
    if not isinstance(order, exp.Order) or not order.expressions:
        raise TranslationError("TOP … WITH TIES needs an ORDER BY (as on SQL Server).")
    if select.args.get("distinct") is not None:
        raise TranslationError("SELECT DISTINCT TOP … WITH TIES is not supported on the embedded SQLite database.")
    terms = [_named(select, o.copy()) for o in order.expressions]
    rank = exp.Window(this=exp.Anonymous(this="RANK", expressions=[]), order=exp.Order(expressions=terms))
    ranked = _rows(select)
    ranked.set("expressions", [exp.alias_(rank, "tsql_rank", quoted=True)])
    within = exp.LTE(this=exp.column("tsql_rank", quoted=True), expression=n.copy())
    return exp.select(exp.Count(this=exp.Star())).from_(ranked.subquery("tsql_ties")).where(within)


def _named(select: exp.Select, ordered: exp.Ordered) -> exp.Ordered:
    """An ORDER BY term that names a select-list alias or position, as the expression itself."""
    term = ordered.this
    found: exp.Expr | None = None
    if isinstance(term, exp.Literal) and term.is_int and 0 < int(term.name) <= len(select.expressions):
        found = select.expressions[int(term.name) - 1]
    elif isinstance(term, exp.Column) and not term.table:
        found = next((p for p in select.expressions if isinstance(p, exp.Alias) and p.alias == term.name), None)
    if found is not None:
        ordered.set("this", (found.this if isinstance(found, exp.Alias) else found).copy())
    return ordered


def _percent_count(select: exp.Select, percent: exp.Expr) -> exp.Select:
    total = exp.Count(this=exp.Star())
    share = exp.Div(this=exp.Mul(this=total, expression=exp.Cast(this=percent.copy(), to=exp.DataType.build("REAL"))),
                    expression=exp.Literal.number(100))  # fmt: skip
    rounded_up = exp.Anonymous(this="CEIL", expressions=[share])
    return exp.select(exp.Cast(this=rounded_up, to=exp.DataType.build("INTEGER"))).from_(
        _rows(select).subquery("tsql_percent")
    )
