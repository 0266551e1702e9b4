"""Text compares under TSQL_CI_AS: the places where SQLite picks a collation get an explicit COLLATE.

SQLite uses an operand's explicit COLLATE for `=`, `<`, IN and BETWEEN, and the term's collation for
GROUP BY, ORDER BY and DISTINCT (https://www.sqlite.org/datatype3.html#collation). SQL Server's default
collations are case-insensitive and accent-sensitive, so each of those, when it involves text, is given
TSQL_CI_AS here. LIKE needs nothing: the backend's own `like` function applies the same rules.

A GUID column counts as text (SQL Server compares GUIDs case-insensitively) and prints in upper case; an
ORDER BY on one is refused, since SQL Server orders GUIDs by byte groups (the last six bytes first).
"""

from __future__ import annotations

from sqlglot import exp

from mssql_mcp.db.tsql_functions import COLLATION
from mssql_mcp.db.tsql_semantics import ColumnTypes, value_type
from mssql_mcp.errors import TranslationError

_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)


def _collated(node: exp.Expr) -> exp.Expr:
    if isinstance(node, exp.Collate):
        return node
    return exp.Collate(this=node, expression=exp.Var(this=COLLATION))


def _text(node: exp.Expr, columns: ColumnTypes) -> bool:
    """Whether the collation may matter. SQLite uses a collation only when both values are text, so it is
    given to every operand that is not known to be a number: a derived table's column has no declared type."""
    if isinstance(node, exp.Literal):
        return node.is_string
    if isinstance(node, exp.Column) and (node.table.lower(), node.name.lower()) in columns:
        # A declared number or date keeps SQLite's own comparison (and so its indexes).
        return value_type(node, columns) in ("TEXT", "GUID")
    return not isinstance(node, exp.Star | exp.Null | exp.Boolean)


def _projection(select: exp.Select, term: exp.Expr) -> exp.Expr | None:
    """The select-list expression an ORDER BY term names: by alias or by position."""
    if isinstance(term, exp.Literal) and term.is_int:
        index = int(term.name) - 1
        return select.expressions[index] if 0 <= index < len(select.expressions) else None
    if isinstance(term, exp.Column) and not term.table:
        for projection in select.expressions:
            if isinstance(projection, exp.Alias) and projection.alias.lower() == term.name.lower():
                return projection
    return None


def _unaliased(node: exp.Expr) -> exp.Expr:
    return node.this if isinstance(node, exp.Alias) else node


def apply(tree: exp.Expr, columns: ColumnTypes) -> exp.Expr:
    for node in list(tree.find_all(*_COMPARISONS, exp.Between)):
        if isinstance(node.parent, exp.Update):  # UPDATE … SET col = value is an assignment
            continue
        operands = [
            o for o in (node.this, node.args.get("expression"), node.args.get("low"), node.args.get("high")) if o
        ]
        numbers = any(isinstance(o, exp.Literal) and not o.is_string for o in operands)
        if not numbers and any(_text(o, columns) for o in operands):
            node.set("this", _collated(node.this))
    for node in list(tree.find_all(exp.In)):
        if _text(node.this, columns) or any(_text(e, columns) for e in node.expressions):
            node.set("this", _collated(node.this))
    for aggregate in list(tree.find_all(exp.Min, exp.Max)):  # MIN/MAX of text: SQLite uses the argument's collation
        if _text(aggregate.this, columns):
            aggregate.set("this", _collated(aggregate.this))
    for group in list(tree.find_all(exp.Group)):
        group.set("expressions", [_collated(e) if _text(e, columns) else e for e in group.expressions])
    for window in list(tree.find_all(exp.Window)):
        partition = window.args.get("partition_by") or []
        window.set("partition_by", [_collated(e) if _text(e, columns) else e for e in partition])
    for ordered in list(tree.find_all(exp.Ordered)):
        _order_term(ordered, columns)
    for select in list(tree.find_all(exp.Select)):
        _projections(select, columns)
    return tree


def _order_term(ordered: exp.Ordered, columns: ColumnTypes) -> None:
    term = ordered.this
    select = ordered.find_ancestor(exp.Select)
    top_level = (
        isinstance(select, exp.Select) and isinstance(ordered.parent, exp.Order) and ordered.parent.parent is select
    )
    named = _projection(select, term) if top_level and isinstance(select, exp.Select) else None
    kind = value_type(_unaliased(named) if named is not None else term, columns)
    if kind == "GUID":
        raise TranslationError(
            "ORDER BY a uniqueidentifier is not supported on the embedded database "
            "(SQL Server orders GUIDs by byte groups, not as text)."
        )
    if not _text(_unaliased(named) if named is not None else term, columns):
        return
    if named is not None and isinstance(term, exp.Literal):  # ORDER BY 2: order by the expression itself
        ordered.set("this", _collated(_unaliased(named).copy()))
    else:
        ordered.set("this", _collated(term))


def _projections(select: exp.Select, columns: ColumnTypes) -> None:
    """GUID columns print in upper case; SELECT DISTINCT compares text under the collation."""
    distinct = select.args.get("distinct") is not None
    out: list[exp.Expr] = []
    for projection in select.expressions:
        inner = _unaliased(projection)
        kind = value_type(inner, columns)
        if isinstance(inner, exp.Column) and (kind == "GUID" or distinct):
            name = projection.alias if isinstance(projection, exp.Alias) else inner.name
            value: exp.Expr = exp.Anonymous(this="UPPER", expressions=[inner]) if kind == "GUID" else inner
            out.append(exp.alias_(_collated(value) if distinct else value, name, quoted=True))
        else:
            out.append(projection)
    select.set("expressions", out)
