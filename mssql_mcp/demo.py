"""The demo database: a deterministic, seeded sales schema in SQLite (`mssql-mcp demo --scale N`).

It exists so that `make run` works on any machine, and so that tests and benchmarks have realistic data:
eight tables with primary and foreign keys, NULLs, dates, decimals, money, bits, GUIDs, binary data and
non-ASCII text, plus one view. Column types are declared the SQL Server way (NVARCHAR(40), DECIMAL(10,2),
DATETIME2), which SQLite keeps as written, so `describe_table` shows what a SQL Server user expects.

Scale 1 has about 100k order lines; scale 10 about 1M. The same scale always gives the same bytes of data
(one seeded `random.Random`; no clock, no hash ordering).
"""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from mssql_mcp.errors import InvalidArgument

MAX_SCALE = 10
SEED = 20_261_124
#: A customer every scale contains, with a searchable, non-ASCII name (tests and docs use it).
KNOWN_CUSTOMER = "Zürich Alpine Outfitters AG"

SCHEMA = """
CREATE TABLE Categories (
    CategoryID   INT PRIMARY KEY,
    CategoryName NVARCHAR(40) NOT NULL UNIQUE,
    Description  "NVARCHAR(MAX)"  -- quoted: SQLite type names take no MAX
);
CREATE TABLE Suppliers (
    SupplierID  INT PRIMARY KEY,
    CompanyName NVARCHAR(80) NOT NULL,
    ContactName NVARCHAR(60),
    Country     NVARCHAR(40) NOT NULL,
    City        NVARCHAR(40) NOT NULL,
    Phone       VARCHAR(24)
);
CREATE TABLE Products (
    ProductID    INT PRIMARY KEY,
    ProductName  NVARCHAR(80) NOT NULL,
    SupplierID   INT NOT NULL REFERENCES Suppliers (SupplierID),
    CategoryID   INT NOT NULL REFERENCES Categories (CategoryID),
    UnitPrice    DECIMAL(10,2) NOT NULL,
    UnitsInStock INT NOT NULL DEFAULT 0,
    Discontinued BIT NOT NULL DEFAULT 0
);
CREATE TABLE Customers (
    CustomerID   INT PRIMARY KEY,
    CustomerGuid UNIQUEIDENTIFIER NOT NULL UNIQUE,
    CompanyName  NVARCHAR(80) NOT NULL,
    ContactName  NVARCHAR(60) NOT NULL,
    Email        VARCHAR(120),
    Country      NVARCHAR(40) NOT NULL,
    City         NVARCHAR(40) NOT NULL,
    Region       NVARCHAR(40),
    CreatedAt    DATETIME2 NOT NULL
);
CREATE TABLE Employees (
    EmployeeID INT PRIMARY KEY,
    FirstName  NVARCHAR(30) NOT NULL,
    LastName   NVARCHAR(40) NOT NULL,
    Title      NVARCHAR(40) NOT NULL,
    ReportsTo  INT REFERENCES Employees (EmployeeID),
    HireDate   DATE NOT NULL,
    Photo      "VARBINARY(MAX)"
);
CREATE TABLE Shippers (
    ShipperID   INT PRIMARY KEY,
    CompanyName NVARCHAR(60) NOT NULL,
    Phone       VARCHAR(24)
);
CREATE TABLE Orders (
    OrderID      INT PRIMARY KEY,
    CustomerID   INT NOT NULL REFERENCES Customers (CustomerID),
    EmployeeID   INT NOT NULL REFERENCES Employees (EmployeeID),
    ShipperID    INT REFERENCES Shippers (ShipperID),
    OrderDate    DATETIME2 NOT NULL,
    RequiredDate DATE NOT NULL,
    ShippedDate  DATETIME2,
    Freight      MONEY NOT NULL DEFAULT 0,
    ShipCountry  NVARCHAR(40) NOT NULL,
    ShipCity     NVARCHAR(40) NOT NULL
);
CREATE TABLE OrderLines (
    OrderID    INT NOT NULL REFERENCES Orders (OrderID),
    LineNumber INT NOT NULL,
    ProductID  INT NOT NULL REFERENCES Products (ProductID),
    UnitPrice  DECIMAL(10,2) NOT NULL,
    Quantity   INT NOT NULL,
    Discount   DECIMAL(4,2) NOT NULL DEFAULT 0,
    PRIMARY KEY (OrderID, LineNumber)
);
CREATE VIEW SalesByCategory AS
    SELECT c.CategoryName, COUNT(*) AS Lines, ROUND(SUM(l.UnitPrice * l.Quantity * (1 - l.Discount)), 2) AS Revenue
    FROM OrderLines l JOIN Products p ON p.ProductID = l.ProductID JOIN Categories c ON c.CategoryID = p.CategoryID
    GROUP BY c.CategoryName;
CREATE INDEX IX_Orders_CustomerID ON Orders (CustomerID);
CREATE INDEX IX_Orders_OrderDate ON Orders (OrderDate);
CREATE INDEX IX_OrderLines_ProductID ON OrderLines (ProductID);
CREATE INDEX IX_Customers_Country ON Customers (Country);
"""

# (country, cities, region or None) — non-ASCII names on purpose.
PLACES = [
    ("Germany", ["München", "Köln", "Düsseldorf", "Berlin"], None),
    ("Switzerland", ["Zürich", "Genève", "Basel"], None),
    ("France", ["Orléans", "Besançon", "Lyon", "Paris"], None),
    ("Spain", ["A Coruña", "Cádiz", "Málaga", "Madrid"], None),
    ("Poland", ["Łódź", "Kraków", "Gdańsk"], None),
    ("Sweden", ["Malmö", "Göteborg", "Umeå"], None),
    ("Iceland", ["Reykjavík", "Akureyri"], None),
    ("Brazil", ["São Paulo", "Florianópolis", "Belém"], "SP"),
    ("Japan", ["東京", "大阪", "京都"], None),
    ("USA", ["Seattle", "Portland", "Boise", "Austin"], "WA"),
    ("Canada", ["Montréal", "Québec", "Toronto"], "QC"),
    ("UK", ["London", "Cowes", "Edinburgh"], None),
]
FIRST = (
    "Anna, José, Zoë, Björn, Łukasz, Chloé, Søren, Ana, Mateo, Yūki, Maria, Liam, Noémie, Jürgen, "
    "Aisling, Olivia, Ines, Tomás, Eva, Ravi"
).split(", ")
LAST = (
    "Müller, García, Dubois, Kowalski, Andersson, O'Brien, Nakamura, Rossi, Silva, Smith, Ólafsdóttir, "
    "Novák, Fernández, Jensen, Schröder, Łęcki, Martin, Brown, Costa, Weiß"
).split(", ")
TRADES = (
    "Kaffee, Delikatessen, Outfitters, Trading, Bäckerei, Market, Provisions, Imports, Foods, Comércio, "
    "Épicerie, Handel"
).split(", ")
SUFFIXES = ["GmbH", "AG", "SA", "Ltd", "Inc.", "S.L.", "Sp. z o.o.", "AB", "ehf.", "Ltda.", "K.K.", "LLC"]
CATEGORIES = [
    ("Beverages", "Soft drinks, coffees, teas, beers, and ales"),
    ("Condiments", "Sweet and savory sauces, relishes, spreads, and seasonings"),
    ("Confections", "Desserts, candies, and sweet breads"),
    ("Dairy Products", "Cheeses"),
    ("Grains/Cereals", "Breads, crackers, pasta, and cereal"),
    ("Meat/Poultry", "Prepared meats"),
    ("Produce", "Dried fruit and bean curd"),
    ("Seafood", "Seaweed and fish"),
    ("Café & Thé", None),
    ("Équipement", "Outdoor equipment"),
    ("Snacks", None),
    ("Frozen", "Frozen foods"),
]
ADJECTIVES = (
    "Alpine, Golden, Nordic, Smoked, Crème, Spicy, Organic, Royal, Wild, Gâteau, Classic, Island, "
    "Highland, Sweet, Dark, Fresh"
).split(", ")
NOUNS = (
    "Coffee, Tea, Cheese, Chocolate, Sauce, Bread, Salmon, Honey, Pasta, Jam, Lager, Olive Oil, Crackers,"
    " Mustard, Syrup, Anchovies, Muesli, Tofu"
).split(", ")
TITLES = ["Sales Representative", "Sales Manager", "Inside Sales Coordinator", "Vice President, Sales"]
EPOCH = datetime(2019, 1, 1)
DAYS = 6 * 365


def _money(rng: random.Random, low: int, high: int) -> str:
    """A 2-decimal amount as exact text: SQLite keeps DECIMAL as a number, the backend reads it back exactly."""
    return str(Decimal(rng.randint(low * 100, high * 100)) / 100)


#: How much of the work each phase is, for progress reports (measured: rows ~55%, inserts ~40%, ANALYZE).
_MAKE, _INSERT = 0.55, 0.40
_CHUNK = 20_000  # rows per executemany, so inserting reports progress too

Progress = Callable[[float], None]


def table_rows(
    rng: random.Random, scale: int, progress: Progress | None = None
) -> Iterator[tuple[str, Sequence[tuple[object, ...]]]]:
    yield "Categories", [(i, name, desc) for i, (name, desc) in enumerate(CATEGORIES, 1)]

    suppliers = []
    for i in range(1, 41):
        country, cities, _ = rng.choice(PLACES)
        phone = None if i % 7 == 0 else f"+{rng.randint(1, 99)} {rng.randint(100, 999)} {rng.randint(1000, 9999)}"
        suppliers.append(
            (
                i,
                f"{rng.choice(LAST)} {rng.choice(TRADES)} {rng.choice(SUFFIXES)}",
                f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                country,
                rng.choice(cities),
                phone,
            )
        )
    yield "Suppliers", suppliers

    n_products = 250 + 25 * scale
    products = []
    prices = {}
    for i in range(1, n_products + 1):
        price = _money(rng, 2, 250)
        prices[i] = price
        products.append(
            (
                i,
                f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} #{i}",
                rng.randint(1, 40),
                rng.randint(1, len(CATEGORIES)),
                price,
                rng.randint(0, 500),
                int(rng.random() < 0.08),
            )
        )
    yield "Products", products

    n_customers = 1000 * scale
    customers = []
    for i in range(1, n_customers + 1):
        country, cities, region = PLACES[1] if i == 1 else rng.choice(PLACES)
        contact = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        name = KNOWN_CUSTOMER if i == 1 else f"{rng.choice(LAST)} {rng.choice(TRADES)} {rng.choice(SUFFIXES)}"
        email = None if i % 11 == 0 else f"contact{i}@example.com"
        created = EPOCH + timedelta(days=rng.randrange(DAYS), seconds=rng.randrange(86_400))
        customers.append(
            (
                i,
                str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                name,
                contact,
                email,
                country,
                "Zürich" if i == 1 else rng.choice(cities),
                region,
                created.isoformat(" "),
            )
        )
    yield "Customers", customers

    employees = []
    for i in range(1, 51):
        boss = None if i == 1 else rng.randint(1, min(i - 1, 5))
        photo = None if i % 3 else bytes(rng.getrandbits(8) for _ in range(32))
        hired = (EPOCH.date() - timedelta(days=rng.randrange(3000))).isoformat()
        employees.append(
            (i, rng.choice(FIRST), rng.choice(LAST), TITLES[0] if i > 4 else TITLES[min(i, 3)], boss, hired, photo)
        )
    yield "Employees", employees

    yield (
        "Shippers",
        [
            (1, "Speedy Express", "(503) 555-9831"),
            (2, "United Package", "(503) 555-3199"),
            (3, "Federal Shipping", None),
            (4, "Transportes Rápidos", "+34 91 555 0199"),
            (5, "Nordpost Fracht", "+49 30 555 0142"),
        ],
    )

    orders, lines = [], []
    n_orders = 25_000 * scale
    step = n_orders // 100
    for order_id in range(1, n_orders + 1):
        if progress and order_id % step == 0:
            progress(_MAKE * order_id / n_orders)
        customer = customers[rng.randrange(n_customers)]
        ordered = EPOCH + timedelta(days=rng.randrange(DAYS), seconds=rng.randrange(86_400))
        lead_time = timedelta(days=rng.randint(1, 20), hours=rng.randint(0, 23))
        shipped = None if rng.random() < 0.05 else ordered + lead_time
        orders.append(
            (
                order_id,
                customer[0],
                rng.randint(1, 50),
                None if shipped is None else rng.randint(1, 5),
                ordered.isoformat(" "),
                (ordered + timedelta(days=28)).date().isoformat(),
                None if shipped is None else shipped.isoformat(" "),
                _money(rng, 0, 300),
                customer[5],
                customer[6],
            )
        )
        for line in range(1, rng.randint(1, 7) + 1):
            product = rng.randint(1, n_products)
            discount = "0" if rng.random() < 0.7 else rng.choice(["0.05", "0.1", "0.15", "0.2", "0.25"])
            lines.append((order_id, line, product, prices[product], rng.randint(1, 60), discount))
    yield "Orders", orders
    yield "OrderLines", lines


def generate(
    path: Path, *, scale: int = 1, overwrite: bool = False, progress: Progress | None = None
) -> dict[str, int]:
    """Write the demo database to `path` and return the row count of each table.

    The file appears atomically (written beside it, then renamed), so a crash never leaves half a database.
    `progress`, if given, is called with the fraction done (0 to 1), about a hundred times.
    """
    if not 1 <= scale <= MAX_SCALE:
        raise InvalidArgument(f"scale must be between 1 and {MAX_SCALE} (got {scale}).")
    path = Path(path)
    if path.exists() and not overwrite:
        raise InvalidArgument(f"{path} exists; pass --force to overwrite it.")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    counts: dict[str, int] = {}
    try:
        with contextlib.closing(sqlite3.connect(tmp)) as db:
            db.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;" + SCHEMA)
            tables = list(table_rows(random.Random(SEED + scale), scale, progress))
            total, done = sum(len(rows) for _, rows in tables), 0
            for table, rows in tables:
                marks = ", ".join("?" * len(rows[0]))
                for start in range(0, len(rows), _CHUNK):
                    chunk = rows[start : start + _CHUNK]
                    db.executemany(f"INSERT INTO {table} VALUES ({marks})", chunk)  # table: a constant above
                    done += len(chunk)
                    if progress:
                        progress(_MAKE + _INSERT * done / total)
                counts[table] = len(rows)
            db.commit()
            db.execute("ANALYZE")
            db.commit()
        if progress:
            progress(1.0)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return counts


def ensure_demo(path: Path, *, scale: int = 1) -> bool:
    """Generate the demo at `path` unless a file is there. An existing file is served as it is: any SQLite
    database, not only ours. Returns True when it generated one."""
    if Path(path).exists():
        return False
    generate(path, scale=scale)
    return True
