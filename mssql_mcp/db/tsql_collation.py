"""Text compares under TSQL_CI_AS: the places where SQLite picks a collation get an explicit COLLATE.

SQLite uses an operand's explicit COLLATE for `=`, `<`, IN and BETWEEN, and the term's collation for
GROUP BY, ORDER BY and DISTINCT (https://www.sqlite.org/datatype3.html#collation). SQL Server's default
collations are case-insensitive and accent-sensitive, so each of those, when it involves text, is given
TSQL_CI_AS here. LIKE needs nothing: the backend's own `like` function applies the same rules.

A GUID column prints in upper case, and compares and sorts under TSQL_GUID: case-insensitively, and ordered
by SQL Server's byte groups (the last six bytes first), not as text.

UNION, INTERSECT and EXCEPT compare rows by the collation of the first SELECT's columns, and
COUNT(DISTINCT …) by its argument's, so those get TSQL_CI_AS too.
"""

from __future__ import annotations

from sqlglot import exp

from mssql_mcp.db.tsql_functions import COLLATION, GUID_COLLATION
from mssql_mcp.db.tsql_semantics import ColumnTypes, value_type

_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)


def _collated(node: exp.Expr, collation: str = COLLATION) -> exp.Expr:
    if isinstance(node, exp.Collate):
        return node
    return exp.Collate(this=node, expression=exp.Var(this=collation))


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
        guid = any(value_type(o, columns) == "GUID" for o in operands)
        if not numbers and any(_text(o, columns) for o in operands):
            node.set("this", _collated(node.this, GUID_COLLATION if guid else COLLATION))
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
    for count in list(tree.find_all(exp.Count)):  # COUNT(DISTINCT x): distinct under the argument's collation
        distinct = count.this
        if isinstance(distinct, exp.Distinct):
            distinct.set("expressions", [_collated(e) if _text(e, columns) else e for e in distinct.expressions])
    for union in list(tree.find_all(exp.SetOperation)):
        if union.args.get("distinct"):
            _first_select_collated(union, columns)
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
    if not kind and isinstance(select, exp.Select) and isinstance(term, exp.Column):
        kind = _derived_type(select, term, columns)
    collation = GUID_COLLATION if kind == "GUID" else COLLATION
    if kind != "GUID" and not _text(_unaliased(named) if named is not None else term, columns):
        return
    if named is not None and isinstance(term, exp.Literal):  # ORDER BY 2: order by the expression itself
        ordered.set("this", _collated(_unaliased(named).copy(), collation))
    else:
        ordered.set("this", _collated(term, collation))


def _derived_type(select: exp.Select, column: exp.Column, columns: ColumnTypes) -> str:
    """The type of a derived table's column, from the projection that names it (a GUID sorts apart)."""
    source = select.args.get("from_") or select.args.get("from")
    derived = source.this if isinstance(source, exp.From) else None
    if not isinstance(derived, exp.Subquery) or (column.table and column.table != derived.alias):
        return ""
    inner = derived.this
    while isinstance(inner, exp.SetOperation):
        inner = inner.this
    if not isinstance(inner, exp.Select):
        return ""
    for projection in inner.expressions:
        if projection.alias_or_name.lower() == column.name.lower():
            return value_type(_unaliased(projection), columns)
    return ""


def _first_select_collated(union: exp.SetOperation, columns: ColumnTypes) -> None:
    """SQLite compares a compound SELECT's rows by the collation of the leftmost SELECT's columns."""
    first = union.this
    while isinstance(first, exp.SetOperation):
        first = first.this
    if not isinstance(first, exp.Select):
        return
    out: list[exp.Expr] = []
    for projection in first.expressions:
        inner = _unaliased(projection)
        if isinstance(inner, exp.Star) or not _text(inner, columns) or isinstance(inner, exp.Collate):
            out.append(projection)
            continue
        name = (
            projection.alias
            if isinstance(projection, exp.Alias)
            else inner.name
            if isinstance(inner, exp.Column)
            else ""
        )
        out.append(exp.alias_(_collated(inner), name, quoted=True))
    first.set("expressions", out)


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
