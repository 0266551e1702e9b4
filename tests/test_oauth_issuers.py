"""The two faces are two authorization servers over one store: what one issuer granted, the other refuses.

Both faces share the store (the same people and registered clients), so a client registered once can
present a code or refresh token at either face's /token. A grant is redeemable only at the issuer that
made it (RFC 9207's mix-up defence assumes as much): elsewhere it is invalid_grant, and it is not burnt.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx2
import pytest

from tests.support.oauth_flow import DEFAULT_ACCOUNT, REDIRECT_URI, authorize_code, pkce_pair, register
from tests.support.oauth_flow import running_oauth_server as running

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def faces(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(Claude issuer, ChatGPT issuer), two processes over one store."""
    tmp = tmp_path_factory.mktemp("two-issuers")
    with running(demo_db, tmp) as claude, running(demo_db, tmp, face="chatgpt") as chatgpt:
        yield claude.base_url, chatgpt.base_url + "/chatgpt"


@pytest.fixture
async def http() -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(timeout=15, follow_redirects=False) as client:
        yield client


async def grant(http: httpx2.AsyncClient, issuer: str) -> tuple[str, str, str]:
    """(client_id, code, verifier) from `issuer`."""
    client_id = (await register(http, issuer)).json()["client_id"]
    verifier, challenge = pkce_pair()
    query = await authorize_code(issuer, client_id, DEFAULT_ACCOUNT, challenge, resource=f"{issuer}/mcp")
    assert query["iss"] == issuer, query
    return client_id, query["code"], verifier


def code_form(client_id: str, code: str, verifier: str) -> dict[str, str]:
    return {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
    }


@pytest.mark.parametrize("direction", ["claude->chatgpt", "chatgpt->claude"])
async def test_a_code_is_refused_at_the_other_faces_token_endpoint(
    faces: tuple[str, str], http: httpx2.AsyncClient, direction: str
) -> None:
    issuer, other = faces if direction == "claude->chatgpt" else faces[::-1]
    client_id, code, verifier = await grant(http, issuer)
    elsewhere = await http.post(f"{other}/token", data=code_form(client_id, code, verifier))
    assert elsewhere.status_code == 400 and elsewhere.json()["error"] == "invalid_grant", elsewhere.text
    home = await http.post(f"{issuer}/token", data=code_form(client_id, code, verifier))
    assert home.status_code == 200, home.text  # the refusal did not burn it


@pytest.mark.parametrize("direction", ["claude->chatgpt", "chatgpt->claude"])
async def test_a_refresh_token_is_refused_at_the_other_faces_token_endpoint(
    faces: tuple[str, str], http: httpx2.AsyncClient, direction: str
) -> None:
    issuer, other = faces if direction == "claude->chatgpt" else faces[::-1]
    client_id, code, verifier = await grant(http, issuer)
    tokens = (await http.post(f"{issuer}/token", data=code_form(client_id, code, verifier))).json()
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": client_id}
    elsewhere = await http.post(f"{other}/token", data=form)
    assert elsewhere.status_code == 400 and elsewhere.json()["error"] == "invalid_grant", elsewhere.text
    home = await http.post(f"{issuer}/token", data=form)
    assert home.status_code == 200, home.text
