"""The official MCP conformance suite against the real server, signed in, on both faces and both generations.

- `conformance server` for the 2025-11-25 and the 2026-07-28 requirement sets, at /mcp (Claude) and
  /chatgpt/mcp (ChatGPT), with a real access token from our sign-in.
- `conformance authorization` against each face's issuer, as a public client: the suite prints the authorize
  URL, and a scripted browser step (the Inspector tests' `FormFiller`) fills our login and consent pages.
- Every failure must be in the checked-in baseline (tests/conformance/) with its reason, an entry that passes
  now must go, and what `PROTECTED` names must pass and may never be baselined.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest

from tests.support.conformance import (
    AUTHORIZATION_PROTECTED,
    PROTECTED,
    REVISIONS,
    Check,
    ConformanceUnavailable,
    Suite,
    install,
    judge,
    load_baseline,
    overlaps,
)
from tests.support.oauth_flow import (
    DEFAULT_ACCOUNT,
    REDIRECT_URI,
    FormFiller,
    authorize_code,
    pkce_pair,
    register,
    running_oauth_server,
)
from tests.support.procs import ServerProcess, free_port

FACES = {"claude": "", "chatgpt": "/chatgpt"}
REASONS = ("needs the suite's own", "optional feature we do not offer")


@dataclass(frozen=True)
class Face:
    server: ServerProcess
    issuer: str  # the face's root: its OAuth issuer, and its MCP endpoint's base
    token: str

    @property
    def mcp_url(self) -> str:
        return f"{self.issuer}/mcp"


async def _access_token(issuer: str) -> str:
    async with httpx2.AsyncClient(timeout=30) as http:
        client_id = (await register(http, issuer, name="conformance token")).json()["client_id"]
        verifier, challenge = pkce_pair()
        query = await authorize_code(issuer, client_id, DEFAULT_ACCOUNT, challenge, resource=f"{issuer}/mcp")
        form = {
            "grant_type": "authorization_code",
            "code": query["code"],
            "client_id": client_id,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
            "resource": f"{issuer}/mcp",
        }
        resp = await http.post(f"{issuer}/token", data=form)
        assert resp.status_code == 200, resp.text
        return str(resp.json()["access_token"])


@pytest.fixture(scope="module")
def suite() -> Suite:
    try:
        return install()
    except ConformanceUnavailable as exc:
        pytest.skip(f"MCP conformance suite unavailable: {exc}")


@pytest.fixture(scope="module", params=list(FACES))
def face(request: pytest.FixtureRequest, demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Face]:
    name: str = request.param
    tmp = tmp_path_factory.mktemp(f"conformance-{name}")
    with running_oauth_server(demo_db, tmp, face=name) as server:
        issuer = server.base_url + FACES[name]
        yield Face(server, issuer, asyncio.run(_access_token(issuer)))


@pytest.mark.parametrize("requirements", REVISIONS)
def test_server_requirements(suite: Suite, face: Face, requirements: str, tmp_path: Path) -> None:
    run = suite.server(face.mcp_url, requirements, face.token, tmp_path / "out")
    assert "Total:" in run.output, f"the suite did not finish:\n{run.describe()}"
    verdict = judge(run.checks, load_baseline(requirements), PROTECTED[requirements])
    assert verdict.ok, f"{verdict.describe()}\n\n{run.describe()}"


@pytest.mark.anyio
async def test_authorization_public_client(suite: Suite, face: Face, tmp_path: Path) -> None:
    port = free_port()
    async with httpx2.AsyncClient(timeout=30) as http:
        registered = await register(
            http, face.issuer, redirect_uris=[f"http://127.0.0.1:{port}/callback"], name="conformance suite"
        )
        assert registered.status_code == 201, registered.text
        client_id = registered.json()["client_id"]
        pages: list[str] = []

        async def browse(url: str) -> None:
            filler = FormFiller(DEFAULT_ACCOUNT)
            callback = await filler.run(url)
            pages.extend(filler.pages)
            assert callback.startswith(f"http://127.0.0.1:{port}/callback?"), callback
            await http.get(callback)  # the suite's listener takes the code from here

        run = await suite.authorization(
            face.issuer, client_id=client_id, port=port, resource=face.mcp_url, out=tmp_path / "out", browse=browse
        )
    assert len(pages) == 2, "the login page and the consent page, each once"
    verdict = judge(run.checks, {}, AUTHORIZATION_PROTECTED)
    assert verdict.ok, f"{verdict.describe()}\n\n{run.describe()}"
    assert {c.scenario for c in run.checks} == set(AUTHORIZATION_PROTECTED)


# -- the baselines themselves (fast) ---------------------------------------------------------------


@pytest.mark.parametrize("requirements", REVISIONS)
def test_baseline_never_excuses_what_must_pass(requirements: str) -> None:
    baseline = load_baseline(requirements)
    clashes = [(e, p) for e in baseline for p in PROTECTED[requirements] if overlaps(e, p)]
    assert not clashes, f"these may never be baselined: {clashes}"


@pytest.mark.parametrize("requirements", REVISIONS)
def test_every_baseline_entry_gives_its_reason(requirements: str) -> None:
    baseline = load_baseline(requirements)
    assert baseline
    for entry, reason in baseline.items():
        assert reason.startswith(REASONS), f"{entry}: give the reason, one of {REASONS}: {reason!r}"


def test_judge_reads_a_baseline_strictly() -> None:
    checks = [
        Check("tools-list", "tools-list", "SUCCESS", ""),
        Check("tools-call-image", "tools-call-image", "FAILURE", "No image content found"),
        Check("tools-call-image", "wire-schema-valid", "FAILURE", "bad message"),
        Check("prompts-list", "prompts-list", "SUCCESS", ""),
        Check("server-stateless", "sep-2575-server-implements-discover", "SKIPPED", ""),
        Check("logging", "logging", "WARNING", "a SHOULD"),
        Check("dns-rebinding-protection", "localhost-host-valid-accepted", "WARNING", "a SHOULD"),
    ]
    baseline = {"tools-call-image:tools-call-image": "fixture", "prompts-list": "not offered"}
    protected = [
        "tools-list",
        "server-stateless:sep-2575-server-implements-discover",
        "ping",
        "dns-rebinding-protection",
    ]
    verdict = judge(checks, baseline, protected)
    assert [str(c) for c in verdict.unexpected] == ["tools-call-image:wire-schema-valid FAILURE (bad message)"]
    assert verdict.stale == ["prompts-list"]
    assert len(verdict.unmet) == 2
    assert verdict.unmet[0].startswith("server-stateless:sep-2575-server-implements-discover: ")
    assert verdict.unmet[1] == "ping: did not run"
    assert not verdict.ok
    assert overlaps("tasks-lifecycle", "tasks-lifecycle:x") and not overlaps("caching:a", "caching:b")
