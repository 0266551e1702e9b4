"""Nothing cached crosses from one person to another (DB_IDENTITY=impersonate, the TDS test server, Driver 18).

Through the whole server with sign-in, alice (whose database user may read Salaries) fills every cache first:
the catalog behind list_tables and the did-you-mean suggestions, the schema search index, the ChatGPT face's
table descriptions and keyword search. Then bob, whose user may not read Salaries (so SQL Server, and the TDS
server's emulation of its metadata visibility, does not show it to him), asks the same and never meets it.
In-process: the per-principal caches keep at most DB_IDENTITY_CACHE_PRINCIPALS principals, and service mode
keeps one shared catalog.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from mssql_mcp import cli, schema_search
from mssql_mcp.db.identity import identity_of, person_scope
from mssql_mcp.db.mssql import MssqlDatabase
from mssql_mcp.errors import UnknownTable
from mssql_mcp.queries import QueryService
from mssql_mcp.settings import load_settings
from tests.support.mcp_client import text_of
from tests.support.oauth_flow import add_user, running_oauth_server, signed_in
from tests.support.procs import ServerProcess
from tests.support.tds import TdsServer, people
from tests.support.tds.fixtures import DRIVER_CASES, backend_env
from tests.support.tds.people import ALICE, BOB, write_mapping

pytestmark = pytest.mark.anyio
tds = people.people_tds  # the module's TDS server on the people database (a fixture)
CASE = next(c for c in DRIVER_CASES if c.id == "msodbc18")


def identity_env(tds: TdsServer, tmp: Path, **extra: str) -> dict[str, str]:
    return backend_env(
        tds, CASE, DB_IDENTITY="impersonate", DB_IDENTITY_MAP_FILE=str(write_mapping(tmp / "people.json")), **extra
    )


@pytest.fixture(scope="module")
def servers(
    tds: TdsServer, demo_db: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ServerProcess]]:
    tmp = tmp_path_factory.mktemp("identity-caches")
    for account in (ALICE, BOB):
        add_user(tmp / "oauth.sqlite", account)
    env = identity_env(tds, tmp)
    with (
        running_oauth_server(demo_db, tmp, account=ALICE, env=env) as claude,
        running_oauth_server(demo_db, tmp, account=ALICE, env=env, face="chatgpt") as chatgpt,
    ):
        yield {"claude": claude, "chatgpt": chatgpt}


async def call(client: object, tool: str, **arguments: object) -> tuple[bool, str, object]:
    result = await client.call_tool(tool, arguments)  # type: ignore[attr-defined]
    return bool(result.is_error), text_of(result), result.structured_content


async def test_claude_face_alice_s_catalog_search_and_describe_are_never_bob_s(
    servers: dict[str, ServerProcess],
) -> None:
    url = servers["claude"].base_url
    async with signed_in(url, ALICE) as alice, signed_in(url, BOB) as bob:
        # alice first: she fills the catalog, the search index and the suggestions' names
        failed, text, listed = await call(alice, "list_tables")
        assert not failed and "dbo.Salaries" in text and "dbo.Notes" in text, text
        failed, text, found = await call(alice, "search_schema", query="salaries amount")
        assert not failed and found["matches"][0]["name"] == "Salaries", text  # type: ignore[index]
        failed, text, _ = await call(alice, "describe_table", table_name="Salaries")
        assert not failed and "Amount" in text, text
        failed, text, _ = await call(alice, "describe_table", table_name="Salary")
        assert failed and "dbo.Salaries" in text, text  # her did-you-mean knows it

        failed, text, listed = await call(bob, "list_tables")
        names = {t["name"] for t in listed["tables"]}  # type: ignore[index]
        assert not failed and "Notes" in names and "Salaries" not in names and "Salaries" not in text, text
        failed, text, _ = await call(bob, "list_tables", pattern="sal")
        assert not failed and "Salaries" not in text, text
        failed, text, found = await call(bob, "search_schema", query="salaries amount")
        assert not failed and all(m["name"] != "Salaries" for m in found["matches"]), text  # type: ignore[index]
        assert "Amount" not in text, text
        for name in ("Salaries", "Salary", "dbo.Salaries"):
            failed, text, _ = await call(bob, "describe_table", table_name=name)
            assert failed and "Salaries" not in text.replace(name, ""), text  # no suggestion names it
            assert "Amount" not in text, text
        failed, text, _ = await call(bob, "get_table_sample", table_name="Salaries")
        assert failed and "90" not in text, text

        # and alice still has hers: bob's calls did not replace it
        failed, text, _ = await call(alice, "list_tables")
        assert not failed and "dbo.Salaries" in text, text
    lines = [line for line in servers["claude"].log().splitlines() if "tool_call" in line]
    assert lines and all(("user=alice" in x and "db_user=alice_db" in x) or "user=bob" in x for x in lines), lines
    assert all("db_user=bob_db" in x for x in lines if "user=bob" in x)


async def test_chatgpt_face_alice_s_search_and_descriptions_are_never_bob_s(
    servers: dict[str, ServerProcess],
) -> None:
    url = servers["chatgpt"].base_url
    async with (
        signed_in(url, ALICE, prefix="/chatgpt") as alice,
        signed_in(url, BOB, prefix="/chatgpt") as bob,
    ):
        failed, text, _ = await call(alice, "search", query="Salaries")
        assert not failed and "dbo.Salaries" in text, text
        failed, text, _ = await call(alice, "search", query="Amount")
        assert not failed and "Salaries" in text, text  # a column hit, from her schema index
        for query in ("Salaries", "Amount", "list tables"):
            failed, text, _ = await call(bob, "search", query=query)
            assert not failed and "Salaries" not in text, (query, text)
        results = json.loads((await bob.call_tool("search", {"query": "list tables"})).content[0].text)["results"]
        assert results and all("Salaries" not in r["title"] for r in results)


def make_service(tds: TdsServer, tmp: Path, *, principals: int, **extra: str) -> QueryService:
    settings = load_settings(
        identity_env(tds, tmp, OIDC_ISSUER="https://idp.example.com", DB_IDENTITY_TEMPLATE="{email_local}_db")
        if extra.pop("impersonate", "yes") == "yes"
        else backend_env(tds, CASE),
        env_file=None,
    )
    return QueryService(
        MssqlDatabase(settings), max_rows=50, timeout=10, workers=2, read_only=True, cache_principals=principals
    )


async def test_the_per_principal_caches_hold_at_most_their_bound(tds: TdsServer, tmp_path: Path) -> None:
    service = make_service(tds, tmp_path, principals=1)
    search = schema_search.for_service(service)
    alice, bob = identity_of("alice"), identity_of("bob")
    try:
        with person_scope(alice):
            assert "Salaries" in {t.ref.name for t in await service.list_tables()}
            await search.index()
        with person_scope(bob):
            assert "Salaries" not in {t.ref.name for t in await service.list_tables()}
            with pytest.raises(UnknownTable) as refused:
                await service.resolve("Salarie")
            assert "Salaries" not in refused.value.message
            await search.index()
        assert service.catalog_scopes() == ["user:bob_db"] and search.scopes() == ["user:bob_db"]
        assert service.catalog_loads == 2 and search.builds == 2
        with person_scope(alice):  # alice's catalog was dropped for bob's: loaded again, as alice
            assert "Salaries" in {t.ref.name for t in await service.list_tables()}
            assert "Salaries" in (await service.resolve("Salaries")).ref.name
        assert service.catalog_scopes() == ["user:alice_db"] and service.catalog_loads == 3
    finally:
        service.close()


async def test_service_mode_keeps_one_shared_catalog(tds: TdsServer, tmp_path: Path) -> None:
    service = make_service(tds, tmp_path, principals=1, impersonate="no")
    try:
        for person in (identity_of("alice"), identity_of("bob"), None):
            with person_scope(person):
                assert "Salaries" in {t.ref.name for t in await service.list_tables()}
        assert service.catalog_scopes() == [None] and service.catalog_loads == 1
        with person_scope(identity_of("alice")):  # the audit line's db_user: the service login, for everyone
            assert service.database.audit_principal() == f"login:{tds.user}"  # type: ignore[attr-defined]
    finally:
        service.close()


async def test_health_stays_identity_free_and_config_shows_the_mode(
    servers: dict[str, ServerProcess], tds: TdsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    url = servers["claude"].base_url
    async with signed_in(url, ALICE) as alice:
        assert not (await call(alice, "list_tables"))[0]
    async with httpx2.AsyncClient(timeout=30) as http:
        response = await http.get(url + "/health")
    body = response.text
    assert response.status_code == 200 and response.json()["status"] == "ok", body
    for word in ("alice", "bob", "_db", "impersonate", "identity", "principal", "mcp_reader"):
        assert word not in body.lower(), (word, body)
    for key, value in identity_env(tds, tmp_path).items():
        monkeypatch.setenv(key, value)
    assert cli.main(["--env-file", str(tmp_path / "none.env"), "config"]) == 0
    shown = dict(line.split(None, 1) for line in capsys.readouterr().out.splitlines() if " " in line.strip())
    assert shown["DB_IDENTITY"].strip() == "impersonate" and shown["DB_IDENTITY_CACHE_PRINCIPALS"].strip() == "16"
