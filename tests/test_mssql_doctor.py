"""`mssql-mcp doctor` as a user runs it (a subprocess), against the TDS test server with each driver."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mssql_mcp.doctor import run_doctor
from mssql_mcp.settings import load_settings
from tests.support.procs import ROOT
from tests.support.tds import TdsServer
from tests.support.tds import fixtures as tds_fixtures
from tests.support.tds.fixtures import DRIVER_CASES, DriverCase, backend_env, connection_string
from tests.support.tds.people import PRINCIPALS, make_people_db

# The shared fixtures (tests/support/tds/fixtures.py), bound here so that pytest finds them.
case, fixture_db, server = tds_fixtures.case, tds_fixtures.fixture_db, tds_fixtures.server


def doctor(env: dict[str, str], tmp: Path, *extra: str) -> tuple[int, dict[str, str]]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("MSSQL_", "ODBC"))}
    full.update(env)
    proc = subprocess.run(
        [sys.executable, "-m", "mssql_mcp", "--env-file", str(tmp / "none.env"), "doctor", *extra],
        cwd=ROOT,
        env=full,
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = {line.split()[1]: line for line in proc.stdout.splitlines() if line.strip()}
    return proc.returncode, lines


def test_all_checks_pass_in_order(server: TdsServer, case: DriverCase, tmp_path: Path) -> None:
    code, lines = doctor(backend_env(server, case), tmp_path)
    assert list(lines) == ["driver", "dns", "tcp", "tls", "login", "database", "permissions", "catalog", "identity"]
    assert code == 0, lines
    assert lines["tls"].startswith("WARN" if case.encrypt == "no" else "OK")
    assert lines["permissions"].startswith("OK") and "read-only" in lines["permissions"]
    assert "3 tables and 1 views" in lines["catalog"]
    assert lines["identity"].startswith("OK") and "DB_IDENTITY=service" in lines["identity"]
    assert server.password not in "".join(lines.values())


def test_writable_login_is_a_loud_warning_or_a_failure(server: TdsServer, case: DriverCase, tmp_path: Path) -> None:
    server.roles.add("db_datawriter")
    code, lines = doctor(backend_env(server, case), tmp_path)
    assert code == 0 and lines["permissions"].startswith("WARN") and "db_datawriter" in lines["permissions"]
    code, lines = doctor(backend_env(server, case, MSSQL_REFUSE_WRITABLE_LOGIN="true"), tmp_path)
    assert code == 1 and lines["permissions"].startswith("FAIL")


def test_failures_name_the_fix(server: TdsServer, case: DriverCase, tmp_path: Path) -> None:
    code, lines = doctor(backend_env(server, case, MSSQL_PASSWORD="wrong"), tmp_path)
    assert code == 1 and lines["login"].startswith("FAIL") and "MSSQL_PASSWORD" in lines["login"]
    assert lines["permissions"].startswith("SKIP")
    if case.encrypt != "no":
        return
    code, lines = doctor(backend_env(server, case, MSSQL_ENCRYPT="yes"), tmp_path)  # this server has no TLS
    assert code == 1 and lines["tls"].startswith("FAIL") and "does not support encryption" in lines["tls"]
    port = server.port
    server.stop()
    code, lines = doctor(backend_env(server, case), tmp_path)
    assert code == 1 and lines["tcp"].startswith("FAIL") and str(port) in lines["tcp"]


def test_missing_driver_names_both_options(tmp_path: Path) -> None:
    code, lines = doctor({"MSSQL_HOST": "127.0.0.1", "MSSQL_DRIVER": "No Such Driver"}, tmp_path)
    assert code == 1 and "ODBC Driver 18" in lines["driver"] and "FreeTDS" in lines["driver"]


def test_raw_connection_string_goes_straight_to_the_login(server: TdsServer, case: DriverCase, tmp_path: Path) -> None:
    raw = connection_string(server, case)  # passed through as written, its Driver= included
    code, lines = doctor({**backend_env(server, case), "MSSQL_CONNECTION_STRING": raw}, tmp_path)
    assert code == 0, lines
    assert [lines[s][:4] for s in ("dns", "tcp", "tls", "login")] == ["SKIP", "SKIP", "SKIP", "OK  "]
    assert server.password not in "".join(lines.values())


def test_impersonate_checks_each_mapped_user_and_names_the_grant(
    server: TdsServer, case: DriverCase, tmp_path: Path
) -> None:
    server.principals["alice_db"] = set()
    mapping = tmp_path / "people.json"
    mapping.write_text(json.dumps({"alice": "alice_db"}))
    env = backend_env(server, case, DB_IDENTITY="impersonate", DB_IDENTITY_MAP_FILE=str(mapping))
    code, lines = doctor(env, tmp_path)
    assert code == 0 and lines["identity"].startswith("OK") and "1 mapped accounts" in lines["identity"], lines
    mapping.write_text(json.dumps({"alice": "alice_db", "ghost": "no_such_user"}))
    code, lines = doctor(env, tmp_path)
    assert code == 1 and lines["identity"].startswith("FAIL"), lines
    assert "no_such_user" in lines["identity"] and "GRANT IMPERSONATE ON USER::[no_such_user]" in lines["identity"]
    assert server.kinds().count("execute_as") == server.kinds().count("revert") == 2


@pytest.fixture(params=[c for c in DRIVER_CASES if c.id in ("freetds", "msodbc18")], ids=lambda c: c.id)
def people_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TdsServer]:
    """The people database: alice_db and bob_db exist; this login may impersonate alice_db only."""
    path = make_people_db(tmp_path / "people.sqlite")
    with TdsServer(path, tmp_path / "tds", principals=PRINCIPALS, impersonable={"alice_db"}).running() as srv:
        srv.case = request.param  # type: ignore[attr-defined]
        yield srv


def doctor_as(env: dict[str, str], person: str) -> tuple[int, dict[str, str]]:
    """run_doctor in-process (the command line's path is taken once, by the first call below)."""
    out = io.StringIO()
    code = run_doctor(load_settings(env, env_file=None), out, as_person=person)
    return code, {line.split()[1]: line for line in out.getvalue().splitlines() if line.strip()}


def test_doctor_as_a_person_resolves_their_user_and_checks_impersonate(
    people_server: TdsServer, tmp_path: Path
) -> None:
    """Granted, not granted, unmapped and a user that does not exist: each names what the DBA runs."""
    mapping = tmp_path / "people.json"
    mapping.write_text(json.dumps({"alice": "alice_db", "bob": "bob_db", "ghost": "no_such_user"}))
    env = backend_env(
        people_server,
        people_server.case,  # type: ignore[attr-defined]
        DB_IDENTITY="impersonate",
        DB_IDENTITY_MAP_FILE=str(mapping),
        OIDC_ISSUER="https://idp.example.com",
        DB_IDENTITY_TEMPLATE="{email_local}_db",
    )

    code, lines = doctor(env, tmp_path, "--as", "alice")
    assert lines["mapping"].startswith("OK") and "alice_db" in lines["mapping"] and "MAP_FILE" in lines["mapping"]
    assert lines["as"].startswith("OK") and "mcp_reader may impersonate alice_db" in lines["as"], lines
    assert lines["identity"].startswith("FAIL") and "DB_IDENTITY=impersonate" in lines["identity"]  # bob_db, ghost
    # through the template: a person from OIDC_ISSUER, named by their verified e-mail
    code, lines = doctor_as(env, "alice@example.com")
    assert lines["mapping"].startswith("OK") and "template" in lines["mapping"] and lines["as"].startswith("OK")

    code, lines = doctor_as(env, "bob")  # exists, but no IMPERSONATE for this login
    assert code == 1 and lines["as"].startswith("FAIL") and "no IMPERSONATE on database user bob_db" in lines["as"]
    assert "fix: GRANT IMPERSONATE ON USER::[bob_db] TO [mcp_reader]" in lines["as"] and "CREATE" not in lines["as"]

    code, lines = doctor_as(env, "ghost")  # mapped to a user that does not exist
    assert code == 1 and lines["as"].startswith("FAIL") and "no_such_user does not exist" in lines["as"], lines
    create = "CREATE USER [no_such_user] WITHOUT LOGIN; GRANT IMPERSONATE ON USER::[no_such_user] TO [mcp_reader]"
    assert create in lines["as"]

    # a local account named like a colleague maps only through the file: unmapped, and no user is checked
    code, lines = doctor_as(env, "carol")
    assert code == 1 and lines["mapping"].startswith("FAIL") and "local account" in lines["mapping"], lines
    assert "as" not in lines
    code, lines = doctor_as(env, "dana@example.com")  # the template names a user nobody created
    assert code == 1 and lines["mapping"].startswith("OK") and "dana_db does not exist" in lines["as"], lines
    assert people_server.kinds().count("execute_as") == people_server.kinds().count("revert")
