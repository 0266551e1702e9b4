"""MCP Inspector's CLI (an independent client: discovery, registration, PKCE, resource) completes the
upstream sign-in with AUTH_MODE=oidc: its browser (tests/support/inspector_oidc_browser.py) signs in at a real
OpenID Provider (npm oidc-provider) on loopback, then approves on our consent page; the tool call follows.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.inspector import (
    EXIT_OK,
    Inspector,
    InspectorUnavailable,
    browser_env,
    browser_log,
    install,
    stop_browsers,
)
from tests.support.oidc_flow import callback_for, upstream_server
from tests.support.oidc_provider import OidcProvider, running_provider
from tests.support.procs import ServerProcess, free_port

pytestmark = pytest.mark.slow

ALICE = {"email": "alice@example.com", "email_verified": True, "name": "Alice Example", "groups": ["db-readers"]}


@pytest.fixture(scope="module")
def inspector() -> Inspector:
    try:
        return install()
    except InspectorUnavailable as exc:
        pytest.skip(f"MCP Inspector unavailable: {exc}")


@pytest.fixture(scope="module")
def stack(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[OidcProvider, ServerProcess]]:
    port = free_port()
    tmp = tmp_path_factory.mktemp("oidc-inspector")
    with running_provider(tmp / "idp", {"alice": ALICE}, [callback_for(port)]) as provider:
        with upstream_server(demo_db, tmp / "srv", provider, port, {"OIDC_REQUIRED_GROUPS": "db-readers"}) as server:
            yield provider, server


def test_inspector_signs_in_through_the_provider_then_calls_a_tool(
    inspector: Inspector, stack: tuple[OidcProvider, ServerProcess], tmp_path: Path
) -> None:
    provider, server = stack
    home, log = tmp_path / "home", tmp_path / "browser.jsonl"
    env = browser_env(home, "alice", "", log)
    wrapper = Path(env["BROWSER"])  # the same wrapper, opening our upstream-aware browser script instead
    wrapper.write_text(
        wrapper.read_text().replace("tests.support.inspector_browser", "tests.support.inspector_oidc_browser")
    )
    callback = f"http://127.0.0.1:{free_port()}/oauth/callback"
    try:
        run = inspector.run(
            server.base_url + "/mcp",
            "tools/call",
            tool="execute_sql",
            args={"query": "SELECT TOP 2 CustomerID FROM dbo.Customers ORDER BY 1"},
            home=home,
            env=env,
            extra_args=["--callback-url", callback],
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"no callback; browser: {browser_log(log)}\nserver: {server.log()[-3000:]}") from exc
    finally:
        stop_browsers(log)
    steps = browser_log(log)
    assert run.returncode == EXIT_OK, f"{run.describe()}\nbrowser: {steps}\nserver: {server.log()[-3000:]}"
    assert run.result()["structuredContent"]["rows"] == [[1], [2]]
    delivered = steps[-1]
    assert delivered["outcome"] == "delivered" and delivered["callback_status"] == 200
    assert any(str(url).startswith(provider.issuer) for url in delivered["visited"])  # it went to the provider
    audit = [ln for ln in server.log().splitlines() if "msg=tool_call" in ln and "tool=execute_sql" in ln]
    assert audit and f"user=oidc:{provider.issuer}#alice" in audit[-1]
