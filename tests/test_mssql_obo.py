"""DB_IDENTITY=entra_obo through MSAL and ODBC Driver 18 (TLS) to the TDS test server, with a TLS stand-in for
Entra's v2.0 token endpoint (tests/support/entra.py) that performs the on-behalf-of exchange.

Each person's upstream token is exchanged for an Azure SQL token, Driver 18 signs in with it (FEDAUTH in
LOGIN7) and the TDS server, having checked it against the stand-in's key, makes its subject the login:
SUSER_SNAME() names the person. Covered: the path itself, MSAL's cache and refresh, refused exchanges,
expired tokens, the per-person pool's bounds, and revocation closing a person's connections at once.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet

from mssql_mcp.db.drivers import ensure_driver
from mssql_mcp.db.identity import DbIdentity, identity_of, person_scope
from mssql_mcp.db.mssql import MssqlDatabase
from mssql_mcp.db.mssql_obo import CONSENT, EXPIRED, GONE, OboTokens, refusal, token_struct
from mssql_mcp.db.mssql_people import PersonPools, token_connector
from mssql_mcp.doctor import run_doctor
from mssql_mcp.errors import ConfigError, DatabaseUnavailable, IdentityRefused, QueryError, ServerBusy
from mssql_mcp.settings import Settings, load_settings
from tests.support.entra import EntraStandIn
from tests.support.tds import TdsServer
from tests.support.tds.fixtures import DRIVER_CASES, DriverCase, backend_env
from tests.support.tds.people import make_people_db

CASE = next(c for c in DRIVER_CASES if c.id == "msodbc18-tls")
CLIENT_ID, SECRET = "0b7e-api-client", "stand-in-secret"
WHO = "SELECT SUSER_SNAME() AS who, ORIGINAL_LOGIN() AS orig, SESSION_CONTEXT(N'mcp_user') AS k"
PEOPLE = ("alice", "bob", "carol", "dave", "erin", "frank", "gina", "hal", "ivy", "jo")


@pytest.fixture(scope="module")
def entra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EntraStandIn]:
    stand_in = EntraStandIn(tmp_path_factory.mktemp("entra"), client_id=CLIENT_ID, client_secret=SECRET)
    for name in PEOPLE:
        stand_in.add_user(f"oid-{name}", f"{name}@contoso.com")
    with stand_in.running(), pytest.MonkeyPatch.context() as mp:
        mp.setenv("REQUESTS_CA_BUNDLE", str(stand_in.ca_path))  # MSAL (requests) trusts the stand-in's CA
        yield stand_in


@pytest.fixture(scope="module")
def tds(entra: EntraStandIn, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TdsServer]:
    tmp = tmp_path_factory.mktemp("tds-obo")
    grants = {"alice@contoso.com": {"notes", "salaries"}} | {f"{n}@contoso.com": {"notes"} for n in PEOPLE[1:]}
    server = TdsServer(make_people_db(tmp / "p.sqlite"), tmp / "tds", tls=True, fedauth=entra.verify_sql_token)
    server.principals = grants
    with server.running():
        yield server


def settings_for(tds: TdsServer, entra: EntraStandIn, case: DriverCase = CASE, **extra: str) -> Settings:
    base = {
        "AUTH_MODE": "oidc",
        "OIDC_ISSUER": entra.issuer,
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": SECRET,
        "UPSTREAM_TOKEN_KEYS": Fernet.generate_key().decode(),
        "DB_IDENTITY": "entra_obo",
        "DB_OBO_AUTHORITY": entra.authority,
        "DB_WORKERS": "2",
    }
    env = backend_env(tds, case, **(base | extra))
    return load_settings(env, env_file=None)


@pytest.fixture(scope="module")
def db(tds: TdsServer, entra: EntraStandIn) -> Iterator[MssqlDatabase]:
    database = MssqlDatabase(settings_for(tds, entra))
    yield database
    database.close()


def person(entra: EntraStandIn, name: str, lifetime: int | None = None) -> DbIdentity:
    key = f"oidc:entra:{entra.tenant}#oid-{name}"
    return DbIdentity(key, entra.issuer, f"{name}@contoso.com", (), entra.user_token(f"oid-{name}", lifetime))


def run(db: MssqlDatabase, who: DbIdentity | None, sql: str = WHO) -> list[tuple[object, ...]]:
    with person_scope(who):
        return [tuple(r) for r in db.execute(sql, max_rows=10, timeout=5).rows]


def logins(tds: TdsServer, name: str) -> list[int]:
    return [e.spid for e in tds.events if e.kind == "login" and e.detail.startswith(f"{name}@contoso.com ")]


def test_each_person_signs_in_to_the_database_as_themselves(
    db: MssqlDatabase, tds: TdsServer, entra: EntraStandIn
) -> None:
    alice, bob = person(entra, "alice"), person(entra, "bob")
    assert run(db, alice) == [("alice@contoso.com", "alice@contoso.com", alice.key)]
    assert run(db, bob) == [("bob@contoso.com", "bob@contoso.com", bob.key)]
    # The database's own permissions decide: alice may read the salaries, bob may not.
    assert run(db, alice, "SELECT Amount FROM dbo.Salaries WHERE Person = 'alice'") == [(100,)]
    with pytest.raises(QueryError) as refused:
        run(db, bob, "SELECT Amount FROM dbo.Salaries")
    assert refused.value.number == 229
    # One exchange each; the later calls reused the person's pooled connection and MSAL's cached token.
    assert entra.grants.count("obo") == 2 and len(logins(tds, "alice")) == 1 and len(logins(tds, "bob")) == 1
    assert sorted(db.people.people() if db.people else []) == sorted([alice.key, bob.key])
    assert all(e.detail.split()[0] != "" for e in tds.events if e.kind == "login")


@pytest.mark.parametrize("case", [c for c in DRIVER_CASES if c.driver != "FreeTDS"], ids=lambda c: c.id)
def test_driver_18_signs_in_with_the_token_whatever_the_encryption(
    case: DriverCase, tds: TdsServer, entra: EntraStandIn
) -> None:
    # Driver 18 sends FEDAUTH to a loopback server with no TLS at all, with TLS and a trusted-anyway
    # certificate, and with TDS 8 strict encryption against a pinned certificate.
    database = MssqlDatabase(settings_for(tds, entra, case))
    try:
        assert run(database, person(entra, "alice"))[0][:2] == ("alice@contoso.com", "alice@contoso.com")
    finally:
        database.close()


def test_a_refused_exchange_is_one_line_and_drops_the_person(
    db: MssqlDatabase, tds: TdsServer, entra: EntraStandIn
) -> None:
    carol = person(entra, "carol")
    entra.refuse["oid-carol"] = "consent"
    try:
        with pytest.raises(IdentityRefused) as refused:
            run(db, carol)
    finally:
        del entra.refuse["oid-carol"]
    assert refused.value.message == CONSENT and refused.value.code == 65001
    assert "AADSTS" not in refused.value.message and "\n" not in refused.value.message
    assert db.people is not None and carol.key not in db.people.people() and not logins(tds, "carol")
    # Consent given: the next call, with the token carol's client holds by then, goes through. (MSAL answers
    # a repeat of the refused request itself for a while: its throttling of invalid_grant.)
    assert run(db, person(entra, "carol"))[0][0] == "carol@contoso.com"


def test_an_expired_upstream_token_is_refused_in_one_line(db: MssqlDatabase, entra: EntraStandIn) -> None:
    frank = person(entra, "frank", lifetime=-600)  # Entra: AADSTS500133, the assertion is out of its time range
    with pytest.raises(IdentityRefused) as refused:
        run(db, frank)
    assert refused.value.message == EXPIRED and refused.value.code == 500133
    with pytest.raises(IdentityRefused) as nothing:
        run(db, DbIdentity(frank.key, frank.issuer))  # no upstream token stored at all
    assert nothing.value.message == EXPIRED


def test_an_expired_database_token_is_refused_by_the_server(tds: TdsServer, entra: EntraStandIn) -> None:
    database = MssqlDatabase(settings_for(tds, entra))
    entra.sql_lifetime = -600  # the stand-in hands out an Azure SQL token that has already expired
    try:
        with pytest.raises(DatabaseUnavailable) as refused:
            run(database, person(entra, "gina"))
    finally:
        entra.sql_lifetime = 3600
        database.close()
    assert refused.value.number == 18456 and "Token is expired" in refused.value.message
    assert "FROM EXTERNAL PROVIDER" in refused.value.message and "\n" not in refused.value.message
    assert "MSSQL_PASSWORD" not in refused.value.message
    assert any(e.kind == "login_failed" for e in tds.events) and not logins(tds, "gina")


def test_short_lived_tokens_are_renewed_and_a_disabled_person_is_dropped(tds: TdsServer, entra: EntraStandIn) -> None:
    database = MssqlDatabase(settings_for(tds, entra))
    erin = person(entra, "erin")
    entra.sql_lifetime = 30  # under a minute: each connection is retired before its next use
    try:
        before = len(entra.grants)
        assert run(database, erin)[0][0] == "erin@contoso.com"
        assert run(database, erin)[0][0] == "erin@contoso.com"
        # The second connection signed in with a token MSAL renewed with its refresh token, not a new exchange.
        assert entra.grants[before:] == ["obo", "obo_refresh"] and len(logins(tds, "erin")) == 2
        tokens = entra.sql_tokens[-2:]
        assert tokens[0] != tokens[1]
        entra.refuse["oid-erin"] = "disabled"
        with pytest.raises(IdentityRefused) as refused:
            run(database, erin)
        assert refused.value.message == GONE and refused.value.code == 50057
        assert database.people is not None and erin.key not in database.people.people()
    finally:
        entra.sql_lifetime = 3600
        entra.refuse.pop("oid-erin", None)
        database.close()


def test_revocation_closes_the_persons_connections_at_once(
    db: MssqlDatabase, tds: TdsServer, entra: EntraStandIn
) -> None:
    hal = person(entra, "hal")
    run(db, hal)
    (spid,) = logins(tds, "hal")
    exchanges = entra.grants.count("obo")
    assert db.forget_person(hal.key) and not db.forget_person(hal.key)
    assert "closed" in _settled(tds, spid)
    run(db, hal)  # MSAL forgot them too: a new exchange with the token they hold now
    assert entra.grants.count("obo") == exchanges + 1 and len(logins(tds, "hal")) == 2


def test_the_per_person_pools_are_bounded(tds: TdsServer, entra: EntraStandIn) -> None:
    settings = settings_for(tds, entra)
    now = [1000.0]
    connect = token_connector(settings, ensure_driver(settings.mssql_driver), lambda conn: None, "test")
    pools = PersonPools(
        connect,
        OboTokens(settings),
        max_people=2,
        per_person=1,
        idle_seconds=60,
        clock=lambda: now[0],
        sweep_every=0.05,
    )
    ivy, jo, alice = person(entra, "ivy"), person(entra, "jo"), person(entra, "alice")

    def use(who: DbIdentity) -> int:
        with pools.using(who) as pool, pool.lease(wait=5) as lease:
            return int(lease.conn.cursor().execute("SELECT @@SPID").fetchone()[0])

    try:
        ivy_spid = use(ivy)
        now[0] += 1
        use(jo)
        now[0] += 1
        use(alice)  # a third person: ivy, idle longest, makes room
        assert pools.people() == [jo.key, alice.key] and "closed" in _settled(tds, ivy_spid)
        with pools.using(jo), pools.using(alice):  # both busy: a newcomer is told to come back
            with pytest.raises(ServerBusy) as busy:
                use(ivy)
        assert "DB_OBO_MAX_PEOPLE" in busy.value.message and ivy.key not in pools.people()
        jo_spid = logins(tds, "jo")[-1]
        now[0] += 61  # past DB_OBO_IDLE_SECONDS: the sweeper closes both idle people with no call to prompt it
        assert "closed" in _settled(tds, jo_spid) and pools.people() == []
        use(ivy)
        assert pools.people() == [ivy.key]
        with pools.using(ivy) as pool, pool.lease(wait=5):
            with pytest.raises(DatabaseUnavailable):  # one connection per person: a second call waits, then gives up
                with pools.using(ivy) as again, again.lease(wait=0.2):
                    pass
    finally:
        pools.close()


def _settled(tds: TdsServer, spid: int) -> list[str]:
    deadline = time.monotonic() + 5
    while "closed" not in tds.kinds(spid) and time.monotonic() < deadline:
        time.sleep(0.02)
    return tds.kinds(spid)


def test_a_local_account_or_nobody_is_refused(db: MssqlDatabase) -> None:
    for who in (identity_of("breakglass"), None):
        with pytest.raises(IdentityRefused) as refused:
            run(db, who)
        assert "Entra" in refused.value.message


def test_settings_and_drivers_are_checked_at_start(tds: TdsServer, entra: EntraStandIn) -> None:
    with pytest.raises(ConfigError, match="FreeTDS"):
        MssqlDatabase(settings_for(tds, entra, MSSQL_DRIVER="FreeTDS", MSSQL_ENCRYPT="no"))
    bad = {
        "AUTH_MODE": ("builtin", "AUTH_MODE=oidc"),
        "DB_OBO_AUTHORITY": ("http://127.0.0.1:1/tenant", "https"),
        "DB_OBO_SCOPE": ("database", "DB_OBO_SCOPE"),
    }
    for name, (value, said) in bad.items():
        with pytest.raises(ConfigError, match=said) as error:
            settings_for(tds, entra, **{name: value})
        assert "\n" not in error.value.message
    with pytest.raises(ConfigError, match="DB_OBO_CLIENT_SECRET") as error:
        settings_for(tds, entra, OIDC_CLIENT_SECRET="")
    assert SECRET not in repr(settings_for(tds, entra, DB_OBO_CLIENT_SECRET=SECRET))


def test_doctor_shows_the_mode_and_asks_the_authority(tds: TdsServer, entra: EntraStandIn) -> None:
    out = io.StringIO()
    run_doctor(settings_for(tds, entra), out)
    line = next(ln for ln in out.getvalue().splitlines() if "DB_IDENTITY=entra_obo" in ln)
    assert (
        "OK" in line and entra.authority in line and "FROM EXTERNAL PROVIDER" in line and SECRET not in out.getvalue()
    )
    out = io.StringIO()
    run_doctor(settings_for(tds, entra, DB_OBO_AUTHORITY="https://127.0.0.1:9/nobody"), out)
    line = next(ln for ln in out.getvalue().splitlines() if "DB_IDENTITY=entra_obo" in ln)
    assert "FAIL" in line and "could not be reached" in line


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        ({"error": "invalid_grant", "error_codes": [65001]}, CONSENT),
        ({"error": "interaction_required", "suberror": "consent_required"}, CONSENT),
        ({"error": "invalid_grant", "error_codes": [50057]}, GONE),
        ({"error": "invalid_grant", "error_codes": [700082]}, EXPIRED),
        ({"error": "invalid_client", "error_codes": [7000215]}, "DB_OBO_CLIENT_ID/SECRET"),
        (
            {"error": "invalid_grant", "error_codes": [9999999], "error_description": "AADSTS9999999: secret"},
            "AADSTS9999999",
        ),
        ({"error": "temporarily_unavailable"}, "(temporarily_unavailable)"),
    ],
)
def test_entra_refusals_are_said_in_our_words(answer: dict[str, object], said: str) -> None:
    refused = refusal(answer)
    assert said in refused.message and "secret" not in refused.message and "\n" not in refused.message


def test_the_access_token_struct_is_a_length_then_utf16() -> None:
    packed = token_struct("eyJ.ab-c")
    assert packed[:4] == (16).to_bytes(4, "little") and packed[4:].decode("utf-16-le") == "eyJ.ab-c"
