"""The SQL gate's cases, as data (tests/test_sqlgate.py and tests/test_gate_db.py run them).

Good reads use the small fixture schema below (Customers, Products, Orders), so the ones marked
`sqlite=True` also run on the embedded SQLite backend. `sqlite=False` marks T-SQL that only SQL
Server runs (APPLY, PIVOT, FOR JSON, system catalog views, ...): the gate must still accept it.

Every refusal names the substring its one-line reason must contain, so the reason is tested too.
"""

from __future__ import annotations

from typing import NamedTuple

FIXTURE_SQLITE = """
CREATE TABLE Customers (CustomerID INTEGER PRIMARY KEY, Name TEXT NOT NULL, City TEXT, Country TEXT);
CREATE TABLE Products (ProductID INTEGER PRIMARY KEY, Name TEXT NOT NULL, Price REAL NOT NULL, Category TEXT);
CREATE TABLE Orders (
  OrderID INTEGER PRIMARY KEY,
  CustomerID INTEGER NOT NULL REFERENCES Customers(CustomerID),
  ProductID INTEGER NOT NULL REFERENCES Products(ProductID),
  Quantity INTEGER NOT NULL,
  OrderDate TEXT NOT NULL
);
INSERT INTO Customers VALUES (1, 'Ada', 'London', 'UK'), (2, 'Bruno', 'Paris', 'FR'), (3, 'Chiara', 'Roma', 'IT'),
  (4, 'O''Brien; DELETE FROM Orders', 'Dublin', 'IE'), (5, 'Zoë', 'Zürich', 'CH');
INSERT INTO Products VALUES (1, 'Tea', 3.5, 'Drinks'), (2, 'Coffee', 4.25, 'Drinks'), (3, 'Scone', 2.0, 'Food'),
  (4, 'Jam', 5.0, 'Food');
INSERT INTO Orders VALUES (1, 1, 1, 2, '2024-01-05'), (2, 1, 3, 1, '2024-01-06'), (3, 2, 2, 5, '2024-02-01'),
  (4, 3, 4, 1, '2024-02-10'), (5, 5, 1, 3, '2024-03-01'), (6, 2, 3, 2, '2024-03-02');
"""


class Good(NamedTuple):
    sql: str
    sqlite: bool = True  # runs on the SQLite backend against FIXTURE_SQLITE


class Bad(NamedTuple):
    sql: str
    reason: str  # a substring of the refusal's message (compared case-insensitively)


class WriteCase(NamedTuple):
    sql: str
    allow_ddl: bool
    expect: str  # "read" | "dml" | "ddl" when accepted, otherwise a substring of the refusal


GOOD_READS: list[Good] = [
    Good("SELECT 1"),
    Good("select 1"),
    Good("SELECT * FROM Customers"),
    Good("SeLeCt Name FrOm Customers WhErE City = 'Paris'"),
    Good("SELECT\tName,\n\tCity\nFROM\n\tCustomers\n"),
    Good("  \n\r\n SELECT 1 ;  "),
    Good("SELECT 1;;"),
    Good("SELECT * FROM Customers; -- trailing comment after the semicolon"),
    Good("/* monthly report */ SELECT COUNT(*) FROM Orders"),
    Good("SELECT Name /* the name */ FROM Customers -- every one\nWHERE City = 'Paris' /* FR */ ORDER BY Name"),
    Good("SELECT 1 -- ; DROP TABLE Customers"),
    Good("SELECT 1 /* ; DROP TABLE Customers */"),
    Good("SELECT 1 /* outer /* nested */ still a comment; DROP TABLE Customers */"),
    Good("SELECT 'x; DROP TABLE Customers; --' AS s"),
    Good("SELECT Name FROM Customers WHERE Name = 'O''Brien; DELETE FROM Orders'"),
    Good("SELECT 'EXEC xp_cmdshell ''dir''' AS note, 'GO' AS g"),
    Good("SELECT 1 AS [a]]; DROP TABLE Customers]"),
    Good("SELECT N'Zürich' AS city, N'日本語' AS jp"),
    Good("SELECT Name AS [Nom du client], City AS Città FROM Customers"),
    Good('SELECT Name AS "Customer Name" FROM Customers'),
    Good("SELECT 1 AS [SHUTDOWN], 2 AS [GO], 3 AS [Select]"),
    Good("SELECT Name AS DropDate, 1 AS ExecCount, 2 AS Shutdowns FROM Customers"),
    Good("SELECT [Name] FROM [Customers] WHERE [City] <> N'Roma'"),
    Good("SELECT TOP 5 * FROM Orders ORDER BY OrderDate DESC"),
    Good("SELECT TOP (3) Name FROM Products ORDER BY Price"),
    Good("SELECT Name FROM Products ORDER BY ProductID OFFSET 1 ROWS FETCH NEXT 2 ROWS ONLY"),
    Good("SELECT c.Name, o.Quantity FROM Customers AS c JOIN Orders AS o ON o.CustomerID = c.CustomerID"),
    Good(
        "SELECT c.Name, COUNT(o.OrderID) AS n FROM Customers c LEFT JOIN Orders o ON o.CustomerID = c.CustomerID "
        "GROUP BY c.Name HAVING COUNT(o.OrderID) > 1"
    ),
    Good(
        "SELECT OrderID, ROW_NUMBER() OVER (PARTITION BY CustomerID ORDER BY OrderDate) AS rn, "
        "SUM(Quantity) OVER (ORDER BY OrderID ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running "
        "FROM Orders"
    ),
    Good("SELECT OrderID, LAG(Quantity) OVER (ORDER BY OrderID) AS prev, RANK() OVER (ORDER BY Quantity) FROM Orders"),
    Good(
        "SELECT Name, CASE WHEN Price > 4 THEN 'dear' WHEN Price > 3 THEN 'fair' ELSE 'cheap' END AS band FROM Products"
    ),
    Good("SELECT Name FROM Customers UNION SELECT Name FROM Products"),
    Good("SELECT CustomerID FROM Customers INTERSECT SELECT CustomerID FROM Orders"),
    Good("SELECT CustomerID FROM Customers EXCEPT SELECT CustomerID FROM Orders"),
    Good("SELECT 1 AS n UNION ALL SELECT 2 UNION ALL SELECT 3"),
    Good("SELECT Name FROM Customers WHERE CustomerID IN (SELECT CustomerID FROM Orders WHERE Quantity > 2)"),
    Good("SELECT Name FROM Customers c WHERE NOT EXISTS (SELECT 1 FROM Orders o WHERE o.CustomerID = c.CustomerID)"),
    Good("SELECT s.total FROM (SELECT SUM(Quantity) AS total FROM Orders) AS s"),
    Good("WITH big AS (SELECT * FROM Orders WHERE Quantity > 1) SELECT COUNT(*) AS n FROM big"),
    Good(
        "WITH a AS (SELECT CustomerID FROM Orders), b AS (SELECT CustomerID, COUNT(*) AS n FROM a GROUP BY CustomerID) "
        "SELECT c.Name, b.n FROM b JOIN Customers c ON c.CustomerID = b.CustomerID"
    ),
    Good("WITH n AS (SELECT 1 AS i UNION ALL SELECT i + 1 FROM n WHERE i < 5) SELECT i FROM n"),
    Good("SELECT * FROM Customers WITH (NOLOCK) WHERE Country = 'UK'"),
    Good(
        "SELECT CAST(Price AS INT) AS p, ISNULL(City, 'none') AS city, COALESCE(City, Country) FROM Products, Customers"
    ),
    Good("SELECT IIF(Quantity > 2, 'many', 'few') AS size, LEN(OrderDate) FROM Orders"),
    Good("SELECT Name FROM Products WHERE Name LIKE 'T%' OR Price BETWEEN 2 AND 3"),
    Good("SELECT DISTINCT Country FROM Customers"),
    Good("SELECT COUNT(*) AS [Count], MAX(Price) AS [Max], MIN(Price), AVG(Price) FROM Products"),
    Good("(SELECT Name FROM Customers)"),
    Good("SELECT v.id, v.label FROM (VALUES (1, 'a'), (2, 'b')) AS v(id, label)", sqlite=False),  # no VALUES aliases
    Good("SELECT Name FROM Customers WHERE CustomerID = 1 AND (City IS NOT NULL OR Country <> 'FR')"),
    Good("SELECT UPPER(Name), LOWER(City), REPLACE(Name, 'a', 'A'), SUBSTRING(Name, 1, 2) FROM Customers"),
    Good("SELECT Category, STRING_AGG(Name, ', ') AS names FROM Products GROUP BY Category"),
    Good("SELECT '{call sp_who}' AS text, N'{\"json\": [1]}' AS doc"),
    # T-SQL only: the gate accepts them, SQLite cannot run them.
    Good(
        "SELECT c.Name, x.n FROM Customers c CROSS APPLY (SELECT COUNT(*) AS n FROM Orders o "
        "WHERE o.CustomerID = c.CustomerID) x",
        sqlite=False,
    ),
    Good(
        "SELECT * FROM (SELECT CustomerID, Quantity FROM Orders) s PIVOT "
        "(SUM(Quantity) FOR CustomerID IN ([1], [2])) p",
        sqlite=False,
    ),
    Good("SELECT Name FROM Customers FOR JSON PATH", sqlite=False),
    Good("SELECT @@VERSION AS version, USER AS who, DB_NAME() AS db", sqlite=False),
    Good("SELECT name, type_desc FROM sys.objects WHERE type = 'U'", sqlite=False),
    Good("SELECT name FROM sys.databases", sqlite=False),
    Good("SELECT * FROM #scratch", sqlite=False),
    Good("SELECT dbo.fn_total(CustomerID) FROM Customers", sqlite=False),
    Good("SELECT * FROM Orders OPTION (MAXDOP 1, RECOMPILE)", sqlite=False),
    Good("SELECT * FROM Orders WITH (READPAST, INDEX(ix_orders_date))", sqlite=False),
    Good("SELECT JSON_VALUE(N'{\"a\": 1}', '$.a') AS a, DATEADD(day, 1, GETDATE()) AS tomorrow", sqlite=False),
    Good("SELECT * FROM OPENJSON(N'[{\"v\": 1}]') WITH (v INT '$.v')", sqlite=False),
    Good("SELECT TOP 10 PERCENT WITH TIES * FROM Orders ORDER BY Quantity", sqlite=False),
    Good("SELECT Name FROM Customers ORDER BY Name COLLATE Latin1_General_CI_AS", sqlite=False),
    # three-part names: other databases on the same server, governed by the login's permissions
    Good("SELECT * FROM shop.dbo.Customers", sqlite=False),
    Good("SELECT * FROM shop..Customers", sqlite=False),
    Good("SELECT * FROM [shop]..[Customers]", sqlite=False),
    # the old hint spelling without WITH, read-only hints only
    Good("SELECT * FROM Customers (NOLOCK)"),
    Good("SELECT * FROM Customers (NOLOCK, READUNCOMMITTED)"),
    Good("SELECT c.Name FROM Customers c (NOLOCK)"),
    # built-ins, by name, and user-defined functions in a schema
    Good(
        "SELECT USER_NAME() AS u, SUSER_SNAME() AS s, ORIGINAL_LOGIN() AS o, SESSION_CONTEXT(N'k') AS k", sqlite=False
    ),
    Good(
        "SELECT CHOOSE(2, 'a', 'b'), DATALENGTH(Name), QUOTENAME(Name), OBJECT_ID(N'dbo.Orders') FROM Customers",
        sqlite=False,
    ),
    Good("SELECT * FROM STRING_SPLIT(N'a,b', ',')", sqlite=False),
    Good("SELECT c.Name, s.value FROM Customers c CROSS APPLY STRING_SPLIT(c.City, ' ') s", sqlite=False),
    Good("SELECT * FROM dbo.fn_orders(1)", sqlite=False),
    Good("SELECT dbo.MD5(Name), dbo.UPPER(Name) FROM Customers", sqlite=False),  # user functions, whatever the name
    Good("SELECT ISJSON(N'[1]') AS j", sqlite=False),
    Good(
        "SELECT HASHBYTES('SHA2_256', Name), LOWER(CONVERT(VARCHAR(32), HASHBYTES('MD5', Name), 2)) FROM Customers",
        sqlite=False,
    ),
    Good(
        "SELECT DATEPART(weekday, OrderDate), DATENAME(month, OrderDate), DATEDIFF(quarter, OrderDate, GETDATE()) "
        "FROM Orders",
        sqlite=False,
    ),
    Good("SELECT Name FROM Customers WHERE CONTAINS(Name, N'tea') OR FREETEXT(City, N'rome')", sqlite=False),
    Good("SELECT SCOPE_IDENTITY() AS id, ERROR_MESSAGE() AS e, XACT_STATE() AS x", sqlite=False),
    Good("SELECT GETUTCDATE() AS now, SYSUTCDATETIME() AS now2, EOMONTH(OrderDate) AS eom FROM Orders"),
    Good("SELECT name FROM sys.tables UNION ALL SELECT TABLE_NAME FROM INFORMATION_SCHEMA.TABLES", sqlite=False),
    Good("SELECT * FROM sys.columns c JOIN sys.types t ON t.user_type_id = c.user_type_id", sqlite=False),
]

BAD_READS: list[Bad] = [
    # more than one statement, or nothing at all
    Bad("SELECT 1; DROP TABLE Customers", "only one statement per call (found 2)"),
    Bad("sElEcT 1; dRoP tAbLe Customers", "found 2"),
    Bad("SELECT 1;\nSELECT 2", "found 2"),
    Bad("SELECT 1 /* a */ ; /* b */ DELETE FROM Orders", "found 2"),
    Bad("(SELECT 1) ; DELETE FROM Orders", "found 2"),
    Bad("BEGIN TRANSACTION; SELECT 1; COMMIT", "found 3"),
    Bad("SELECT * FROM Customers OPTION (MAXDOP 1); SHUTDOWN", "found 2"),
    Bad("SELECT 'a\\' ; DROP TABLE Customers --'", "found 2"),  # a backslash escapes nothing in T-SQL
    Bad("SELECT 1 AS [x]; DROP TABLE Customers --]", "found 2"),
    Bad("", "empty"),
    Bad("   \n\t  ", "empty"),
    Bad(";", "empty"),
    Bad(" ;; ", "empty"),
    Bad("-- only a comment", "empty"),
    Bad("/* SELECT 1 */", "empty"),
    # statements chained without a semicolon
    Bad("SELECT 1 DROP TABLE Customers", "could not parse"),
    Bad("SELECT * FROM Customers DELETE FROM Orders", "could not parse"),
    Bad("SELECT 1 /* */ DROP TABLE Customers", "could not parse"),
    Bad("SELECT 1 -- hidden?\nDROP TABLE Customers", "could not parse"),
    Bad("SELECT 1 -- hidden?\rDROP TABLE Customers", "could not parse"),
    Bad("SELECT 1 /* /* */ */ DROP TABLE Customers", "could not parse"),
    Bad("SELECT 1 /* unclosed /* nested */ ; DROP TABLE Customers", "unterminated"),
    Bad("SELECT 1 WAITFOR DELAY '00:00:05'", "could not parse"),
    Bad("SELECT 1 AS x\nSHUTDOWN", "could not parse"),
    Bad("SELECT 1\uff1bDROP TABLE Customers", "could not parse"),  # a fullwidth semicolon is no separator
    Bad("SELECT 1 SHUTDOWN", "SHUTDOWN is a reserved word"),
    Bad("SELECT * FROM Customers CHECKPOINT", "CHECKPOINT is a reserved word"),
    Bad("SELECT 1 RECONFIGURE", "reserved word"),
    Bad("SELECT 1 REVERT", "reserved word"),
    Bad("SELECT 1 SETUSER", "reserved word"),
    Bad("SELECT 1 COMMIT", "reserved word"),
    Bad("SELECT * FROM Orders\nTHROW", "THROW is a reserved word"),
    Bad("SELECT Name FROM Customers\nshutdown", "reserved word"),
    Bad("SELECT 1\u00a0SHUTDOWN", "reserved word"),
    Bad("SELECT 1 x\u200bSHUTDOWN", "need [brackets]"),
    Bad("SELECT * FROM Orders o FETCH", "FETCH begins a statement of its own"),
    Bad("SELECT Name FROM Customers WHERE CustomerID IN TRUNCATE (SELECT 1)", "TRUNCATE begins a statement"),
    Bad("SELECT * FROM x: Customers", "':' has no place"),
    Bad("SELECT * FROM Customers OPTION (USE master)", "could not parse"),
    Bad("SELECT 1 --x\x0bDROP TABLE Customers", "control characters"),
    Bad("SELECT 1 --x\u2028DROP TABLE Customers", "control characters"),
    Bad("SELECT 1\x00; DROP TABLE Customers", "control characters"),
    # ODBC escapes are rewritten by the driver, after the gate: {call p} becomes EXEC p
    Bad("{call sp_who}", "ODBC escapes"),
    Bad("SELECT {fn USER()}", "ODBC escapes"),
    Bad("SELECT 1 /* {call xp_cmdshell('dir')} */", "ODBC escapes"),
    Bad("SELECT 1 AS [{call sp_who}]", "ODBC escapes"),
    # GO batch separators
    Bad("SELECT 1\nGO\nSELECT 2", "GO is a client batch separator"),
    Bad("SELECT 1\nGO", "GO is a client batch separator"),
    Bad("select 1\r\ngo\r\n", "batch separator"),
    Bad("SELECT 1\nGO 5", "batch separator"),
    Bad("GO\nSELECT 1", "batch separator"),
    # SELECT on the outside, a write inside
    Bad("SELECT * INTO #t FROM Customers", "SELECT ... INTO creates a table"),
    Bad("SELECT Name INTO CustomersCopy FROM Customers", "INTO creates a table"),
    Bad("WITH c AS (SELECT * FROM Customers) SELECT * INTO x FROM c", "INTO creates a table"),
    Bad("SELECT Name INTO t2 FROM Customers UNION SELECT Name FROM Products", "INTO creates a table"),
    Bad("SELECT * FROM (SELECT * INTO x FROM Customers) s", "INTO creates a table"),
    Bad("WITH c AS (DELETE FROM Orders OUTPUT deleted.*) SELECT * FROM c", "DELETE inside a query modifies data"),
    Bad("SELECT NEXT VALUE FOR dbo.order_seq", "NEXT VALUE FOR"),
    Bad("SELECT @x = Name FROM Customers", "assigning variables"),
    Bad("SELECT @x = c Name FROM Customers", "assigning variables"),  # found by the mutation test
    Bad("SELECT * FROM Customers WITH (UPDLOCK)", "table hint UPDLOCK"),
    Bad("SELECT * FROM Customers WITH (XLOCK, ROWLOCK)", "table hint XLOCK"),
    Bad("SELECT * FROM Customers WITH (TABLOCKX, HOLDLOCK)", "takes or holds locks"),
    Bad("SELECT * FROM Customers WITH (NOLOCK, SERIALIZABLE)", "table hint SERIALIZABLE"),
    Bad("SELECT * FROM Customers FOR UPDATE", "could not parse"),
    # other servers, files, procedures
    Bad("SELECT * FROM OPENROWSET('SQLNCLI', 'Server=x;Trusted_Connection=yes;', 'SELECT 1')", "OPENROWSET"),
    Bad("SELECT * FROM OPENROWSET(BULK 'C:\\secrets.txt', SINGLE_CLOB) AS f", "could not parse"),
    Bad("SELECT * FROM OPENQUERY(LinkedSrv, 'DELETE FROM t')", "OPENQUERY reaches another server"),
    Bad("SELECT * FROM OPENDATASOURCE('SQLNCLI', 'Data Source=x').db.dbo.t", "OPENDATASOURCE"),
    Bad("SELECT * FROM OPENXML(@h, '/root', 1)", "OPENXML"),
    Bad("SELECT * FROM LinkedSrv.db.dbo.Customers", "four-part names"),
    # four-part names however spelled: T-SQL lets parts be empty, and sqlglot drops the empty ones
    Bad("SELECT * FROM LinkedSrv...Customers", "four-part names"),
    Bad("SELECT * FROM [LinkedSrv]..[dbo].[Customers]", "four-part names"),
    Bad("SELECT * FROM LinkedSrv.shop..Customers", "four-part names"),
    Bad("SELECT * FROM LinkedSrv . . . Customers", "four-part names"),
    Bad("SELECT * FROM LinkedSrv /* x */ . /* y */ . dbo . Customers", "four-part names"),
    Bad("SELECT * FROM Customers c JOIN LinkedSrv..dbo.Orders o ON o.CustomerID = c.CustomerID", "four-part names"),
    Bad("SELECT * FROM Customers WHERE CustomerID IN (SELECT CustomerID FROM [srv].[db]..[Orders])", "four-part names"),
    Bad("SELECT * FROM a.b..c.d", "four-part names"),
    Bad('SELECT * FROM "srv"..."Customers"', "four-part names"),
    # table hints without WITH: sqlglot reads `t (ROWLOCK, XLOCK)` as a call of a function t
    Bad("SELECT * FROM Customers (ROWLOCK, XLOCK)", "table hint ROWLOCK takes or holds locks"),
    Bad("SELECT * FROM Customers (XLOCK)", "table hint XLOCK"),
    Bad("SELECT * FROM dbo.Customers (UPDLOCK, ROWLOCK)", "table hint UPDLOCK"),
    Bad("SELECT * FROM [Customers] (NOLOCK, TABLOCKX)", "table hint TABLOCKX"),
    Bad("SELECT * FROM Customers c (XLOCK, ROWLOCK)", "table hint XLOCK"),
    Bad("SELECT * FROM Customers AS c (PAGLOCK)", "table hint PAGLOCK"),
    Bad("SELECT * FROM Customers (INDEX(ix), REPEATABLEREAD)", "table hint REPEATABLEREAD"),
    Bad("SELECT * FROM Orders o JOIN Customers (HOLDLOCK, NOLOCK) ON 1 = 1", "HOLDLOCK"),
    Bad("SELECT * FROM Customers (NOLOCK, Something)", "SOMETHING is not a table hint"),
    # functions: T-SQL built-ins by allowlist; system functions that read files or server internals
    Bad("SELECT * FROM fn_dblog(NULL, NULL)", "the function fn_dblog is not"),
    Bad("SELECT * FROM sys.fn_dblog(NULL, NULL)", "sys.fn_dblog"),
    Bad("SELECT * FROM sys.fn_get_audit_file('\\\\host\\share\\*', DEFAULT, DEFAULT)", "sys.fn_get_audit_file"),
    Bad("SELECT * FROM sys.fn_xe_file_target_read_file('C:\\x*.xel', NULL, NULL, NULL)", "fn_xe_file_target_read_file"),
    Bad("SELECT * FROM sys.fn_trace_gettable('C:\\t.trc', DEFAULT)", "fn_trace_gettable"),
    Bad("SELECT sys.fn_varbintohexstr(0x01) AS x", "sys.fn_varbintohexstr"),
    Bad("SELECT PWDCOMPARE('x', 0x01) AS guess", "the function PWDCOMPARE is not"),
    Bad("SELECT pwdencrypt('x')", "pwdencrypt"),
    Bad("SELECT SERVERPROPERTY('MachineName')", "SERVERPROPERTY"),
    Bad("SELECT * FROM sys.dm_os_file_exists('C:\\boot.ini')", "dm_os_file_exists"),
    Bad("SELECT fts3_tokenizer('simple')", "fts3_tokenizer"),
    Bad("SELECT load_extension('/tmp/x.so')", "load_extension"),
    Bad("SELECT readfile('/etc/passwd')", "readfile"),
    Bad("SELECT writefile('/tmp/x', 'y')", "writefile"),
    Bad("SELECT printf('%.*c', 2000000000, 'x')", "printf"),
    Bad("SELECT zeroblob(2000000000)", "zeroblob"),
    Bad("SELECT LEN(randomblob(1000000000))", "randomblob"),
    Bad("SELECT LENGTH(Name), SUBSTR(Name, 1, 2) FROM Customers", "the function LENGTH is not"),
    Bad("SELECT SUBSTR(Name, 1, 2) FROM Customers", "the function SUBSTR is not"),
    Bad("SELECT sqlite_version()", "sqlite_version"),
    Bad("SELECT * FROM pragma_table_info('Customers')", "pragma_table_info"),
    Bad("SELECT * FROM Customers WHERE Name IN (SELECT readfile(Name) FROM Customers)", "readfile"),
    Bad("SELECT UNNEST(x) FROM Customers", "UNNEST"),
    Bad("SELECT MD5(Name) FROM Customers", "MD5"),
    Bad("SELECT INFORMATION_SCHEMA.fn_x(1)", "INFORMATION_SCHEMA.fn_x"),
    # server-scoped objects: the instance, not this database
    Bad("SELECT name FROM master.sys.databases", "master database"),
    Bad("SELECT * FROM master..sysdatabases", "master database"),
    Bad("SELECT * FROM [MSDB].dbo.sysjobsteps", "msdb database"),
    Bad("SELECT * FROM msdb..backupset", "msdb database"),
    Bad("SELECT name, password_hash FROM sys.sql_logins", "sys.sql_logins is a server-level view"),
    Bad("SELECT * FROM sys.server_principals", "server-level view"),
    Bad("SELECT * FROM SYS.SERVER_ROLE_MEMBERS", "server-level view"),
    Bad("SELECT * FROM [sys].[dm_exec_sessions]", "server-level view"),
    Bad("SELECT * FROM sys.dm_exec_connections c JOIN sys.tables t ON 1 = 1", "server-level view"),
    Bad("SELECT * FROM sys.servers", "server-level view"),
    Bad("SELECT * FROM syslogins", "server-level view"),
    Bad("SELECT master.dbo.fn_x(1)", "master database"),
    Bad("SELECT master.dbo.xp_cmdshell('dir')", "extended procedure"),
    Bad("SELECT sp_helptext('x')", "procedure"),
    Bad("EXEC xp_cmdshell 'dir'", "EXEC/EXECUTE"),
    Bad("exec sp_who", "EXEC/EXECUTE"),
    Bad("EXECUTE ('SELECT 1')", "EXEC/EXECUTE"),
    Bad("EXEC('DROP TABLE Customers')", "EXEC/EXECUTE"),
    Bad("EXECUTE AS USER = 'dbo'", "EXEC/EXECUTE"),
    Bad("xp_cmdshell 'dir'", "calling procedures"),
    Bad("sp_who", "calling procedures (sp_who)"),
    Bad("sp_executesql N'SELECT 1'", "calling procedures"),
    # DML and DDL, plain or behind a CTE
    Bad("INSERT INTO Customers (Name) VALUES ('x')", "INSERT modifies data; read-only mode allows only SELECT"),
    Bad("insert Customers values (9, 'x', NULL, NULL)", "INSERT modifies data"),
    Bad("INSERT INTO Orders EXEC sp_who", "INSERT modifies data"),
    Bad("UPDATE Customers SET Name = 'x'", "UPDATE modifies data"),
    Bad("\tDELETE\tFROM\tOrders", "DELETE modifies data"),
    Bad("DELETE Orders", "DELETE modifies data"),
    Bad(
        "MERGE Customers AS t USING Products AS s ON t.CustomerID = s.ProductID WHEN MATCHED THEN DELETE;",
        "MERGE modifies data",
    ),
    Bad("WITH c AS (SELECT 1 AS a) DELETE FROM Orders", "DELETE modifies data"),
    Bad("WITH c AS (SELECT 1 AS a) UPDATE Orders SET Quantity = 0", "UPDATE modifies data"),
    Bad("WITH c AS (SELECT * FROM Orders) INSERT INTO Orders SELECT * FROM c", "INSERT modifies data"),
    Bad("TRUNCATE TABLE Orders", "TRUNCATE changes the schema"),
    Bad("DrOp TaBlE Customers", "DROP changes the schema"),
    Bad("CREATE TABLE x (a INT)", "CREATE changes the schema"),
    Bad("ALTER TABLE Orders ADD Note NVARCHAR(10)", "ALTER changes the schema"),
    Bad("CREATE VIEW v AS SELECT 1 AS a", "CREATE changes the schema"),
    Bad("CREATE PROCEDURE p AS SELECT 1", "CREATE changes the schema"),
    Bad("CREATE LOGIN eve WITH PASSWORD = 'x'", "CREATE changes the schema"),
    Bad("ALTER SERVER ROLE sysadmin ADD MEMBER eve", "ALTER changes the schema"),
    # DCL, session, transactions, control flow
    Bad("GRANT SELECT ON Customers TO public", "GRANT/REVOKE/DENY"),
    Bad("REVOKE SELECT ON Customers FROM public", "GRANT/REVOKE/DENY"),
    Bad("DENY SELECT ON Customers TO public", "GRANT/REVOKE/DENY"),
    Bad("USE master", "USE switches database"),
    Bad("DECLARE @x INT", "DECLARE/SET"),
    Bad("DECLARE @x INT = 1 SELECT @x", "DECLARE/SET"),
    Bad("SET NOCOUNT ON", "DECLARE/SET"),
    Bad("SET @x = 1", "DECLARE/SET"),
    Bad("BEGIN TRAN", "transaction control"),
    Bad("COMMIT", "transaction control"),
    Bad("ROLLBACK TRANSACTION", "transaction control"),
    Bad("SAVE TRANSACTION sp1", "transaction control"),
    Bad("IF 1 = 1 SELECT 1", "control-of-flow"),
    Bad("WHILE 1 = 1 SELECT 1", "control-of-flow"),
    Bad("BEGIN SELECT 1 END", "BEGIN TRAN and BEGIN...END are not allowed"),
    Bad("PRINT 'hello'", "PRINT/RAISERROR/THROW"),
    Bad("RAISERROR('x', 16, 1)", "PRINT/RAISERROR/THROW"),
    Bad("THROW 50000, 'x', 1", "PRINT/RAISERROR/THROW"),
    Bad("OPEN c", "cursors"),
    Bad("FETCH NEXT FROM c", "cursors"),
    Bad("DEALLOCATE c", "cursors"),
    Bad("REVERT", "impersonation"),
    Bad("SETUSER", "impersonation"),
    # server administration and bulk operations
    Bad("SHUTDOWN", "SHUTDOWN is a server administration command"),
    Bad("shutdown with nowait", "SHUTDOWN"),
    Bad("RECONFIGURE", "RECONFIGURE is a server administration command"),
    Bad("RECONFIGURE WITH OVERRIDE", "RECONFIGURE"),
    Bad("CHECKPOINT", "CHECKPOINT is a server administration command"),
    Bad("KILL 52", "KILL is a server administration command"),
    Bad("DBCC CHECKDB", "DBCC is a server administration command"),
    Bad("dbcc freeproccache", "DBCC"),
    Bad("WAITFOR DELAY '00:00:05'", "WAITFOR is not allowed"),
    Bad("WAITFOR TIME '22:00'", "WAITFOR"),
    Bad("BULK INSERT Orders FROM 'C:\\orders.csv'", "BULK INSERT"),
    Bad("BACKUP DATABASE shop TO DISK = 'C:\\shop.bak'", "BACKUP/RESTORE"),
    Bad("RESTORE DATABASE shop FROM DISK = 'C:\\shop.bak'", "BACKUP/RESTORE"),
    # not a SELECT at all
    Bad("VALUES (1)", "only SELECT statements are allowed"),
    Bad("Customers", "only SELECT statements are allowed"),
    Bad("SELECT " + "(" * 3000 + "1" + ")" * 3000, "could not parse"),
]

# Mode: read_only=False. The read-only gate's refusals of EXEC, transactions, DCL ... all still hold.
WRITE_CASES: list[WriteCase] = [
    WriteCase("SELECT Name FROM Customers", False, "read"),
    WriteCase("INSERT INTO Customers (CustomerID, Name) VALUES (9, N'Ivo')", False, "dml"),
    WriteCase("UPDATE Customers SET City = 'Roma' WHERE CustomerID = 1", False, "dml"),
    WriteCase("DELETE FROM Orders WHERE Quantity = 0", False, "dml"),
    WriteCase(
        "INSERT INTO Orders (OrderID, CustomerID, ProductID, Quantity, OrderDate) "
        "SELECT 99, CustomerID, 1, 1, '2024-04-01' FROM Customers WHERE CustomerID = 1",
        False,
        "dml",
    ),
    WriteCase("INSERT INTO Customers (Name) OUTPUT inserted.CustomerID VALUES ('x')", False, "dml"),
    WriteCase("INSERT INTO Orders (OrderID) VALUES (NEXT VALUE FOR dbo.order_seq)", False, "dml"),
    WriteCase(
        "UPDATE o SET Quantity = Quantity + 1 FROM Orders o JOIN Customers c ON c.CustomerID = o.CustomerID "
        "WHERE c.Country = 'UK'",
        False,
        "dml",
    ),
    WriteCase(
        "WITH old AS (SELECT OrderID FROM Orders WHERE OrderDate < '2024-02-01') "
        "DELETE FROM Orders WHERE OrderID IN (SELECT OrderID FROM old)",
        False,
        "dml",
    ),
    WriteCase(
        "MERGE Products AS t USING (VALUES (1, 3.75)) AS s(id, price) ON t.ProductID = s.id "
        "WHEN MATCHED THEN UPDATE SET t.Price = s.price "
        "WHEN NOT MATCHED THEN INSERT (ProductID, Name, Price) VALUES (s.id, 'new', s.price);",
        False,
        "dml",
    ),
    WriteCase("CREATE TABLE Notes (id INT PRIMARY KEY, body NVARCHAR(200))", True, "ddl"),
    WriteCase("ALTER TABLE Orders ADD Note NVARCHAR(10)", True, "ddl"),
    WriteCase("DROP TABLE IF EXISTS Notes", True, "ddl"),
    WriteCase("TRUNCATE TABLE Orders", True, "ddl"),
    WriteCase("CREATE INDEX ix_orders_date ON Orders (OrderDate)", True, "ddl"),
    WriteCase("CREATE VIEW BigOrders AS SELECT * FROM Orders WHERE Quantity > 2", True, "ddl"),
    WriteCase("SELECT * INTO OrdersCopy FROM Orders", True, "ddl"),
    # refused in write mode
    WriteCase("CREATE TABLE Notes (id INT)", False, "DDL also needs ALLOW_DDL=true"),
    WriteCase("DROP TABLE Orders", False, "ALLOW_DDL=true"),
    WriteCase("TRUNCATE TABLE Orders", False, "ALLOW_DDL=true"),
    WriteCase("SELECT * INTO OrdersCopy FROM Orders", False, "INTO creates a table"),
    WriteCase("EXEC sp_who", True, "EXEC/EXECUTE"),
    WriteCase("EXECUTE ('DELETE FROM Orders')", True, "EXEC/EXECUTE"),
    WriteCase("INSERT INTO Orders EXEC sp_who", True, "could not parse"),
    WriteCase("BEGIN TRAN", True, "transaction control"),
    WriteCase("COMMIT", True, "transaction control"),
    WriteCase("ROLLBACK", False, "transaction control"),
    WriteCase("DELETE FROM Orders; COMMIT", True, "found 2"),
    WriteCase("UPDATE Orders SET Quantity = 0 SHUTDOWN", True, "could not parse"),
    WriteCase("GRANT SELECT ON Orders TO public", True, "GRANT/REVOKE/DENY"),
    WriteCase("DENY SELECT ON Orders TO public", True, "GRANT/REVOKE/DENY"),
    WriteCase("USE master", True, "USE switches database"),
    WriteCase("SET XACT_ABORT OFF", True, "DECLARE/SET"),
    WriteCase("WAITFOR DELAY '00:00:05'", True, "WAITFOR"),
    WriteCase("INSERT INTO Orders SELECT * FROM OPENROWSET('SQLNCLI', 'x', 'SELECT 1')", True, "OPENROWSET"),
    WriteCase("CREATE VIEW v AS SELECT * FROM OPENQUERY(LinkedSrv, 'SELECT 1')", True, "OPENQUERY"),
    WriteCase("CREATE PROCEDURE p AS SELECT 1", True, "CREATE PROCEDURE is not allowed even with ALLOW_DDL"),
    WriteCase("CREATE DATABASE other", True, "not allowed even with ALLOW_DDL"),
    WriteCase("DROP DATABASE shop", True, "not allowed even with ALLOW_DDL"),
    WriteCase("CREATE LOGIN eve WITH PASSWORD = 'x'", True, "this form of CREATE is not supported"),
    WriteCase("CREATE TRIGGER tr ON Orders AFTER INSERT AS DELETE FROM Orders", True, "this form of CREATE"),
    WriteCase("ALTER DATABASE shop SET SINGLE_USER", True, "this form of ALTER"),
    WriteCase("CREATE TABLE Notes (id INT) SELECT * INTO x FROM Orders", True, "CREATE TABLE ... AS SELECT"),
    WriteCase("CREATE VIEW v AS SELECT * FROM SELECT * INTO x FROM t Orders", True, "INTO"),
    WriteCase("ALTER TABLE Orders DROP COLUMN Note", True, "ddl"),
    WriteCase("CREATE TABLE Seq (id INT DEFAULT NEXT VALUE FOR dbo.order_seq)", True, "ddl"),
    WriteCase("SHUTDOWN", True, "server administration"),
    WriteCase("BACKUP DATABASE shop TO DISK = 'x'", True, "BACKUP/RESTORE"),
    # four-part names, locking hint lists and functions in writes too
    WriteCase("UPDATE LinkedSrv...Orders SET Quantity = 0", False, "four-part names"),
    WriteCase("DELETE FROM [srv]..[dbo].[Orders]", False, "four-part names"),
    WriteCase("INSERT INTO srv.shop..Orders (OrderID) VALUES (1)", False, "four-part names"),
    WriteCase("INSERT INTO Orders (OrderID) SELECT OrderID FROM srv...Orders", False, "four-part names"),
    WriteCase(
        "MERGE srv...Orders AS t USING Orders AS s ON t.OrderID = s.OrderID WHEN MATCHED THEN DELETE;",
        False,
        "four-part names",
    ),
    WriteCase("CREATE VIEW v AS SELECT * FROM srv...Orders", True, "four-part names"),
    WriteCase(
        "UPDATE Orders SET Quantity = 0 WHERE OrderID IN (SELECT * FROM fn_dblog(NULL, NULL))", False, "fn_dblog"
    ),
    WriteCase("INSERT INTO Orders (OrderID) SELECT readfile('/etc/passwd')", False, "readfile"),
    WriteCase("CREATE VIEW v AS SELECT PWDCOMPARE('x', 0x01) AS y", True, "PWDCOMPARE"),
    WriteCase("CREATE VIEW v AS SELECT MD5(Name) AS h FROM Customers", True, "the function MD5 is not"),
    WriteCase(
        "CREATE TABLE Notes (id INT, made DATETIME2 DEFAULT SYSUTCDATETIME(), tag CHAR(36) DEFAULT NEWID())",
        True,
        "ddl",
    ),
    WriteCase(
        "UPDATE Orders SET Quantity = 0 FROM Orders o JOIN sys.sql_logins l ON 1 = 1", False, "server-level view"
    ),
    WriteCase("DELETE FROM Orders (NOLOCK, Bogus)", False, "BOGUS is not a table hint"),
    WriteCase("UPDATE Orders SET Quantity = dbo.fn_total(Quantity)", False, "dml"),
]

# Bad statements whose danger is structural (not hidden in a string or comment), for the mutation
# property test: no case change, comment, whitespace, wrapping or prefix makes them acceptable.
MUTATION_BASES: list[str] = [
    "DROP TABLE Customers",
    "DELETE FROM Orders",
    "UPDATE Customers SET Name = 'x'",
    "INSERT INTO Customers (Name) VALUES ('x')",
    "MERGE Customers AS t USING Products AS s ON t.CustomerID = s.ProductID WHEN MATCHED THEN DELETE",
    "TRUNCATE TABLE Orders",
    "CREATE TABLE x (a INT)",
    "ALTER TABLE Orders ADD n INT",
    "SELECT * INTO #t FROM Customers",
    "SELECT NEXT VALUE FOR dbo.s",
    "SELECT * FROM OPENROWSET('SQLNCLI', 'x', 'SELECT 1')",
    "SELECT * FROM OPENQUERY(LinkedSrv, 'SELECT 1')",
    "SELECT * FROM Customers WITH (UPDLOCK)",
    "SELECT @x = Name FROM Customers",
    "EXEC xp_cmdshell 'dir'",
    "EXECUTE ('SELECT 1')",
    "GRANT SELECT ON Customers TO public",
    "DENY SELECT ON Customers TO public",
    "BEGIN TRAN",
    "COMMIT",
    "DECLARE @x INT",
    "SET NOCOUNT ON",
    "USE master",
    "WAITFOR DELAY '00:00:05'",
    "SHUTDOWN",
    "RECONFIGURE",
    "CHECKPOINT",
    "DBCC CHECKDB",
    "KILL 52",
    "BULK INSERT Orders FROM 'x.csv'",
    "BACKUP DATABASE shop TO DISK = 'x'",
    "SELECT 1 SHUTDOWN",
    "SELECT 1; DROP TABLE Customers",
    "SELECT * FROM srv...Customers",
    "SELECT * FROM Customers (ROWLOCK, XLOCK)",
    "SELECT * FROM fn_dblog(NULL, NULL)",
    "SELECT readfile('x')",
    "SELECT * FROM sys.sql_logins",
    "SELECT * FROM master..sysdatabases",
]

# Statements (and single words that begin one) inserted anywhere into a good read by the property
# test: wherever they land, the result must be refused. sqlglot would otherwise absorb several of
# them (`SELECT 1 FETCH`, `x IN TRUNCATE (...)`, `SELECT 1 SHUTDOWN`).
INSERTED_STATEMENTS: list[str] = [
    "SHUTDOWN",
    "SHUTDOWN WITH NOWAIT",
    "RECONFIGURE",
    "CHECKPOINT",
    "REVERT",
    "SETUSER",
    "COMMIT",
    "ROLLBACK",
    "BEGIN TRAN",
    "SAVE TRAN s",
    "FETCH",
    "FETCH NEXT FROM c",
    "OPEN c",
    "CLOSE c",
    "DEALLOCATE c",
    "TRUNCATE",
    "TRUNCATE TABLE Orders",
    "DROP TABLE Orders",
    "DELETE FROM Orders",
    "DELETE Orders",
    "UPDATE Orders SET Quantity = 0",
    "INSERT INTO Orders DEFAULT VALUES",
    "INSERT",
    "EXEC sp_who",
    "EXECUTE",
    "EXEC('x')",
    "KILL 1",
    "DBCC CHECKDB",
    "WAITFOR DELAY '0:0:1'",
    "SET NOCOUNT ON",
    "DECLARE @x INT",
    "GRANT SELECT ON t TO u",
    "DENY",
    "REVOKE",
    "USE master",
    "CREATE TABLE x (a INT)",
    "ALTER TABLE t ADD b INT",
    "PRINT 1",
    "RAISERROR('x', 16, 1)",
    "THROW",
    "IF 1 = 1",
    "WHILE 1 = 1",
    "RETURN",
    "BREAK",
    "CONTINUE",
    "GOTO x",
    "x:",
    "BACKUP LOG x TO DISK = 'y'",
    "BULK",
    "GO",
    "SELECT * INTO x FROM t",
    "READTEXT",
    "WRITETEXT",
    "UPDATETEXT",
    "LOAD",
    "DUMP",
]
