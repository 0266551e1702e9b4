"""`mssql-mcp` command line: serve | connect | demo | users | store | doctor | config.

With `cli.py` and the two top-level entrypoints, this is the only code that reads the environment.
Each subcommand's work lives in its own module; this file only parses and dispatches.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from mssql_mcp.connect import CLIENTS
from mssql_mcp.errors import MssqlMcpError
from mssql_mcp.faces import FACES
from mssql_mcp.oauth.store_copy import add_arguments as add_store_arguments
from mssql_mcp.oauth.users_cli import add_arguments as add_user_arguments
from mssql_mcp.settings import Settings, load_settings
from mssql_mcp.settings_docs import effective_items, env_example, markdown_table


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mssql-mcp", description="MCP server for SQL Server (and an embedded demo).")
    p.add_argument("--env-file", type=Path, default=Path(".env"), help="settings file read under the environment")
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run an MCP server")
    serve.add_argument("--face", choices=FACES, default="claude", help="claude (4 SQL tools) or chatgpt (search/fetch)")
    serve.add_argument("--host", help="override HOST")
    serve.add_argument("--port", type=int, help="override PORT")
    serve.add_argument(
        "--demo",
        action="store_true",
        help="demo mode for `make run`: create a demo user if none exists and print its one-time password",
    )

    connect = sub.add_parser("connect", help="print how to connect a client to this server, with the exact snippet")
    connect.add_argument("client", choices=CLIENTS)
    connect.add_argument("--face", choices=FACES, help="default: chatgpt for ChatGPT, claude for the others")

    demo = sub.add_parser("demo", help="generate the demo SQLite database")
    demo.add_argument("--scale", type=int, default=1, help="1 is about 100k order lines; up to 10")
    demo.add_argument("--output", type=Path, help="file to write (default: SQLITE_PATH)")
    demo.add_argument("--force", action="store_true", help="overwrite an existing file")
    demo.add_argument(
        "--mssql",
        type=Path,
        metavar="FILE",
        help="write a T-SQL script that creates the demo on SQL Server (sqlcmd -i)",
    )

    users = sub.add_parser("users", help="manage the people who may sign in")
    add_user_arguments(users)

    store = sub.add_parser("store", help="move sign-in state between stores (SQLite to Redis)")
    add_store_arguments(store)

    doctor = sub.add_parser("doctor", help="check the database connection, TLS, login and permissions")
    doctor.add_argument(
        "--as",
        dest="as_person",
        metavar="PERSON",
        help="DB_IDENTITY=impersonate: check one person's mapping and that this login may impersonate their "
        "database user (a key as `users list` shows it, or the e-mail of a person from OIDC_ISSUER)",
    )

    config = sub.add_parser("config", help="print the effective settings (secrets masked)")
    config.add_argument("--markdown-table", action="store_true", help="print the README configuration table")
    config.add_argument("--env-example", action="store_true", help="print .env.example")
    config.add_argument("--write", type=Path, help="write to FILE (the table replaces the one between its markers)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "config" and (args.markdown_table or args.env_example):
            return _print_docs(args)
        overrides = {}
        if getattr(args, "host", None):
            overrides["host"] = args.host
        if getattr(args, "port", None):
            overrides["port"] = args.port
        settings = load_settings(env_file=args.env_file, **overrides)
        return _dispatch(args, settings)
    except MssqlMcpError as exc:
        print(f"mssql-mcp: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "serve":
        from mssql_mcp.serve import serve

        return serve(settings, face=args.face, demo=args.demo)
    if args.command == "demo" and args.mssql:
        from mssql_mcp.demo_mssql import write_script

        if args.mssql.exists() and not args.force:
            print(f"mssql-mcp: {args.mssql} exists; pass --force to overwrite", file=sys.stderr)
            return 2
        batches = write_script(args.mssql, scale=args.scale)
        print(
            f"wrote {args.mssql}: {batches:,} batches; run it in an empty database: sqlcmd -d DATABASE -i {args.mssql}"
        )
        return 0
    if args.command == "demo":
        from mssql_mcp.demo import generate

        out: Path = args.output or settings.sqlite_path
        if out.exists() and not args.force:
            print(f"mssql-mcp: {out} exists; pass --force to overwrite", file=sys.stderr)
            return 2
        stats = generate(out, scale=args.scale, overwrite=True, progress=_progress_bar(f"writing {out}"))
        print(f"wrote {out}: " + ", ".join(f"{t} {n:,}" for t, n in stats.items()))
        return 0
    if args.command == "connect":
        return _connect(args.client, args.face or ("chatgpt" if args.client == "chatgpt" else "claude"), settings)
    if args.command == "users":
        from mssql_mcp.oauth.users_cli import run

        return run(args, settings)
    if args.command == "store":
        from mssql_mcp.oauth.store_copy import run as run_store

        return run_store(args)
    if args.command == "doctor":
        from mssql_mcp.doctor import run_doctor

        return run_doctor(settings, as_person=args.as_person)
    if args.command == "config":
        width = max(len(k) for k, _ in effective_items(settings))
        for key, value in effective_items(settings):
            print(f"{key:<{width}}  {value}")
        return 0
    raise AssertionError(args.command)


def _connect(client: str, face: str, settings: Settings) -> int:
    """On a terminal, the whole guide. Piped, only the snippet goes to standard output (the guide goes to
    standard error), so `mssql-mcp connect claude-desktop > entry.json` writes just the JSON."""
    from mssql_mcp.connect import guide, text
    from mssql_mcp.serve import mcp_url

    g = guide(client, mcp_url(settings, face))
    if sys.stdout.isatty():
        sys.stdout.write(text(g))
    else:
        sys.stderr.write(text(g))
        sys.stderr.flush()
        print(g.snippet)
    return 0


def _progress_bar(label: str) -> Callable[[float], None] | None:
    """A one-line bar on a terminal (standard error); nothing at all when it is not one (logs, pipes)."""
    if not sys.stderr.isatty():
        return None
    shown = -1

    def show(fraction: float) -> None:
        nonlocal shown
        percent = min(100, int(fraction * 100))
        if percent != shown:
            shown = percent
            bar = "#" * (percent * 30 // 100)
            sys.stderr.write(f"\r{label} [{bar:<30}] {percent:3d}%" + ("\n" if percent == 100 else ""))
            sys.stderr.flush()

    return show


_TABLE_START = "<!-- settings-table:start -->"
_TABLE_END = "<!-- settings-table:end -->"


def _print_docs(args: argparse.Namespace) -> int:
    if args.env_example:
        if args.write:
            args.write.write_text(env_example(), encoding="utf-8")
        else:
            sys.stdout.write(env_example())
        return 0
    table = markdown_table()
    if args.write:
        text = args.write.read_text(encoding="utf-8")
        head, sep, rest = text.partition(_TABLE_START)
        _, sep2, tail = rest.partition(_TABLE_END)
        if not (sep and sep2):
            print(f"mssql-mcp: {args.write} has no {_TABLE_START} … {_TABLE_END} markers", file=sys.stderr)
            return 2
        args.write.write_text(f"{head}{_TABLE_START}\n{table}{_TABLE_END}{tail}", encoding="utf-8")
        return 0
    sys.stdout.write(table)
    return 0
