"""The shape of every tool's structured content, as the `outputSchema` each tool declares.

A tool returns `Annotated[CallToolResult, Shape]` (the SDK's own mechanism): the SDK publishes Shape's JSON
Schema as the tool's `outputSchema` and checks each result's `structuredContent` against Shape before it
leaves. A check walks what the shape constrains, so a result's rows are declared an array of arrays with no
constraint per cell: the 100-row answer is checked row by row, not cell by cell (docs/performance.md has
the cost). `extra="forbid"` keeps the schema honest: a key the shaping code adds without declaring it here
fails the check in the tests.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired

from pydantic import ConfigDict, Field, WithJsonSchema
from typing_extensions import TypedDict

_CLOSED = ConfigDict(extra="forbid")

VALUES = (
    "One array per row, its values in the order of `columns`. Integers and floats are JSON numbers (an "
    "integer past 2^53 is a string); BIT is true/false; NULL is null. A DECIMAL, NUMERIC or MONEY value is a "
    "number when it has at most 15 significant digits, which a double reproduces exactly, and otherwise a "
    "string of its exact digits. A JSON number does not keep the scale (1234.50 is 1234.5): the column's type "
    'does (describe_table). Dates and times are ISO-8601 strings, binary is {"base64": ...}, and a value cut '
    "at MAX_CELL_BYTES ends with a note saying so."
)

# The rows, checked as arrays of arrays: no per-cell schema, so neither the SDK nor a client walks each value.
Rows = Annotated[
    list[Any],
    WithJsonSchema({"type": "array", "items": {"type": "array"}, "description": VALUES}),
]


class QueryResult(TypedDict):
    """A statement's result: its columns and rows, capped at MAX_ROWS rows and MAX_RESULT_BYTES."""

    __pydantic_config__ = _CLOSED  # type: ignore[misc]

    table: NotRequired[Annotated[str, Field(description="The table sampled, schema-qualified.")]]
    columns: list[str]
    rows: Rows
    row_count: Annotated[int, Field(description="Rows returned; for a write, rows affected.")]
    truncated: Annotated[bool, Field(description="True when more rows existed than were returned.")]
    truncated_reason: NotRequired[
        Annotated[Literal["rows", "bytes"], Field(description="Which cap cut it: MAX_ROWS or MAX_RESULT_BYTES.")]
    ]
    elapsed_ms: float


class Table(TypedDict):
    __pydantic_config__ = _CLOSED  # type: ignore[misc]

    schema: str
    name: str
    type: Literal["TABLE", "VIEW"]
    row_count: Annotated[int | None, Field(description="An estimate on SQL Server; null when unknown.")]


class TablePage(TypedDict):
    """One page of the tables and views; `next_cursor` is there when more follow."""

    __pydantic_config__ = _CLOSED  # type: ignore[misc]

    tables: list[Table]
    next_cursor: NotRequired[str]
    remaining: NotRequired[Annotated[int, Field(description="Tables after this page that match.")]]


class MatchingColumn(TypedDict):
    __pydantic_config__ = _CLOSED  # type: ignore[misc]

    name: str
    type: str
    description: str | None


class SchemaMatch(Table):
    score: float
    words_found: int
    key_columns: list[str]
    matching_columns: list[MatchingColumn]
    description: str | None


class SchemaMatches(TypedDict):
    """Tables and views that match the words, best first."""

    __pydantic_config__ = _CLOSED  # type: ignore[misc]

    words: list[str]
    matches: list[SchemaMatch]


class Column(TypedDict):
    __pydantic_config__ = _CLOSED  # type: ignore[misc]

    name: str
    type: Annotated[str, Field(description="SQL Server style, with length, precision and scale: decimal(10,2).")]
    nullable: bool
    default: str | None
    primary_key: bool
    identity: bool
    description: str | None


class ForeignKey(TypedDict):
    __pydantic_config__ = _CLOSED  # type: ignore[misc]

    name: str | None
    columns: list[str]
    references: str
    referenced_columns: list[str]


class Index(TypedDict):
    __pydantic_config__ = _CLOSED  # type: ignore[misc]

    name: str
    columns: list[str]
    unique: bool
    primary_key: bool


class TableDetail(Table):
    """A table's columns, keys and indexes."""

    description: str | None
    columns: list[Column]
    foreign_keys: list[ForeignKey]
    indexes: list[Index]


# -- the ChatGPT face ---------------------------------------------------------------------------


class SearchResult(TypedDict):
    __pydantic_config__ = _CLOSED  # type: ignore[misc]

    id: Annotated[str, Field(min_length=1, description="Pass it to fetch.")]
    title: Annotated[str, Field(min_length=1)]
    url: Annotated[str, Field(min_length=1, description="A page a person can open to see the record.")]


class SearchResults(TypedDict):
    """What search found: the same JSON as its text item."""

    __pydantic_config__ = _CLOSED  # type: ignore[misc]

    results: list[SearchResult]


class Document(TypedDict):
    """The record fetch read: the same JSON as its text item."""

    __pydantic_config__ = _CLOSED  # type: ignore[misc]

    id: Annotated[str, Field(min_length=1)]
    title: Annotated[str, Field(min_length=1)]
    text: Annotated[str, Field(description="The record as a model reads it: a compact table or column: value lines.")]
    url: Annotated[str, Field(min_length=1)]
    metadata: Annotated[
        dict[str, Any],
        Field(description="What the record is (kind, table, ...): numbers as numbers, flags as booleans."),
    ]
