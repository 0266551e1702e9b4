"""The data behind the SQL gate (`mssql_mcp/sqlgate/`): which tree shapes and words it accepts.

Everything here is an allowlist or a table of refusal reasons; `sqlgate` holds the logic. The tree
shapes are those of sqlglot 30.30.0's tsql dialect, which is why sqlglot is pinned exactly. See
docs/read_only.md for the reasoning behind each choice.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp


@dataclass(frozen=True)
class Policy:
    """The gate's choices a DBA may change (settings ALLOW_USER_FUNCTIONS, ALLOW_SERVER_VIEWS)."""

    user_functions: bool = True  # schema-qualified calls: dbo.fn_total(x)
    server_views: bool = False  # sys.server_*, sys.dm_*, sys.sql_logins, ..., objects in master and msdb


DEFAULT_POLICY = Policy()

# Node types a read query may contain (besides exp.Func subclasses, see sqlgate.walk.walk).
# Anything else, anywhere in the tree, is refused: an unknown shape is a refusal, never a pass.
READ_NODES: frozenset[type[exp.Expr]] = frozenset(
    {
        # query structure
        exp.Select,
        exp.Union,
        exp.Intersect,
        exp.Except,
        exp.Subquery,
        exp.With,
        exp.CTE,
        exp.From,
        exp.Join,
        exp.Lateral,
        exp.Where,
        exp.Group,
        exp.Having,
        exp.Order,
        exp.Ordered,
        exp.Limit,
        exp.Offset,
        exp.Fetch,
        exp.LimitOptions,
        exp.Distinct,
        exp.Pivot,
        exp.Values,
        exp.Tuple,
        exp.TableSample,
        exp.Version,
        exp.Rollup,
        exp.Cube,
        exp.GroupingSets,
        # names and values
        exp.Table,
        exp.TableAlias,
        exp.Column,
        exp.Identifier,
        exp.Star,
        exp.Alias,
        exp.Dot,
        exp.Paren,
        exp.Literal,
        exp.National,
        exp.HexString,
        exp.Boolean,
        exp.Null,
        exp.Placeholder,
        exp.Parameter,
        exp.Var,
        exp.DataType,
        exp.DataTypeParam,
        exp.Interval,
        # operators and predicates
        exp.EQ,
        exp.NEQ,
        exp.GT,
        exp.GTE,
        exp.LT,
        exp.LTE,
        exp.And,
        exp.Or,
        exp.Not,
        exp.Neg,
        exp.Add,
        exp.Sub,
        exp.Mul,
        exp.Div,
        exp.Mod,
        exp.BitwiseAnd,
        exp.BitwiseOr,
        exp.BitwiseXor,
        exp.BitwiseNot,
        exp.DPipe,
        exp.Like,
        exp.Escape,
        exp.Is,
        exp.In,
        exp.Between,
        exp.Any,
        exp.All,
        exp.Collate,
        exp.AtTimeZone,
        # windows and aggregates
        exp.Window,
        exp.WindowSpec,
        exp.WithinGroup,
        exp.IgnoreNulls,
        exp.RespectNulls,
        # T-SQL clauses that only shape a read: table hints (checked one by one), OPTION (...), FOR XML/JSON
        exp.WithTableHint,
        exp.QueryOption,
        exp.ForClause,
        exp.XMLKeyValueOption,
        exp.OpenJSONColumnDef,  # OPENJSON(...) WITH (name type 'path'): the shape of parsed JSON
        # JSON_VALUE / JSON_QUERY paths
        exp.JSONPath,
        exp.JSONPathKey,
        exp.JSONPathRoot,
        exp.JSONPathSubscript,
        exp.JSONPathWildcard,
    }
)

# Extra node types a DML statement may contain in write mode (READ_ONLY_MODE=false).
DML_TOP: dict[type[exp.Expr], str] = {
    exp.Insert: "INSERT",
    exp.Update: "UPDATE",
    exp.Delete: "DELETE",
    exp.Merge: "MERGE",
}
DML_NODES: frozenset[type[exp.Expr]] = (
    READ_NODES
    | frozenset(DML_TOP)
    | frozenset(
        {
            exp.Schema,
            exp.Returning,
            exp.When,
            exp.Whens,
            exp.NextValueFor,
            exp.WithTableHint,
        }
    )
)

DDL_TOP: dict[type[exp.Expr], str] = {
    exp.Create: "CREATE",
    exp.Alter: "ALTER",
    exp.Drop: "DROP",
    exp.TruncateTable: "TRUNCATE",
}
# Object kinds that ALLOW_DDL=true lets a statement create, alter or drop. Server-level objects
# (DATABASE, LOGIN, ...) and code that runs later on its own (PROCEDURE, TRIGGER, FUNCTION) stay out.
DDL_KINDS = frozenset({"TABLE", "VIEW", "INDEX", "SCHEMA", "SEQUENCE"})

# Refused wherever they appear, in every mode. Value: the reason shown after "Refused: ".
_TX = "transaction control is not allowed: the server runs each call in its own transaction."
_VARS = "DECLARE/SET (variables and session options) are not allowed; put literal values in the query."
ALWAYS_REFUSED: dict[type[exp.Expr], str] = {
    exp.Execute: "EXEC/EXECUTE runs stored code the gate cannot inspect; write the query itself.",
    exp.Command: "this statement type is not supported; send one SELECT.",
    exp.Transaction: _TX,
    exp.Commit: _TX,
    exp.Rollback: _TX,
    exp.Grant: "GRANT/REVOKE/DENY change permissions and are never allowed.",
    exp.Revoke: "GRANT/REVOKE/DENY change permissions and are never allowed.",
    exp.Use: "USE switches database and is not allowed; name other databases as db.schema.table.",
    exp.Declare: _VARS,
    exp.Set: _VARS,
    exp.SetItem: _VARS,
    exp.Kill: "KILL is a server administration command and is never allowed.",
    exp.IfBlock: "control-of-flow (IF/WHILE/BEGIN...END) is not allowed; send one statement.",
    exp.WhileBlock: "control-of-flow (IF/WHILE/BEGIN...END) is not allowed; send one statement.",
    exp.Block: "control-of-flow (IF/WHILE/BEGIN...END) is not allowed; send one statement.",
    exp.Lock: "locking clauses (FOR UPDATE ...) are not allowed.",
    # Functions sqlglot knows from other dialects that would touch files; T-SQL has none of them.
    exp.ReadCSV: "reading files is not allowed.",
    exp.ReadParquet: "reading files is not allowed.",
    exp.ToFile: "writing files is not allowed.",
}

# Refused in a read, i.e. anywhere inside a SELECT in any mode.
READ_REFUSED: dict[type[exp.Expr], str] = {
    exp.Into: "SELECT ... INTO creates a table; read-only mode allows only SELECT.",
    exp.NextValueFor: "NEXT VALUE FOR advances a sequence, which is a write.",
    **{
        cls: f"{word} inside a query modifies data; read-only mode allows only SELECT." for cls, word in DML_TOP.items()
    },
    **{
        cls: f"{word} inside a query changes the schema; read-only mode allows only SELECT."
        for cls, word in DDL_TOP.items()
    },
}

# Function calls sqlglot does not know come back as exp.Anonymous. Ordinary ones (user-defined
# functions, newer built-ins) are allowed: SQL Server forbids side effects in functions. These
# names reach other servers or files, or are extended/system procedures, so they are refused.
PASS_THROUGH_FUNCTIONS = frozenset({"OPENROWSET", "OPENQUERY", "OPENDATASOURCE", "OPENXML"})
PROCEDURE_PREFIXES = ("XP_", "SP_")

# Every T-SQL table hint (learn.microsoft.com/sql/t-sql/queries/hints-transact-sql-table). A list of
# them after a table name, with or without WITH, is a hint list to SQL Server, even where sqlglot reads
# `t (ROWLOCK, XLOCK)` as a call of a function t, or `t x (XLOCK)` as column aliases.
TABLE_HINT_WORDS = frozenset(
    """
NOEXPAND INDEX FORCESEEK FORCESCAN HOLDLOCK NOLOCK NOWAIT PAGLOCK READCOMMITTED READCOMMITTEDLOCK READPAST
READUNCOMMITTED REPEATABLEREAD ROWLOCK SERIALIZABLE SNAPSHOT SPATIAL_WINDOW_MAX_CELLS TABLOCK TABLOCKX UPDLOCK
XLOCK KEEPIDENTITY KEEPDEFAULTS IGNORE_CONSTRAINTS IGNORE_TRIGGERS
""".split()
)
# Table hints that never take or hold more locks than a plain read: WITH (NOLOCK) etc. Others
# (UPDLOCK, XLOCK, HOLDLOCK, TABLOCKX, SERIALIZABLE, ...) would hold locks for the whole call.
READ_TABLE_HINTS = frozenset(
    {
        "NOLOCK",
        "READUNCOMMITTED",
        "READCOMMITTED",
        "READPAST",
        "NOWAIT",
        "NOEXPAND",
        "FORCESEEK",
        "FORCESCAN",
        "INDEX",
        "SNAPSHOT",
    }
)

# Server-scoped objects, refused unless ALLOW_SERVER_VIEWS=true: they describe the whole instance (logins,
# sessions, other databases, configuration), not the database this server was given.
SERVER_DATABASES = frozenset({"MASTER", "MSDB"})
SERVER_VIEW_PREFIXES = ("SERVER_", "DM_")  # sys.server_principals, sys.dm_exec_sessions, ...
SERVER_VIEWS = frozenset(
    """
SQL_LOGINS SERVERS LINKED_LOGINS REMOTE_LOGINS CREDENTIALS ENDPOINTS CONFIGURATIONS MASTER_FILES TRACES
TRACE_EVENTS CRYPTOGRAPHIC_PROVIDERS SYSLOGINS SYSSERVERS SYSREMOTELOGINS SYSOLEDBUSERS SYSPROCESSES SYSDATABASES
SYSALTFILES SYSDEVICES SYSCONFIGURES SYSCURCONFIGS SYSLOCKINFO SYSPERFINFO SYSCACHEOBJECTS
""".split()
)
# The compatibility views among SERVER_VIEWS (sys...) resolve without the sys. prefix too.
SERVER_COMPAT_VIEWS = frozenset(name for name in SERVER_VIEWS if name.startswith("SYS"))
SYSTEM_SCHEMAS = frozenset({"SYS", "INFORMATION_SCHEMA"})

# T-SQL reserved keywords (learn.microsoft.com/sql/t-sql/language-elements/reserved-keywords-transact-sql).
# sqlglot accepts some of them as plain names, e.g. `SELECT 1 SHUTDOWN` parses as an alias, while
# SQL Server reads a second statement. An unquoted name that is a reserved word is therefore refused.
RESERVED_WORDS = frozenset(
    """
ADD ALL ALTER AND ANY AS ASC AUTHORIZATION BACKUP BEGIN BETWEEN BREAK BROWSE BULK BY CASCADE CASE CHECK
CHECKPOINT CLOSE CLUSTERED COALESCE COLLATE COLUMN COMMIT COMPUTE CONSTRAINT CONTAINS CONTAINSTABLE CONTINUE
CONVERT CREATE CROSS CURRENT CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP CURRENT_USER CURSOR DATABASE DBCC
DEALLOCATE DECLARE DEFAULT DELETE DENY DESC DISK DISTINCT DISTRIBUTED DOUBLE DROP DUMP ELSE END ERRLVL ESCAPE
EXCEPT EXEC EXECUTE EXISTS EXIT EXTERNAL FETCH FILE FILLFACTOR FOR FOREIGN FREETEXT FREETEXTTABLE FROM FULL
FUNCTION GOTO GRANT GROUP HAVING HOLDLOCK IDENTITY IDENTITY_INSERT IDENTITYCOL IF IN INDEX INNER INSERT
INTERSECT INTO IS JOIN KEY KILL LEFT LIKE LINENO LOAD MERGE NATIONAL NOCHECK NONCLUSTERED NOT NULL NULLIF OF
OFF OFFSETS ON OPEN OPENDATASOURCE OPENQUERY OPENROWSET OPENXML OPTION OR ORDER OUTER OVER PERCENT PIVOT PLAN
PRECISION PRIMARY PRINT PROC PROCEDURE PUBLIC RAISERROR READ READTEXT RECONFIGURE REFERENCES REPLICATION
RESTORE RESTRICT RETURN REVERT REVOKE RIGHT ROLLBACK ROWCOUNT ROWGUIDCOL RULE SAVE SCHEMA SECURITYAUDIT SELECT
SEMANTICKEYPHRASETABLE SEMANTICSIMILARITYDETAILSTABLE SEMANTICSIMILARITYTABLE SESSION_USER SET SETUSER
SHUTDOWN SOME STATISTICS SYSTEM_USER TABLE TABLESAMPLE TEXTSIZE THEN TO TOP TRAN TRANSACTION TRIGGER TRUNCATE
TRY_CONVERT TSEQUAL UNION UNIQUE UNPIVOT UPDATE UPDATETEXT USE USER VALUES VARYING VIEW WAITFOR WHEN WHERE
WHILE WITH WRITETEXT
""".split()
)
# Plus THROW: not reserved, yet it starts a statement (SQL Server wants a `;` before it, but why risk it).
STATEMENT_WORDS = RESERVED_WORDS | {"THROW"}
# The words of STATEMENT_WORDS that can begin a T-SQL statement. sqlglot also accepts them as a
# function name (`IN SHUTDOWN (SELECT ...)`) or an option (`TABLESAMPLE CHECKPOINT (10 PERCENT)`).
STATEMENT_STARTERS = frozenset(
    """
ALTER BACKUP BEGIN BREAK BULK CHECKPOINT CLOSE COMMIT CONTINUE CREATE DBCC DEALLOCATE DECLARE DELETE DENY DROP
DUMP EXEC EXECUTE FETCH GOTO GRANT IF INSERT KILL LOAD MERGE OPEN PRINT RAISERROR READTEXT RECONFIGURE RESTORE
RETURN REVERT REVOKE ROLLBACK SAVE SELECT SET SETUSER SHUTDOWN THROW TRUNCATE UPDATE UPDATETEXT USE WAITFOR
WHILE WITH WRITETEXT
""".split()
)
assert STATEMENT_STARTERS <= STATEMENT_WORDS
# Which STATEMENT_STARTERS a statement of each kind may contain as bare words (outside strings,
# comments and [names]). sqlglot is lenient (`SELECT 1 FETCH` parses, `IN TRUNCATE (...)` is a
# function call), so a read simply may not contain words that begin other statements.
# Two read words are allowed in one context only: `OFFSET n ROWS FETCH` and `LEFT MERGE JOIN`
# (a join hint); see sqlgate.check._word_problem.
STATEMENT_WORDS_ALLOWED = {
    "read": frozenset({"SELECT", "WITH", "FETCH", "MERGE"}),
    "dml": frozenset({"SELECT", "WITH", "FETCH", "MERGE", "INSERT", "UPDATE", "DELETE", "SET"}),
    "ddl": frozenset(
        {
            "SELECT",
            "WITH",
            "FETCH",
            "MERGE",
            "INSERT",
            "UPDATE",
            "DELETE",
            "SET",
            "CREATE",
            "ALTER",
            "DROP",
            "TRUNCATE",
            "IF",
        }
    ),
}
# Reserved words that are also niladic functions, which sqlglot keeps as a column: `SELECT USER`.
NILADIC_FUNCTIONS = frozenset({"USER", "CURRENT_USER", "SESSION_USER", "SYSTEM_USER", "CURRENT_TIMESTAMP"})

# Reasons keyed by a statement's first word, for statements sqlglot misreads (SHUTDOWN as a column,
# DBCC as an alias) or cannot parse (WAITFOR, BACKUP, ...): the reason should name what was refused.
_ADMIN = "is a server administration command and is never allowed."
_CURSOR = "cursors are not allowed; send one SELECT."
_FLOW = "control-of-flow (IF/WHILE/BEGIN...END) is not allowed; send one statement."
_BEGIN = "BEGIN TRAN and BEGIN...END are not allowed: the server runs one statement per call in its own transaction."
_MSG = "PRINT/RAISERROR/THROW are not allowed; send one SELECT."
LEADING_WORD_REASONS: dict[str, str] = {
    "SHUTDOWN": f"SHUTDOWN {_ADMIN}",
    "RECONFIGURE": f"RECONFIGURE {_ADMIN}",
    "CHECKPOINT": f"CHECKPOINT {_ADMIN}",
    "KILL": f"KILL {_ADMIN}",
    "DBCC": f"DBCC {_ADMIN}",
    "BACKUP": "BACKUP/RESTORE are never allowed.",
    "RESTORE": "BACKUP/RESTORE are never allowed.",
    "BULK": "BULK INSERT loads files and is never allowed.",
    "WAITFOR": "WAITFOR is not allowed.",
    "GRANT": ALWAYS_REFUSED[exp.Grant],
    "REVOKE": ALWAYS_REFUSED[exp.Grant],
    "DENY": ALWAYS_REFUSED[exp.Grant],
    "EXEC": ALWAYS_REFUSED[exp.Execute],
    "EXECUTE": ALWAYS_REFUSED[exp.Execute],
    "BEGIN": _BEGIN,
    "COMMIT": _TX,
    "ROLLBACK": _TX,
    "SAVE": _TX,
    "DECLARE": _VARS,
    "SET": _VARS,
    "USE": ALWAYS_REFUSED[exp.Use],
    "REVERT": "impersonation (EXECUTE AS/REVERT/SETUSER) is never allowed.",
    "SETUSER": "impersonation (EXECUTE AS/REVERT/SETUSER) is never allowed.",
    "OPEN": _CURSOR,
    "FETCH": _CURSOR,
    "CLOSE": _CURSOR,
    "DEALLOCATE": _CURSOR,
    "IF": _FLOW,
    "WHILE": _FLOW,
    "GOTO": _FLOW,
    "RETURN": _FLOW,
    "BREAK": _FLOW,
    "CONTINUE": _FLOW,
    "PRINT": _MSG,
    "RAISERROR": _MSG,
    "THROW": _MSG,
    "GO": "GO is a client batch separator, not T-SQL; send one statement without GO.",
}
