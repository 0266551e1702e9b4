"""The T-SQL built-in functions a statement may call: an allowlist, as data.

Source of truth: Microsoft's "Functions (Transact-SQL)" reference
(https://learn.microsoft.com/sql/t-sql/functions/functions), one group per page of it. A name is here
only when the function is a pure read: it computes a value from its arguments, the row, or the
current session's identity, and never reads a file, a path, another server or server-wide state.

An unqualified call, or one qualified by `sys` or `INFORMATION_SCHEMA`, must name one of these
(`walk.function_problem`). sqlglot turns many of them into its own node types (LEN -> Length);
BUILTIN_NODES lists the node types these names parse to, so a node type sqlglot makes from some
other dialect's function (UNNEST, MD5, READ_CSV, ...) is refused as well. tests/test_sqlgate.py
derives BUILTIN_NODES from the names again, so the two cannot drift apart.
"""

from __future__ import annotations

_AGGREGATE = """
APPROX_COUNT_DISTINCT APPROX_PERCENTILE_CONT APPROX_PERCENTILE_DISC AVG CHECKSUM_AGG COUNT COUNT_BIG GROUPING
GROUPING_ID MAX MIN PRODUCT STDEV STDEVP STRING_AGG SUM VAR VARP JSON_ARRAYAGG JSON_OBJECTAGG
"""
_WINDOW = """
ROW_NUMBER RANK DENSE_RANK NTILE CUME_DIST FIRST_VALUE LAST_VALUE LAG LEAD PERCENTILE_CONT PERCENTILE_DISC
PERCENT_RANK
"""
_DATE = """
CURRENT_TIMESTAMP CURRENT_TIMEZONE CURRENT_TIMEZONE_ID DATE_BUCKET DATEADD DATEDIFF DATEDIFF_BIG DATEFROMPARTS
DATENAME DATEPART DATETIME2FROMPARTS DATETIMEFROMPARTS DATETIMEOFFSETFROMPARTS DATETRUNC DAY EOMONTH GETDATE
GETUTCDATE ISDATE MONTH SMALLDATETIMEFROMPARTS SWITCHOFFSET SYSDATETIME SYSDATETIMEOFFSET SYSUTCDATETIME
TIMEFROMPARTS TODATETIMEOFFSET YEAR
"""
_STRING = """
ASCII CHAR CHARINDEX CONCAT CONCAT_WS DATALENGTH DIFFERENCE FORMAT FORMATMESSAGE LEFT LEN LOWER LTRIM NCHAR PATINDEX
QUOTENAME REPLACE REPLICATE REVERSE RIGHT RTRIM SOUNDEX SPACE STR STRING_ESCAPE STRING_SPLIT STUFF SUBSTRING TRANSLATE
TRIM
UNICODE UNISTR UPPER REGEXP_LIKE REGEXP_REPLACE REGEXP_SUBSTR REGEXP_INSTR REGEXP_COUNT REGEXP_MATCHES
REGEXP_SPLIT_TO_TABLE
"""
_MATH = """
ABS ACOS ASIN ATAN ATN2 CEILING COS COT DEGREES EXP FLOOR LOG LOG10 PI POWER RADIANS RAND ROUND SIGN SIN SQRT
SQUARE TAN GREATEST LEAST GET_BIT SET_BIT LEFT_SHIFT RIGHT_SHIFT BIT_COUNT GENERATE_SERIES
"""
_LOGICAL_AND_NULLS = """
CHOOSE IIF ISNULL COALESCE NULLIF ISNUMERIC
"""
_JSON = """
ISJSON JSON_VALUE JSON_QUERY JSON_MODIFY JSON_OBJECT JSON_ARRAY JSON_PATH_EXISTS JSON_CONTAINS OPENJSON
"""
_CONVERSION = """
CAST CONVERT PARSE TRY_CAST TRY_CONVERT TRY_PARSE
"""
_HASH_AND_IDS = """
CHECKSUM BINARY_CHECKSUM HASHBYTES COMPRESS DECOMPRESS NEWID
"""
# Who is asking, and names in the current database (metadata functions that take an id or a name).
_IDENTITY = """
USER_NAME USER_ID SUSER_NAME SUSER_SNAME SUSER_ID SUSER_SID ORIGINAL_LOGIN SESSION_CONTEXT CURRENT_USER
SESSION_USER SYSTEM_USER USER IS_MEMBER IS_ROLEMEMBER HAS_PERMS_BY_NAME APP_NAME
"""
_METADATA = """
DB_NAME DB_ID SCHEMA_NAME SCHEMA_ID OBJECT_ID OBJECT_NAME OBJECT_SCHEMA_NAME OBJECT_DEFINITION OBJECTPROPERTY
OBJECTPROPERTYEX COL_NAME COL_LENGTH COLUMNPROPERTY TYPE_NAME TYPE_ID TYPEPROPERTY INDEX_COL INDEXPROPERTY
SCOPE_IDENTITY IDENT_CURRENT IDENT_INCR IDENT_SEED
"""
# The session's own state, and the full-text predicates (reads of the current database's full-text indexes).
_SESSION_AND_SEARCH = """
ROWCOUNT_BIG XACT_STATE ERROR_LINE ERROR_MESSAGE ERROR_NUMBER ERROR_PROCEDURE ERROR_SEVERITY ERROR_STATE
CONTAINS FREETEXT
"""

BUILTIN_FUNCTIONS: frozenset[str] = frozenset(
    " ".join(
        (_AGGREGATE, _WINDOW, _DATE, _STRING, _MATH, _LOGICAL_AND_NULLS, _JSON, _CONVERSION, _HASH_AND_IDS)
        + (_IDENTITY, _METADATA, _SESSION_AND_SEARCH)
    ).split()
)

# The sqlglot node types that BUILTIN_FUNCTIONS parse to (sqlglot 30.30.0; derive_builtin_nodes() recomputes it).
BUILTIN_NODES: frozenset[str] = frozenset(
    """
Abs Acos ApproxDistinct Ascii Asin Atan Atan2 Avg Cast Ceil Chr Coalesce Compress Concat ConcatWs Contains Convert Cos
Cot Count CumeDist CurrentSchema CurrentTimestamp CurrentTimestampLTZ CurrentTimezone CurrentUser DateAdd
DateDiff DateFromParts Day Degrees DenseRank Exp Extract FirstValue Floor GenerateSeries Getbit Greatest
GroupConcat Grouping GroupingId If JSONArrayAgg JSONExtract JSONExtractScalar JSONObject JSONObjectAgg Lag
LastDay LastValue Lead Least Left Length Ln Log Lower MD5 Max Min Month Ntile Nullif NumberToStr ObjectId OpenJSON
PercentRank PercentileCont PercentileDisc Pi Pow Radians Rand Rank RegexpCount RegexpInstr RegexpLike
RegexpReplace RegexpSubstr Repeat Replace Reverse Right Round RowNumber SessionUser SHA SHA2 Sign Sin Soundex Space
Sqrt Stddev StrPosition Stuff Substring Sum Tan TimeFromParts TimeStrToTime TimeToStr TimestampFromParts
TimestampTrunc Translate Trim TryCast TsOrDsToDate Unicode Upper Uuid Year
""".split()
)
# Function-shaped node types that T-SQL syntax makes, not a function name: CASE, EXISTS, AND/OR, COLLATE.
SYNTAX_NODES: frozenset[str] = frozenset({"Case", "Exists", "And", "Or", "Xor", "Collate", "If", "NextValueFor"})

# Other dialects' function names that sqlglot turns into a node type T-SQL built-ins also make, without
# keeping the typed name (so walk cannot tell CEIL from CEILING): refused by name from the tokens.
# tests/test_sqlgate.py tries every function name sqlglot knows, so a new one cannot slip through.
FOREIGN_NAMES_WITHOUT_POSITION = frozenset({"CEIL", "CHR", "MOD", "POSITION", "SAFE_CAST", "EXTRACT"})

# Argument lists tried when deriving BUILTIN_NODES: enough for every name above to parse at least once.
DERIVATION_ARGUMENTS = (
    "",
    "1",
    "1, 2",
    "1, 2, 3",
    "1, 2, 3, 4",
    "day, 1",
    "day, 1, 2",
    "1 AS INT",
    "1, 2, 3, 4, 5, 6, 7",
    *(f"'{algorithm}', 1" for algorithm in ("MD5", "SHA1", "SHA2_256", "SHA2_512")),  # HASHBYTES
)


def derive_builtin_nodes() -> frozenset[str]:
    """The sqlglot node types the names in BUILTIN_FUNCTIONS parse to (for the test that checks BUILTIN_NODES)."""
    import sqlglot
    from sqlglot import exp

    found: set[str] = set()
    for name in BUILTIN_FUNCTIONS:
        for args in DERIVATION_ARGUMENTS:
            for form in (f"SELECT {name}({args})",):
                try:
                    tree = sqlglot.parse_one(form, read="tsql")
                except Exception:  # a wrong argument count for this name: try the next
                    continue
                found.update(type(n).__name__ for n in tree.walk() if isinstance(n, exp.Func))
    return frozenset(found - {"Anonymous"})
