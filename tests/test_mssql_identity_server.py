"""Query as yourself, through the whole server: alice and bob sign in (OAuth, their own passwords) and run
the same SQL through execute_sql; DB_IDENTITY=impersonate on the TDS test server (ODBC Driver 18).

Each sees only their rows (the row filter on SESSION_CONTEXT(N'mcp_user')), bob is refused the table only
alice's database user may read, USER_NAME() names each one's user, a burst of both on a pool of two
connections never crosses, an unmapped person is refused, and every audit line names the database user.
The ChatGPT face's record pages run as the visitor too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client

from tests.support.chatgpt_contract import TEST_ID_KEY, signed
from tests.support.mcp_client import text_of
from tests.support.oauth_flow import Account, MemoryStorage, add_user, running_oauth_server, signed_in
from tests.support.procs import ServerProcess
from tests.support.tds import TdsServer, people
from tests.support.tds.fixtures import DRIVER_CASES, backend_env
from tests.support.tds.people import ALICE, BOB, CAROL, write_mapping

pytestmark = pytest.mark.anyio
tds = people.people_tds  # the module's TDS server on the people database (a fixture)
CASE = next(c for c in DRIVER_CASES if c.id == "msodbc18")


def impersonating(
    tds: TdsServer, demo_db: Path, tmp: Path, accounts: tuple[Account, ...], face: str = "claude", **env: str
) -> Iterator[ServerProcess]:
    """A face with sign-in, DB_IDENTITY=impersonate on the people TDS server, and `accounts` able to sign in."""
    for account in accounts:
        add_user(tmp / "oauth.sqlite", account)
    settings = backend_env(
        tds, CASE, DB_IDENTITY="impersonate", DB_IDENTITY_MAP_FILE=str(write_mapping(tmp / "people.json")), **env
    )
    with running_oauth_server(demo_db, tmp, face=face, account=ALICE, env=settings) as process:
        yield process


@pytest.fixture(scope="module")
def server(tds: TdsServer, demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("identity-server")
    yield from impersonating(tds, demo_db, tmp, (ALICE, BOB, CAROL), DB_WORKERS="2", DB_WORKERS_PER_CALLER="2")


@pytest.fixture(scope="module")
def chatgpt(tds: TdsServer, demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("identity-chatgpt")
    yield from impersonating(tds, demo_db, tmp, (ALICE, BOB), face="chatgpt", RECORD_ID_KEYS=TEST_ID_KEY)


async def sql(client: Client, query: str) -> tuple[bool, str]:
    result = await client.call_tool("execute_sql", {"query": query})
    return bool(result.is_error), text_of(result)


async def test_each_person_sees_their_own_rows_tables_and_user(server: ServerProcess) -> None:
    async with signed_in(server.base_url, ALICE) as alice, signed_in(server.base_url, BOB) as bob:
        failed, text = await sql(alice, "SELECT Body FROM dbo.Notes ORDER BY NoteID")
        assert not failed and "a1" in text and "a2" in text and "b1" not in text, text
        failed, text = await sql(bob, "SELECT Body FROM dbo.Notes ORDER BY NoteID")
        assert not failed and "b1" in text and "a1" not in text, text
        failed, text = await sql(alice, "SELECT Amount FROM dbo.Salaries WHERE Person = 'alice'")
        assert not failed and "100" in text, text
        failed, text = await sql(bob, "SELECT Amount FROM dbo.Salaries")
        assert failed and "229" in text and "permission was denied" in text, text
        for client, user in ((alice, "alice_db"), (bob, "bob_db")):
            failed, text = await sql(client, "SELECT USER_NAME() AS who, SESSION_CONTEXT(N'mcp_user') AS k")
            assert not failed and user in text and user.removesuffix("_db") in text, text
        for refused in ("REVERT", "EXECUTE AS USER = 'alice_db'", "EXEC sp_set_session_context N'mcp_user', N'x'"):
            failed, text = await sql(bob, refused)
            assert failed and "USER_NAME" not in text, text
    log = server.log()
    assert "user=alice" in log and "db_user=alice_db" in log and "db_user=bob_db" in log


async def test_a_burst_of_both_never_crosses(server: ServerProcess) -> None:
    seen: list[tuple[str, bool, str]] = []

    async def run(client: Client, name: str) -> None:
        for _ in range(8):
            failed, text = await sql(
                client, "SELECT USER_NAME() AS who, SESSION_CONTEXT(N'mcp_user') AS k, Owner FROM dbo.Notes"
            )
            seen.append((name, failed, text))

    async with signed_in(server.base_url, ALICE) as alice, signed_in(server.base_url, BOB) as bob:
        async with anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(run, alice, "alice")
                tg.start_soon(run, bob, "bob")
    assert len(seen) == 48
    for name, failed, text in seen:
        other = "bob" if name == "alice" else "alice"
        assert not failed and f"{name}_db" in text and other not in text, text


async def test_an_unmapped_person_is_refused_in_one_line(server: ServerProcess) -> None:
    async with signed_in(server.base_url, CAROL) as carol:
        failed, text = await sql(carol, "SELECT 1 AS one")
    assert failed and "no database user" in text and "\n" not in text.strip(), text


async def test_a_record_page_runs_as_the_person_who_opens_it(chatgpt: ServerProcess) -> None:
    pages: dict[str, dict[str, httpx2.Response]] = {}
    for account in (ALICE, BOB):
        storage = MemoryStorage()
        async with signed_in(chatgpt.base_url, account, prefix="/chatgpt", storage=storage):
            pass
        assert storage.tokens is not None
        headers = {"Authorization": f"Bearer {storage.tokens.access_token}"}
        async with httpx2.AsyncClient(timeout=30, headers=headers) as http:
            pages[account.username] = {
                table: await http.get(f"{chatgpt.base_url}/chatgpt/records/{signed(f'sample:dbo.{table}:20')}")
                for table in ("Notes", "Salaries")
            }
    alice, bob = pages["alice"], pages["bob"]
    cell = "<td>{}</td>".format
    assert alice["Notes"].status_code == 200 and cell("a1") in alice["Notes"].text
    assert cell("b1") not in alice["Notes"].text
    assert bob["Notes"].status_code == 200 and cell("b1") in bob["Notes"].text and cell("a1") not in bob["Notes"].text
    assert alice["Salaries"].status_code == 200, alice["Salaries"].text
    # bob's catalog is read as bob_db, which SQL Server shows no Salaries: the table is unknown to him
    assert bob["Salaries"].status_code == 404 and "Unknown table" in bob["Salaries"].text
    assert cell("90") not in bob["Salaries"].text
