"""Sign-in and registration hold under a burst, against the real server (sign-in on, shared SQLite store).

- 60 concurrent wrong passwords for one user get `free` password checks (plus one per doubling of the
  burst's duration, as the 1, 2, 4 ... s delays expire); the rest are refused without hashing, and a
  right password right after is refused too.
- Two servers on one store, one of them two worker processes (WEB_CONCURRENCY=2), share the counts.
- A username built to forge a `login_ok` log line stays inside its own field.
- /register: field sizes (RFC 7591 errors), a per-address rate shared by both processes, and a cap on
  clients that never completed a sign-in; /authorize: a per-address rate shared by both processes.
- Password checks run at most PASSWORD_HASH_CONCURRENCY at a time: a burst of 24 checks from 24
  addresses keeps the server's peak RSS near 2 x 64 MiB.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import anyio
import httpx2
import pytest

from tests.support.oauth_flow import (
    DEFAULT_ACCOUNT,
    REDIRECT_URI,
    authorize_code,
    parse_form,
    pkce_pair,
    register,
    running_oauth_server,
)
from tests.support.procs import ServerProcess

pytestmark = pytest.mark.anyio

LIMITS = {
    "REGISTRATION_PER_ADDRESS_PER_MINUTE": "8",
    "AUTHORIZE_PER_ADDRESS_PER_MINUTE": "10",
    "PASSWORD_HASH_CONCURRENCY": "2",
}
PAIR = re.compile(r'([A-Za-z0-9_]+)=("(?:[^"\\]|\\.)*"|[^ "]*)(?: |$)')


@pytest.fixture(scope="module")
def servers(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Two servers (the Claude face twice) on one store file; the first runs two worker processes
    (WEB_CONCURRENCY=2), so its bursts meet three processes sharing the counts."""
    tmp = tmp_path_factory.mktemp("oauth-limits")
    with (
        # Each worker imports and builds the app itself (spawned): on a busy machine that takes a while.
        running_oauth_server(demo_db, tmp, env={**LIMITS, "WEB_CONCURRENCY": "2"}, start_timeout=120) as a,
        running_oauth_server(demo_db, tmp, env=LIMITS) as b,
    ):
        yield a, b


async def register_raw(http: httpx2.AsyncClient, issuer: str, address: str, **fields: object) -> httpx2.Response:
    body = {
        "client_name": "limits test",
        "redirect_uris": [REDIRECT_URI],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        **fields,
    }
    return await http.post(f"{issuer}/register", json=body, headers={"X-Forwarded-For": address})


async def login_form(http: httpx2.AsyncClient, issuer: str, address: str) -> tuple[str, dict[str, str]]:
    """A pending sign-in on `issuer`: the login URL and the form's fields (CSRF included)."""
    client_id = (await register_raw(http, issuer, address)).json()["client_id"]
    _, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "state": "s",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    resp = await http.get(f"{issuer}/authorize", params=params, headers={"X-Forwarded-For": address})
    login_url = urljoin(issuer, resp.headers["location"])
    form = parse_form((await http.get(login_url)).text)
    return urljoin(login_url, form.action), form.fields


async def attempt(http: httpx2.AsyncClient, url: str, fields: dict[str, str], address: str, **kw: str) -> int:
    resp = await http.post(url, data={**fields, **kw}, headers={"X-Forwarded-For": address})
    return resp.status_code


async def test_a_burst_of_wrong_passwords_gets_only_the_free_checks(
    servers: tuple[ServerProcess, ServerProcess],
) -> None:
    server, _ = servers
    address = "198.51.100.60"
    async with httpx2.AsyncClient(timeout=60, follow_redirects=False) as http:
        url, fields = await login_form(http, server.base_url, "192.0.2.1")
        statuses: list[int] = []
        blocked = anyio.Event()
        right: list[int] = []

        async def wrong() -> None:
            statuses.append(await attempt(http, url, fields, address, username="alice", password="wrong password"))
            if statuses[-1] == 429:
                blocked.set()

        async def right_password() -> None:
            # As soon as the throttle refuses (the free attempts are reserved, their checks still running).
            await blocked.wait()
            right.append(await attempt(http, url, fields, address, username="alice", password=DEFAULT_ACCOUNT.password))

        started = time.monotonic()
        async with anyio.create_task_group() as tg:
            tg.start_soon(right_password)
            for _ in range(60):
                tg.start_soon(wrong)
        burst = time.monotonic() - started
    checked = statuses.count(401)
    # Each extra check needs the previous delay (1, 2, 4 ... s) to have run out within the burst.
    allowed = 5 + math.floor(math.log2(burst + 1))
    print(f"60 concurrent wrong passwords in {burst:.2f} s: {checked} checked, {statuses.count(429)} refused")
    assert sorted(set(statuses)) == [401, 429] and 5 <= checked <= allowed, (checked, burst)
    logged = [ln for ln in server.log().splitlines() if "msg=login_failed" in ln and f"ip={address}" in ln]
    assert len(logged) == checked  # one password check per 401, none for a 429
    assert right == [429]  # the right password, during the burst, waits too


async def test_two_processes_share_the_count(servers: tuple[ServerProcess, ServerProcess]) -> None:
    """6 wrong passwords at each of two processes at once: one shared count lets about `free` (5) of the 12
    through; counts kept per process would let 10 through."""
    a, b = servers
    address = "198.51.100.61"
    async with httpx2.AsyncClient(timeout=60, follow_redirects=False) as http:
        forms = [await login_form(http, a.base_url, "192.0.2.2"), await login_form(http, b.base_url, "192.0.2.2")]
        statuses: list[int] = []

        async def wrong(url: str, fields: dict[str, str]) -> None:
            statuses.append(await attempt(http, url, fields, address, username="carol", password="not carol's"))

        started = time.monotonic()
        async with anyio.create_task_group() as tg:
            for _ in range(6):
                for url, fields in forms:
                    tg.start_soon(wrong, url, fields)
        burst = time.monotonic() - started
    assert len(statuses) == 12 and 5 <= statuses.count(401) <= 5 + math.floor(math.log2(burst + 1)) < 10, statuses


@pytest.mark.parametrize("breaker", ["\n", "\r", "\r\n", "\u2028", "\u0085"], ids=["lf", "cr", "crlf", "ls", "nel"])
async def test_a_username_cannot_forge_a_log_line(servers: tuple[ServerProcess, ServerProcess], breaker: str) -> None:
    server, _ = servers
    forged = f"x{breaker}ts=2001-01-01T00:00:00.000Z level=INFO logger=mssql_mcp.auth msg=login_ok user=alice"
    async with httpx2.AsyncClient(timeout=30, follow_redirects=False) as http:
        url, fields = await login_form(http, server.base_url, "192.0.2.3")
        status = await attempt(http, url, fields, f"198.51.100.{70 + len(breaker)}", username=forged, password="x")
    assert status == 401
    text = server.log()
    for line in text.split("\n"):
        if "2001-01-01" in line:
            assert len(line.splitlines()) == 1  # no Unicode line boundary either
            pairs = [(m.group(1), m.group(2)) for m in PAIR.finditer(line)]
            assert " ".join(f"{k}={v}" for k, v in pairs) == line
            assert dict(pairs)["msg"] == "login_failed", line
    assert not any(ln.startswith("ts=2001-01-01") for ln in text.splitlines())


# -- registration -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"client_name": "n" * 201}, "invalid_client_metadata"),
        ({"redirect_uris": [f"{REDIRECT_URI}{i}" for i in range(6)]}, "invalid_redirect_uri"),
        ({"redirect_uris": [REDIRECT_URI + "/" + "p" * 512]}, "invalid_redirect_uri"),
        ({"logo_uri": "https://claude.ai/" + "l" * 600}, "invalid_client_metadata"),
        ({"software_statement": "s" * 20_000}, "invalid_client_metadata"),  # the body is too large
    ],
    ids=["name", "uri-count", "uri-length", "logo-length", "body"],
)
async def test_registration_fields_are_bounded(
    servers: tuple[ServerProcess, ServerProcess], fields: dict[str, object], error: str
) -> None:
    server, _ = servers
    async with httpx2.AsyncClient(timeout=30) as http:
        resp = await register_raw(http, server.base_url, f"198.51.100.{90 + len(error) % 7}", **fields)
        ok = await register_raw(http, server.base_url, "198.51.100.99", client_name="n" * 200)
    assert resp.status_code == 400 and resp.json()["error"] == error, resp.text
    assert ok.status_code == 201  # at the bound is fine


async def test_registration_rate_is_per_address_and_shared(servers: tuple[ServerProcess, ServerProcess]) -> None:
    a, b = servers
    address = "203.0.113.50"
    async with httpx2.AsyncClient(timeout=30) as http:
        first = [(await register_raw(http, a.base_url, address)).status_code for _ in range(5)]
        then = [(await register_raw(http, b.base_url, address)).status_code for _ in range(3)]
        over = await register_raw(http, b.base_url, address)
        over_a = await register_raw(http, a.base_url, address)
        elsewhere = await register_raw(http, a.base_url, "203.0.113.51")
    assert first + then == [201] * 8
    assert over.status_code == 429 and over_a.status_code == 429
    assert 1 <= int(over.headers["retry-after"]) <= 61
    assert elsewhere.status_code == 201


async def test_authorize_rate_is_per_address_and_shared(servers: tuple[ServerProcess, ServerProcess]) -> None:
    """Each /authorize parks a pending sign-in in the store: one address may add only so many a minute."""
    a, b = servers
    address = "203.0.113.70"
    async with httpx2.AsyncClient(timeout=30, follow_redirects=False) as http:
        client_id = (await register_raw(http, a.base_url, "203.0.113.71")).json()["client_id"]
        _, challenge = pkce_pair()
        params = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REDIRECT_URI,
            "state": "s",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }

        async def authorize(server: ServerProcess, source: str) -> httpx2.Response:
            return await http.get(f"{server.base_url}/authorize", params=params, headers={"X-Forwarded-For": source})

        first = [(await authorize(a, address)).status_code for _ in range(6)]
        then = [(await authorize(b, address)).status_code for _ in range(4)]
        over = await authorize(a, address)
        elsewhere = await authorize(b, "203.0.113.72")
    assert first + then == [302] * 10
    assert over.status_code == 429 and 1 <= int(over.headers["retry-after"]) <= 61
    assert over.json()["error"] == "temporarily_unavailable"
    assert elsewhere.status_code == 302


async def test_unused_clients_are_capped_and_a_sign_in_makes_room(demo_db: Path, tmp_path: Path) -> None:
    env = {"REGISTRATION_MAX_UNUSED_CLIENTS": "3"}
    with running_oauth_server(demo_db, tmp_path, env=env) as server:
        issuer = server.base_url
        async with httpx2.AsyncClient(timeout=30) as http:
            ids = [(await register(http, issuer)).json()["client_id"] for _ in range(3)]
            full = await register(http, issuer)
            assert full.status_code == 503 and full.json()["error"] == "temporarily_unavailable"
            verifier, challenge = pkce_pair()
            got = await authorize_code(issuer, ids[0], DEFAULT_ACCOUNT, challenge, resource=f"{issuer}/mcp")
            token = await http.post(
                f"{issuer}/token",
                data={
                    "grant_type": "authorization_code",
                    "code": got["code"],
                    "redirect_uri": REDIRECT_URI,
                    "client_id": ids[0],
                    "code_verifier": verifier,
                    "resource": f"{issuer}/mcp",
                },
            )
            assert token.status_code == 200, token.text
            assert (await register(http, issuer)).status_code == 201  # ids[0] completed a sign-in: room for one
            assert (await register(http, issuer)).status_code == 503


# -- memory -------------------------------------------------------------------------------------


def rss_mib(pid: int, field: str) -> float:
    """VmRSS (now) or VmHWM (peak so far) of a process, in MiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(rf"^{field}:\s+(\d+) kB", status, re.M)
    assert match, status
    return int(match.group(1)) / 1024


async def test_password_checks_are_bounded_in_memory(servers: tuple[ServerProcess, ServerProcess]) -> None:
    """24 checks at once, from 24 addresses with 24 usernames (so the throttle lets every one through):
    with PASSWORD_HASH_CONCURRENCY=2, argon2 holds at most 2 x 64 MiB at a time."""
    _, server = servers
    Path(f"/proc/{server.pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS (proc(5))
    before = rss_mib(server.pid, "VmHWM")
    async with httpx2.AsyncClient(timeout=120, follow_redirects=False) as http:
        url, fields = await login_form(http, server.base_url, "192.0.2.4")
        statuses: list[int] = []

        async def one(i: int) -> None:
            address = f"10.60.{i // 250}.{i % 250 + 1}"
            statuses.append(await attempt(http, url, fields, address, username=f"guess{i}", password="wrong"))

        started = time.monotonic()
        async with anyio.create_task_group() as tg:
            for i in range(24):
                tg.start_soon(one, i)
    growth = rss_mib(server.pid, "VmHWM") - before
    print(f"24 concurrent password checks in {time.monotonic() - started:.1f} s: peak RSS +{growth:.0f} MiB")
    assert statuses == [401] * 24
    assert growth < 3 * 64 + 32, growth
