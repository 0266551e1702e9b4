"""AUTH_MODE=oidc refusals, against a real OpenID Provider (npm oidc-provider) on loopback.

Each case signs in at the provider and must end on a page of ours that says why, with no code for the
client: the person fails a rule (domain, group, unverified e-mail, groups overage, another tenant), or the
provider's answer fails validation (state, nonce replay, unknown signing key, expired ID token), or the
provider cannot be reached. A key rotation at the provider, on the other hand, must not break sign-in.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest

from tests.support.oauth_flow import Account, LoginRefused
from tests.support.oidc_flow import UpstreamFiller, authorize_url, callback_for, upstream_server
from tests.support.oidc_provider import OidcProvider, running_provider
from tests.support.procs import ServerProcess, free_port

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


def _person(
    email: str, *, verified: bool = True, groups: list[str] | None = None, **extra: object
) -> dict[str, object]:
    name = email.split("@")[0].title()
    claims: dict[str, object] = {"email": email, "email_verified": verified, "name": name, **extra}
    if groups is not None:
        claims["groups"] = groups
    return claims


ACCOUNTS = {
    "alice": _person("alice@example.com", groups=["db-readers"]),
    "bob": _person("bob@other.org", groups=["db-readers"]),  # wrong domain
    "carol": _person("carol@example.com", groups=["sales"]),  # no required group
    "dave": _person("dave@example.com", verified=False, groups=["db-readers"]),  # unverified e-mail
    "erin": _person("erin@example.com", hasgroups=True),  # Entra's groups overage marker, no groups claim
    "gina": _person("gina@example.com", groups=["db-readers"], tid="tenant-1", oid="oid-gina"),
    "hank": _person("hank@example.com", groups=["db-readers"], tid="tenant-2", oid="oid-hank"),  # other tenant
}


@pytest.fixture(scope="module")
def ports() -> tuple[int, int]:
    return free_port(), free_port()


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory, ports: tuple[int, int]) -> Iterator[OidcProvider]:
    with running_provider(tmp_path_factory.mktemp("idp"), ACCOUNTS, [callback_for(p) for p in ports]) as running:
        yield running


@pytest.fixture(scope="module")
def server(
    demo_db: Path, tmp_path_factory: pytest.TempPathFactory, provider: OidcProvider, ports: tuple[int, int]
) -> Iterator[ServerProcess]:
    env = {"OIDC_ALLOWED_DOMAINS": "example.com", "OIDC_REQUIRED_GROUPS": "db-readers"}
    with upstream_server(demo_db, tmp_path_factory.mktemp("srv"), provider, ports[0], env) as running:
        yield running


@pytest.fixture(scope="module")
def entra_server(
    demo_db: Path, tmp_path_factory: pytest.TempPathFactory, provider: OidcProvider, ports: tuple[int, int]
) -> Iterator[ServerProcess]:
    env = {"OIDC_ENTRA_TENANT": "tenant-1"}
    with upstream_server(demo_db, tmp_path_factory.mktemp("srv-entra"), provider, ports[1], env) as running:
        yield running


async def sign_in(base_url: str, login: str, filler: UpstreamFiller | None = None) -> str:
    """The code our server gave the client after `login` signed in at the provider (refusals raise)."""
    filler = filler or UpstreamFiller(Account(login, ""))
    final = await filler.run(await authorize_url(base_url))
    return parse_qs(urlsplit(final).query)["code"][0]


async def refused(base_url: str, login: str, filler: UpstreamFiller | None = None) -> LoginRefused:
    with pytest.raises(LoginRefused) as caught:
        await sign_in(base_url, login, filler)
    assert caught.value.status != 500, caught.value.page  # a page that says why, never a crash
    return caught.value


async def test_the_control_case_passes(server: ServerProcess) -> None:
    assert await sign_in(server.base_url, "alice")


@pytest.mark.parametrize(
    ("login", "why"),
    [
        ("bob", "Accounts from other.org may not use this server."),
        ("carol", "Your account is not in a group that may use this server."),
        ("dave", "Your account has no verified e-mail address"),
        ("erin", "too many groups"),
    ],
)
async def test_a_person_who_fails_a_rule_gets_a_page_that_says_why_and_no_code(
    server: ServerProcess, login: str, why: str
) -> None:
    refusal = await refused(server.base_url, login)
    assert refusal.status == 403 and why in refusal.page
    assert "groups overage" in refusal.page if login == "erin" else True
    cause = {"bob": "domain", "carol": "group", "dave": "domain", "erin": "group_overage"}[login]
    lines = [ln for ln in server.log().splitlines() if "msg=oidc_refused" in ln and f"subject={login}" in ln]
    assert lines and f"cause={cause}" in lines[-1] and "issuer=http://127.0.0.1:" in lines[-1]


async def test_entra_tenant_is_pinned(entra_server: ServerProcess, provider: OidcProvider) -> None:
    assert await sign_in(entra_server.base_url, "gina")
    log = entra_server.log()
    assert "user=oidc:entra:tenant-1#oid-gina" in log  # keyed by tid + oid, not by issuer + sub or e-mail
    refusal = await refused(entra_server.base_url, "hank")
    assert refusal.status == 403 and "another organisation" in refusal.page


async def test_a_state_that_does_not_match_is_refused(server: ServerProcess) -> None:
    def forge(url: str) -> str:
        return url.replace("state=", "state=forged")

    refusal = await refused(server.base_url, "alice", UpstreamFiller(Account("alice", ""), at_callback=forge))
    assert refusal.status == 400 and "state mismatch" in refusal.page


async def test_a_callback_replayed_after_use_is_refused(server: ServerProcess) -> None:
    seen: list[str] = []

    def keep(url: str) -> str:
        seen.append(url)
        return url

    async with httpx2.AsyncClient(follow_redirects=False, timeout=30) as browser:
        assert await sign_in(
            server.base_url, "alice", UpstreamFiller(Account("alice", ""), at_callback=keep, http=browser)
        )
        again = await browser.get(seen[0])  # same browser, same cookies, same code and state
    assert again.status_code == 400 and "state mismatch" in again.text


@pytest.mark.parametrize(
    ("mode", "why"),
    [("nonce_replay", "nonce"), ("unknown_key", "invalid_key_id"), ("expired", "expired")],
)
async def test_an_id_token_that_fails_validation_is_refused(
    server: ServerProcess, provider: OidcProvider, mode: str, why: str
) -> None:
    assert await sign_in(server.base_url, "alice")  # the provider remembers this sign-in's nonce
    provider.tamper(mode)
    try:
        refusal = await refused(server.base_url, "alice")
    finally:
        provider.tamper("none")
    assert refusal.status == 403 and "could not be verified" in refusal.page
    lines = [ln for ln in server.log().splitlines() if "upstream ID token refused" in ln]
    assert lines and why in lines[-1].lower(), lines[-3:]
    assert await sign_in(server.base_url, "alice")  # and the next honest answer passes again


async def test_a_key_rotated_at_the_provider_mid_run_still_validates(
    server: ServerProcess, provider: OidcProvider
) -> None:
    assert await sign_in(server.base_url, "alice")  # the provider's JWKS is now cached with the old key only
    kids = provider.rotate_keys()
    assert len(kids) == 2
    assert await sign_in(server.base_url, "alice")  # signed with the new key: fetched again, accepted


async def test_provider_down_at_the_callback_is_a_clear_page(demo_db: Path, tmp_path: Path) -> None:
    port = free_port()
    with running_provider(tmp_path / "idp", ACCOUNTS, [callback_for(port)]) as provider:
        with upstream_server(demo_db, tmp_path / "srv", provider, port) as server:

            def stop_provider(url: str) -> str:
                provider.stop()
                return url

            refusal = await refused(
                server.base_url, "alice", UpstreamFiller(Account("alice", ""), at_callback=stop_provider)
            )
    assert refusal.status == 502 and "could not be reached" in refusal.page


async def test_provider_down_from_the_start_is_a_clear_page(demo_db: Path, tmp_path: Path) -> None:
    port, dead = free_port(), free_port()
    dead_provider = OidcProvider(proc=None, port=dead, log_path=tmp_path / "none.log")  # type: ignore[arg-type]
    with upstream_server(demo_db, tmp_path, dead_provider, port) as server:
        refusal = await refused(server.base_url, "alice")
        assert refusal.status == 502 and "could not be reached" in refusal.page
        assert "Traceback" not in server.log()
