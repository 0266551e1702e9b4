"""`mssql-mcp users add|list|remove|allow|passwd`: the operator's tool for who may sign in.

With AUTH_MODE=oidc, people from the company's identity provider are listed too, by the key their tokens
carry (oidc:ISSUER#SUB, or oidc:entra:TENANT#OID). `remove KEY` revokes their tokens and blocks them (the
provider would otherwise let them straight back in); `allow KEY` lifts the block.

Passwords come from a prompt (asked twice, not echoed) or from one line of standard input with
`--password-stdin`; never from an argument, where `ps` and shell history would show them.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import time

from mssql_mcp.oauth.identity import is_person_key
from mssql_mcp.oauth.store import OAuthStore
from mssql_mcp.oauth.store_url import open_store
from mssql_mcp.oauth.users import UserError, Users, check_password, check_username
from mssql_mcp.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="users_command", required=True)
    add = sub.add_parser("add", help="create a user (password from a prompt or --password-stdin)")
    add.add_argument("username")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    sub.add_parser("list", help="list the users")
    remove = sub.add_parser(
        "remove", help="delete a user and revoke their tokens (a person from the identity provider: also block them)"
    )
    remove.add_argument("username")
    allow = sub.add_parser("allow", help="let a removed person from the identity provider sign in again")
    allow.add_argument("username")
    passwd = sub.add_parser("passwd", help="change a password (signs the user out everywhere)")
    passwd.add_argument("username")
    passwd.add_argument("--password-stdin", action="store_true", help="read the password from standard input")


def run(args: argparse.Namespace, settings: Settings) -> int:
    store = open_store(settings)
    users = Users(store)
    try:
        command: str = args.users_command
        if command == "list":
            records = users.list()
            for u in records:
                created = time.strftime("%Y-%m-%d %H:%M", time.gmtime(u.created_at))
                changed = time.strftime("%Y-%m-%d %H:%M", time.gmtime(u.updated_at))
                print(f"{u.username}\tcreated {created} UTC\tpassword set {changed} UTC\tlocal")
            people = store.list_people()
            for p in people:
                who = f"{p.name} <{p.email}>" if p.email else p.name
                seen = time.strftime("%Y-%m-%d %H:%M", time.gmtime(p.seen_at))
                blocked = "\tBLOCKED (users allow to lift)" if p.blocked_at is not None else ""
                print(f"{p.key}\t{who}\tlast sign-in {seen} UTC\tfrom {p.issuer}{blocked}")
            if not records and not people:
                print("no users yet: add one with `mssql-mcp users add NAME`", file=sys.stderr)
            return 0
        if is_person_key(args.username):
            return _person_command(store, command, args.username)
        if command == "allow":
            print(f"mssql-mcp: {args.username!r} is not a person from the identity provider", file=sys.stderr)
            return 1
        username = check_username(args.username)
        exists = store.get_user(username) is not None
        if command == "remove":
            if not users.remove(username):
                print(f"mssql-mcp: no user {username!r}", file=sys.stderr)
                return 1
            print(f"removed {username} and revoked their tokens")
            return 0
        if command == "add" and exists:
            print(f"mssql-mcp: user {username!r} exists; use `users passwd` to change the password", file=sys.stderr)
            return 1
        if command == "passwd" and not exists:
            print(f"mssql-mcp: no user {username!r}; use `users add`", file=sys.stderr)
            return 1
        users.set_password(username, _read_password(args.password_stdin))
        print(f"added {username}" if command == "add" else f"changed the password of {username}; old tokens revoked")
        return 0
    except UserError as exc:
        print(f"mssql-mcp: {exc.message}", file=sys.stderr)
        return 2
    finally:
        store.close()


def _person_command(store: OAuthStore, command: str, key: str) -> int:
    if command not in ("remove", "allow"):
        print(f"mssql-mcp: {key} signs in at the identity provider and has no password here", file=sys.stderr)
        return 1
    now = time.time()
    if not store.block_person(key, now if command == "remove" else None):
        print(f"mssql-mcp: no person {key!r}", file=sys.stderr)
        return 1
    if command == "allow":
        print(f"allowed {key} to sign in again")
        return 0
    n = store.revoke_user(key, now)
    print(f"revoked {n} tokens of {key} and blocked them until `mssql-mcp users allow {key}`")
    return 0


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline() if sys.stdin is not None else ""
        return check_password(line.rstrip("\r\n"))
    if sys.stdin is None or not sys.stdin.isatty():
        # getpass would fall back to echoing the prompt on stderr, warn, then fail with EOFError.
        raise UserError("no terminal to ask for the password: pipe it in with --password-stdin")
    try:
        first = check_password(getpass.getpass("Password: "))
        again = getpass.getpass("Password again: ")
    except EOFError:
        raise UserError("no password given (end of input)") from None
    if again != first:
        raise UserError("the passwords do not match")
    return first
