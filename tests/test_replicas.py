"""Replicas act as one server: 3 replicas of each face on one Redis, behind the project's nginx.

nginx finds the replicas by name through a loopback DNS server answering with their three addresses
(tests/support/replicas.py), as Docker's DNS does under `docker compose up --scale`. Tests reach a given
replica directly (A, B, C = 127.0.0.1, .2, .3) where the step must land on it, and go through nginx where
any replica may serve (the browser's login and consent pages). Replica A of the Claude face runs two
worker processes (WEB_CONCURRENCY=2) to show that processes join the same shared state.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Generator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import anyio
import httpx2
import pytest
from mcp import Client

from tests.support.mcp_client import connect, text_of
from tests.support.oauth_flow import DEFAULT_ACCOUNT, PING, REDIRECT_URI, authorize_code, bearer, parse_form, pkce_pair
from tests.support.oauth_flow import register as register_client
from tests.support.procs import ROOT
from tests.support.replicas import Replicas, replicas

# Starting 3 replicas of each face (one with two worker processes), Redis, a DNS server and nginx takes
# 25 s on the 2-core test machine at a load average of 3 and 2 minutes at 15 (nine app processes to import
# and build); the tests then take 15 to 25 s.
pytestmark = [pytest.mark.anyio, pytest.mark.slow]

A, B, C = 0, 1, 2
FREE_PER_USER = 5  # LOGIN_FREE_ATTEMPTS_PER_USER's default


@pytest.fixture(scope="module")
def stack(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    tmp = tmp_path_factory.mktemp("replicas")
    env = {"SQLITE_PATH": str(demo_db), "ALLOW_LOOPBACK_REDIRECTS": "true", "LOG_LEVEL": "INFO"}
    with replicas(tmp, env, env_of={("claude", A): {"WEB_CONCURRENCY": "2"}}) as r:
        done = subprocess.run(
            [sys.executable, "-m", "mssql_mcp", "--env-file", "/nonexistent", "users", "add", "alice"]
            + ["--password-stdin"],
            input=DEFAULT_ACCOUNT.password,
            text=True,
            cwd=ROOT,
            env={"PATH": "/usr/bin:/bin", "STORE_URL": r.store_url},
            capture_output=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        yield r


@pytest.fixture(autouse=True)
def trust_test_ca(stack: Replicas, monkeypatch: pytest.MonkeyPatch) -> None:
    # httpx2 (the SDK's HTTP client) builds its TLS context from SSL_CERT_FILE when set.
    monkeypatch.setenv("SSL_CERT_FILE", str(stack.ca))


class Bearer(httpx2.Auth):
    def __init__(self, token: str) -> None:
        self.token = token

    def auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.token}"
        yield request


@contextlib.asynccontextmanager
async def at(stack: Replicas, face: str, i: int, token: str) -> AsyncIterator[Client]:
    """An SDK client talking to replica i of `face` only, with an access token got elsewhere."""
    async with connect(stack.apps[face][i].base_url, "streamable", auth=Bearer(token), prefix=_prefix(face)) as c:
        yield c


def _prefix(face: str) -> str:
    return "/chatgpt" if face == "chatgpt" else ""


async def code_for(stack: Replicas, face: str, *, register_at: int, authorize_at: int) -> dict[str, str]:
    """Register at one replica, start /authorize at another (login and consent go through nginx)."""
    async with httpx2.AsyncClient(timeout=30) as http:
        resp = await register_client(http, stack.base(face, register_at))
    assert resp.status_code == 201, resp.text
    client_id = resp.json()["client_id"]
    verifier, challenge = pkce_pair()
    resource = f"{stack.https}{_prefix(face)}/mcp"
    query = await authorize_code(
        stack.base(face, authorize_at), client_id, DEFAULT_ACCOUNT, challenge, resource=resource
    )
    assert "code" in query, query
    return {
        "grant_type": "authorization_code",
        "code": query["code"],
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
        "client_id": client_id,
        "resource": resource,
    }


async def token_at(stack: Replicas, face: str, i: int, form: dict[str, str]) -> httpx2.Response:
    async with httpx2.AsyncClient(timeout=30) as http:
        return await http.post(f"{stack.base(face, i)}/token", data=form)


async def ping(stack: Replicas, face: str, i: int, token: str) -> int:
    async with httpx2.AsyncClient(timeout=30) as http:
        return (await http.post(f"{stack.base(face, i)}/mcp", json=PING, headers=bearer(token))).status_code


async def signed_in_tokens(stack: Replicas, face: str = "claude") -> dict[str, Any]:
    form = await code_for(stack, face, register_at=A, authorize_at=B)
    resp = await token_at(stack, face, C, form)
    assert resp.status_code == 200, resp.text
    return {**resp.json(), "client_id": form["client_id"]}


async def test_register_on_one_authorize_on_another_then_tools_on_every_replica(stack: Replicas) -> None:
    tokens = await signed_in_tokens(stack)  # registered at A, authorized at B, code redeemed at C
    for i in (A, B, C):
        async with at(stack, "claude", i, tokens["access_token"]) as client:
            result = await client.call_tool("execute_sql", {"query": "SELECT TOP 1 CustomerID FROM dbo.Customers"})
            assert not result.is_error, text_of(result)
    # The login and consent pages went through nginx, which found the Claude face's replicas by name.
    assert set(stack.upstreams("/login?")) <= {"127.0.0.1", "127.0.0.2", "127.0.0.3"}


async def test_nginx_spreads_requests_over_every_replica(stack: Replicas) -> None:
    async with httpx2.AsyncClient(timeout=30) as http:
        for _ in range(30):
            assert (await http.get(f"{stack.https}/health")).status_code == 200
            assert (await http.get(f"{stack.https}/chatgpt/health")).status_code == 200
    assert set(stack.upstreams("GET /health ")) == {"127.0.0.1", "127.0.0.2", "127.0.0.3"}
    assert set(stack.upstreams("GET /chatgpt/health ")) == {"127.0.0.1", "127.0.0.2", "127.0.0.3"}


async def test_revoke_on_c_is_refused_on_a_and_b_at_once(stack: Replicas) -> None:
    tokens = await signed_in_tokens(stack)
    access = tokens["access_token"]
    assert [await ping(stack, "claude", i, access) for i in (A, B)] == [200, 200]
    async with httpx2.AsyncClient(timeout=30) as http:
        revoked = await http.post(
            f"{stack.base('claude', C)}/revoke", data={"token": access, "client_id": tokens["client_id"]}
        )
    assert revoked.status_code == 200, revoked.text
    assert [await ping(stack, "claude", i, access) for i in (A, B, C)] == [401, 401, 401]


async def test_a_code_replayed_on_two_replicas_at_once_is_redeemed_once(stack: Replicas) -> None:
    form = await code_for(stack, "claude", register_at=C, authorize_at=A)
    answers: list[httpx2.Response] = []

    async def redeem(i: int) -> None:
        answers.append(await token_at(stack, "claude", i, form))

    async with anyio.create_task_group() as tg:
        for i in (B, C):
            tg.start_soon(redeem, i)
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200, 400], [a.text for a in answers]
    loser = next(a for a in answers if a.status_code == 400)
    assert loser.json()["error"] == "invalid_grant"


async def test_a_rotated_refresh_token_reused_on_another_replica_revokes_the_family(stack: Replicas) -> None:
    tokens = await signed_in_tokens(stack)
    refresh = {"grant_type": "refresh_token", "client_id": tokens["client_id"]}
    rotated = await token_at(stack, "claude", A, {**refresh, "refresh_token": tokens["refresh_token"]})
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()
    reused = await token_at(stack, "claude", B, {**refresh, "refresh_token": tokens["refresh_token"]})
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant", reused.text
    # The whole family is gone, on every replica: the newest refresh token and its access token too.
    again = await token_at(stack, "claude", C, {**refresh, "refresh_token": new["refresh_token"]})
    assert again.status_code == 400, again.text
    assert [await ping(stack, "claude", i, new["access_token"]) for i in (A, B, C)] == [401, 401, 401]


async def test_a_login_burst_spread_over_the_replicas_is_throttled_globally(stack: Replicas) -> None:
    """12 wrong passwords for one user at once, spread over the 3 replicas (and replica A's two processes):
    one shared count lets about `free` through; counts per replica or per process would let up to 12."""
    async with httpx2.AsyncClient(timeout=60, follow_redirects=False) as http:
        resp = await register_client(http, stack.base("claude", A))
        params = {
            "response_type": "code",
            "client_id": resp.json()["client_id"],
            "redirect_uri": REDIRECT_URI,
            "code_challenge": pkce_pair()[1],
            "code_challenge_method": "S256",
        }
        login_url = (await http.get(f"{stack.https}/authorize", params=params)).headers["location"]
        page = await http.get(login_url)
        form = parse_form(page.text)
        path = urljoin(login_url, form.action).removeprefix(stack.https)
        statuses: list[int] = []

        async def wrong(i: int) -> None:
            # Through nginx, which spreads them over the three replicas: the CSRF cookie is Secure (https).
            resp = await http.post(
                f"{stack.https}{path}", data={**form.fields, "username": "bob", "password": f"wrong {i}"}
            )
            statuses.append(resp.status_code)

        started = time.monotonic()
        async with anyio.create_task_group() as tg:
            for i in range(12):
                tg.start_soon(wrong, i)
        burst = time.monotonic() - started
    checked = statuses.count(401)
    assert sorted(set(statuses)) == [401, 429], statuses
    assert FREE_PER_USER <= checked <= FREE_PER_USER + math.floor(math.log2(burst + 1)), (checked, burst)
    # They did land on several replicas (nginx picks among the three addresses).
    assert len(set(stack.upstreams("POST /login"))) >= 2


async def test_chatgpt_search_on_a_then_fetch_on_b(stack: Replicas) -> None:
    tokens = await signed_in_tokens(stack, "chatgpt")
    async with at(stack, "chatgpt", A, tokens["access_token"]) as client:
        result = await client.call_tool("search", {"query": "customers"})
        assert not result.is_error, text_of(result)
    ids = re.findall(r'"id": ?"([^"]+)"', text_of(result))
    assert ids, text_of(result)
    async with at(stack, "chatgpt", B, tokens["access_token"]) as client:
        fetched = await client.call_tool("fetch", {"id": ids[0]})
    assert not fetched.is_error, text_of(fetched)
    assert ids[0] in text_of(fetched)


def test_worker_processes_share_the_replica(stack: Replicas) -> None:
    """Replica A of the Claude face runs WEB_CONCURRENCY=2: a supervisor and two serving children."""
    parent = stack.apps["claude"][A].pid
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    assert len(children) >= 2, children
    assert stack.apps["claude"][A].log().count("Application startup complete.") == 2


CALL = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "tools/call",
    "params": {"name": "execute_sql", "arguments": {"query": "SELECT TOP 20 CustomerID FROM dbo.Customers"}},
}


async def test_killing_a_replica_under_load_loses_only_its_calls_in_flight(stack: Replicas) -> None:
    """12 callers through nginx; replica C of the Claude face is killed (SIGKILL) mid-load. Calls nginx could
    not deliver to it go to A or B (a refused connection is passed on); calls C had already received get
    nginx's 502 and are counted. Runs last: it leaves the Claude face with two replicas."""
    token = (await signed_in_tokens(stack))["access_token"]
    headers = {**bearer(token), "MCP-Protocol-Version": "2025-06-18"}
    outcomes: list[tuple[float, float, int, str]] = []  # started, ended, HTTP status, body
    stop = anyio.Event()

    async def caller() -> None:
        async with httpx2.AsyncClient(timeout=30) as http:
            while not stop.is_set():
                started = time.monotonic()
                resp = await http.post(f"{stack.https}/mcp", json=CALL, headers=headers)
                outcomes.append((started, time.monotonic(), resp.status_code, resp.text))

    victim = stack.apps["claude"][C]
    async with anyio.create_task_group() as tg:
        for _ in range(12):
            tg.start_soon(caller)
        await anyio.sleep(1.5)
        os.kill(victim.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        # Dead (and its sockets closed) once reaped: until then the kernel may still hand it a connection.
        await anyio.to_thread.run_sync(victim.proc.wait)
        dead_at = time.monotonic()
        await anyio.sleep(2.0)
        stop.set()

    failed = [o for o in outcomes if o[2] != 200]
    after = [o for o in outcomes if o[0] > dead_at]
    print(f"{len(outcomes)} calls, {len(failed)} in flight on the killed replica failed, {len(after)} after the kill")
    for started, ended, status, body in failed:
        assert status == 502 and "Bad Gateway" in body, (status, body[:300])
        assert started < dead_at and killed_at < ended  # it was in flight when the replica died
    for _, _, status, body in outcomes:
        if status == 200:
            assert '"result"' in body and '"isError":true' not in body.replace(" ", ""), body[:300]
    assert len(after) >= 12 and all(o[2] == 200 for o in after)
    # nginx still resolves the dead replica's address, tried it, and passed the call on.
    dead = f"{victim.base_url.removeprefix('http://')}, "
    assert any(f"upstream={dead}" in line for line in stack.conf.access_log.read_text().splitlines())
