"""MCP Inspector's CLI, an independent client, against real servers: every tool over /mcp and /sse, then
the whole OAuth flow with sign-in on.

Each run is one `mcp-inspector --cli` process with a throwaway HOME; the tests check its JSON output and its
documented exit codes (0 ok, 1 error, 3 needs auth, 4 unreachable, 5 tool error). In the OAuth tests the
Inspector does discovery, registration, PKCE and the token exchange itself; only the browser step is ours
(tests/support/inspector_browser.py, reached through $BROWSER).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.inspector import (
    EXIT_AUTH_REQUIRED,
    EXIT_ERROR,
    EXIT_OK,
    EXIT_TOOL_ERROR,
    EXIT_UNREACHABLE,
    Inspector,
    InspectorRun,
    InspectorUnavailable,
    browser_env,
    browser_log,
    install,
    stop_browsers,
    stored_access_token,
)
from tests.support.oauth_flow import DEFAULT_ACCOUNT, running_oauth_server
from tests.support.procs import ServerProcess, free_port

TOOLS = {"list_tables", "search_schema", "describe_table", "execute_sql", "get_table_sample"}

# (path, --transport): the Inspector picks sse for a URL ending in /sse, i.e. the legacy GET stream plus its
# message endpoint; "http" sends streamable HTTP to the original /sse URL (POST /sse).
ENDPOINTS = [("/mcp", None), ("/sse", "sse"), ("/sse", "http")]
ENDPOINT_IDS = ["mcp", "sse-legacy", "sse-post"]


@pytest.fixture(scope="session")
def inspector() -> Inspector:
    try:
        return install()
    except InspectorUnavailable as exc:
        pytest.skip(f"MCP Inspector unavailable: {exc}")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def ok(run: InspectorRun) -> dict[str, object]:
    assert run.returncode == EXIT_OK, run.describe()
    result = run.result()
    assert isinstance(result, dict)
    return result


def tool_ok(run: InspectorRun) -> dict[str, object]:
    result = ok(run)
    assert result["isError"] is False, run.describe()
    structured = result["structuredContent"]
    assert isinstance(structured, dict)
    content = result["content"]
    assert isinstance(content, list) and content[0]["type"] == "text" and content[0]["text"]
    return structured


@pytest.mark.parametrize(("path", "transport"), ENDPOINTS, ids=ENDPOINT_IDS)
def test_tools_list(
    inspector: Inspector, dev_server: ServerProcess, home: Path, path: str, transport: str | None
) -> None:
    result = ok(inspector.run(dev_server.base_url + path, "tools/list", home=home, transport=transport))
    tools = {t["name"]: t for t in result["tools"]}  # type: ignore[attr-defined]
    assert set(tools) == TOOLS
    assert tools["execute_sql"]["inputSchema"]["required"] == ["query"]
    assert tools["get_table_sample"]["inputSchema"]["properties"]["limit"]["default"] == 10
    for tool in tools.values():
        assert tool["annotations"]["readOnlyHint"] is True
        assert tool["annotations"]["destructiveHint"] is False


@pytest.mark.parametrize(("path", "transport"), ENDPOINTS[:2], ids=ENDPOINT_IDS[:2])
def test_every_tool_call(
    inspector: Inspector, dev_server: ServerProcess, demo_db: Path, home: Path, path: str, transport: str | None
) -> None:
    url = dev_server.base_url + path
    with sqlite3.connect(demo_db) as db:
        customers = db.execute("SELECT count(*) FROM Customers").fetchone()[0]
        first_ids = [r[0] for r in db.execute("SELECT CustomerID FROM Customers ORDER BY 1 LIMIT 3")]
        columns = [r[1] for r in db.execute("PRAGMA table_info(Customers)")]

    tables = tool_ok(inspector.run(url, "tools/call", tool="list_tables", home=home, transport=transport))
    by_name = {f"{t['schema']}.{t['name']}": t for t in tables["tables"]}  # type: ignore[attr-defined]
    assert by_name["dbo.Customers"]["row_count"] == customers

    detail = tool_ok(
        inspector.run(
            url,
            "tools/call",
            tool="describe_table",
            args={"table_name": "dbo.Customers"},
            home=home,
            transport=transport,
        )
    )
    assert [c["name"] for c in detail["columns"]] == columns  # type: ignore[attr-defined]
    assert [c["name"] for c in detail["columns"] if c["primary_key"]] == ["CustomerID"]  # type: ignore[attr-defined]

    # The query holds '=' and spaces: --tool-arg splits at the first '=' only.
    query = "SELECT TOP 3 CustomerID FROM dbo.Customers WHERE 1 = 1 ORDER BY 1"
    rows = tool_ok(
        inspector.run(url, "tools/call", tool="execute_sql", args={"query": query}, home=home, transport=transport)
    )
    assert rows["columns"] == ["CustomerID"] and rows["rows"] == [[i] for i in first_ids]
    assert rows["row_count"] == 3 and rows["truncated"] is False

    # limit=4 arrives as a number (the Inspector coerces key=value against the tool's input schema).
    sample = tool_ok(
        inspector.run(
            url,
            "tools/call",
            tool="get_table_sample",
            args={"table_name": "[dbo].[Customers]", "limit": "4"},
            home=home,
            transport=transport,
        )
    )
    assert sample["table"] == "dbo.Customers" and sample["row_count"] == 4
    assert sample["columns"] == columns


@pytest.mark.parametrize(("path", "transport"), ENDPOINTS, ids=ENDPOINT_IDS)
def test_refused_write_is_a_tool_error(
    inspector: Inspector, dev_server: ServerProcess, demo_db: Path, home: Path, path: str, transport: str | None
) -> None:
    with sqlite3.connect(demo_db) as db:
        before = db.execute("SELECT count(*) FROM Customers").fetchone()[0]
    run = inspector.run(
        dev_server.base_url + path,
        "tools/call",
        tool="execute_sql",
        args={"query": "DELETE FROM dbo.Customers"},
        home=home,
        transport=transport,
    )
    assert run.returncode == EXIT_TOOL_ERROR, run.describe()
    result = run.result()
    assert result["isError"] is True
    assert result["content"][0]["text"].startswith("Refused:")
    assert run.error()["code"] == "tool_is_error"
    with sqlite3.connect(demo_db) as db:
        assert db.execute("SELECT count(*) FROM Customers").fetchone()[0] == before


@pytest.mark.parametrize("era", ["modern", "auto"])
def test_newer_protocol_eras(inspector: Inspector, dev_server: ServerProcess, home: Path, era: str) -> None:
    """The Inspector defaults to the "legacy" (initialize handshake) era for an ad-hoc URL; its "modern" era
    and "auto" negotiation work too, since the SDK server also speaks the newer protocol. Keep it so."""
    run = inspector.run(
        dev_server.base_url + "/mcp",
        "tools/call",
        tool="execute_sql",
        args={"query": "SELECT 1 AS x"},
        home=home,
        extra_args=["--protocol-era", era],
    )
    assert tool_ok(run)["rows"] == [[1]]


def test_unknown_table_is_a_tool_error(inspector: Inspector, dev_server: ServerProcess, home: Path) -> None:
    run = inspector.run(
        dev_server.base_url + "/mcp",
        "tools/call",
        tool="describe_table",
        args={"table_name": "dbo.Custmers"},
        home=home,
    )
    assert run.returncode == EXIT_TOOL_ERROR, run.describe()
    text = run.result()["content"][0]["text"]
    assert "Custmers" in text and "Customers" in text  # the error names close matches


def test_unreachable_server(inspector: Inspector, home: Path) -> None:
    run = inspector.run(
        f"http://127.0.0.1:{free_port()}/mcp", "tools/list", home=home, extra_args=["--connect-timeout", "5000"]
    )
    assert run.returncode == EXIT_UNREACHABLE, run.describe()
    assert run.error()["code"] == "unreachable"


# -- with sign-in on ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def oauth_server(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """Sign-in on (no dev flags), one user made with `mssql-mcp users add --password-stdin`, and loopback
    redirect URIs allowed, which the Inspector's local callback listener needs."""
    tmp = tmp_path_factory.mktemp("inspector-oauth")
    with running_oauth_server(demo_db, tmp, env={"ALLOW_LOOPBACK_REDIRECTS": "true"}) as server:
        yield server


def signed_in_run(
    inspector: Inspector,
    server: ServerProcess,
    tmp: Path,
    path: str,
    transport: str | None,
    *,
    decision: str = "approve",
) -> tuple[InspectorRun, list[dict[str, object]]]:
    """One Inspector run that has to sign in first; returns the run and what the browser script logged."""
    home, log = tmp / "home", tmp / "browser.jsonl"
    env = browser_env(home, DEFAULT_ACCOUNT.username, DEFAULT_ACCOUNT.password, log, decision=decision)
    callback = f"http://127.0.0.1:{free_port()}/oauth/callback"  # not the fixed default 6276: runs may overlap
    try:
        run = inspector.run(
            server.base_url + path,
            "tools/call",
            tool="execute_sql",
            args={"query": "SELECT TOP 2 CustomerID FROM dbo.Customers ORDER BY 1"},
            home=home,
            transport=transport,
            env=env,
            extra_args=["--callback-url", callback],
        )
    except subprocess.TimeoutExpired as exc:  # the Inspector waits for a callback that never came: say why
        raise AssertionError(f"no callback; browser: {browser_log(log)}\nserver: {server.log()[-3000:]}") from exc
    finally:
        stop_browsers(log)
    return run, browser_log(log)


@pytest.mark.parametrize(("path", "transport"), ENDPOINTS, ids=ENDPOINT_IDS)
def test_full_oauth_flow_then_tool_call(
    inspector: Inspector, oauth_server: ServerProcess, tmp_path: Path, path: str, transport: str | None
) -> None:
    url = oauth_server.base_url + path
    run, steps = signed_in_run(inspector, oauth_server, tmp_path, path, transport)
    assert run.returncode == EXIT_OK, f"{run.describe()}\nbrowser: {steps}\nserver: {oauth_server.log()[-3000:]}"
    assert run.result()["structuredContent"]["rows"] == [[1], [2]]

    # What the Inspector asked for and got, as the browser saw it: PKCE S256, our resource, a code and iss.
    opened, delivered = steps
    authorize = parse_qs(urlsplit(str(opened["authorize_url"])).query)
    assert authorize["code_challenge_method"] == ["S256"] and authorize["resource"] == [url]
    assert delivered["outcome"] == "delivered" and delivered["callback_status"] == 200
    final = parse_qs(urlsplit(str(delivered["final_url"])).query)
    assert final["state"] == authorize["state"] and final["iss"] == [oauth_server.base_url] and final["code"]

    # Who did what: the audit line names the user the browser signed in as, and the Inspector's client.
    client_id = authorize["client_id"][0]
    audit = [ln for ln in oauth_server.log().splitlines() if "msg=tool_call" in ln and f"client={client_id}" in ln]
    assert audit and all(f"user={DEFAULT_ACCOUNT.username}" in ln for ln in audit)
    assert f'client={client_id} client_name="MCP Inspector"' in oauth_server.log()

    # The saved token is a real one: a second run uses it without any browser ...
    again = inspector.run(
        url, "tools/list", home=tmp_path / "home", transport=transport, extra_args=["--stored-auth-only"]
    )
    assert again.returncode == EXIT_OK, again.describe()
    assert len(browser_log(tmp_path / "browser.jsonl")) == 2  # no second sign-in
    # ... it works as a plain bearer header from a fresh HOME, and only at the endpoint it was issued for.
    token = stored_access_token(tmp_path / "home", url)
    header = ["--stored-auth-only", "--header", f"Authorization: Bearer {token}"]
    assert ok(inspector.run(url, "tools/list", home=tmp_path / "fresh", transport=transport, extra_args=header))
    other = oauth_server.base_url + ("/sse" if path == "/mcp" else "/mcp")
    elsewhere = inspector.run(other, "tools/list", home=tmp_path / "fresh", extra_args=header)
    assert elsewhere.returncode == EXIT_AUTH_REQUIRED, elsewhere.describe()


def test_without_sign_in_needs_auth(inspector: Inspector, oauth_server: ServerProcess, home: Path) -> None:
    url = oauth_server.base_url + "/mcp"
    # No browser and no terminal: the Inspector cannot sign in, and says so with exit 3.
    run = inspector.run(url, "tools/call", tool="list_tables", home=home)
    assert run.returncode == EXIT_AUTH_REQUIRED, run.describe()
    assert run.error()["code"] == "auth_required"
    # Told never to start a sign-in, it sends the request without a token and gets our 401; tools/list
    # needs sign-in as well (ALLOW_UNAUTH_METHODS is off).
    for method, tool in (("tools/call", "list_tables"), ("tools/list", None)):
        run = inspector.run(url, method, tool=tool, home=home, extra_args=["--stored-auth-only"])
        assert run.returncode == EXIT_AUTH_REQUIRED, run.describe()
        assert "unauthorized" in run.error()["message"]
    # A made-up bearer token is no better.
    run = inspector.run(
        url,
        "tools/call",
        tool="list_tables",
        home=home,
        extra_args=["--stored-auth-only", "--header", "Authorization: Bearer not-a-real-token"],
    )
    assert run.returncode == EXIT_AUTH_REQUIRED, run.describe()


def test_denied_consent_issues_no_token(inspector: Inspector, oauth_server: ServerProcess, tmp_path: Path) -> None:
    run, steps = signed_in_run(inspector, oauth_server, tmp_path, "/mcp", None, decision="deny")
    assert run.returncode == EXIT_ERROR, run.describe()
    assert "denied" in run.error()["message"]
    opened, delivered = steps
    final = parse_qs(urlsplit(str(delivered["final_url"])).query)
    assert final["error"] == ["access_denied"] and "code" not in final
    client_id = parse_qs(urlsplit(str(opened["authorize_url"])).query)["client_id"][0]
    log = oauth_server.log()
    assert f"msg=consent_denied user={DEFAULT_ACCOUNT.username} client={client_id}" in log
    assert f"msg=tokens_issued user={DEFAULT_ACCOUNT.username} client={client_id}" not in log


def test_loopback_redirects_off_refuses_the_inspector(inspector: Inspector, demo_db: Path, tmp_path: Path) -> None:
    """ALLOW_LOOPBACK_REDIRECTS is off by default (a public server), and then the Inspector cannot register."""
    with running_oauth_server(demo_db, tmp_path / "server", env={"ALLOW_LOOPBACK_REDIRECTS": "false"}) as server:
        run, steps = signed_in_run(inspector, server, tmp_path, "/mcp", None)
    assert run.returncode == EXIT_ERROR, run.describe()
    error = run.error()
    assert error["status"] == 400 and "invalid_redirect_uri" in error["message"]
    assert "ALLOW_LOOPBACK_REDIRECTS" in error["message"]
    assert steps == []  # no browser was ever opened


def test_chatgpt_face_signs_in_then_search_and_fetch(inspector: Inspector, demo_db: Path, tmp_path: Path) -> None:
    """The same flow on the ChatGPT face (/chatgpt/mcp, its own issuer path); then its search → fetch contract:
    each result is one text item holding JSON."""
    with sqlite3.connect(demo_db) as db:
        company = db.execute("SELECT CompanyName FROM Customers ORDER BY CustomerID LIMIT 1").fetchone()[0]
    with running_oauth_server(
        demo_db, tmp_path / "server", face="chatgpt", env={"ALLOW_LOOPBACK_REDIRECTS": "true"}
    ) as server:
        url = server.base_url + "/chatgpt/mcp"
        home, log = tmp_path / "home", tmp_path / "browser.jsonl"
        env = browser_env(home, DEFAULT_ACCOUNT.username, DEFAULT_ACCOUNT.password, log)
        callback = ["--callback-url", f"http://127.0.0.1:{free_port()}/oauth/callback"]
        try:
            search = inspector.run(
                url, "tools/call", tool="search", args={"query": company}, home=home, env=env, extra_args=callback
            )
        finally:
            stop_browsers(log)
        content = ok(search)["content"]
        assert isinstance(content, list) and len(content) == 1 and content[0]["type"] == "text", search.describe()
        results = json.loads(content[0]["text"])["results"]
        assert results and {"id", "title", "url"} <= set(results[0])
        assert any(company in r["title"] for r in results)

        first = next(r for r in results if company in r["title"])
        fetch = inspector.run(
            url, "tools/call", tool="fetch", args={"id": first["id"]}, home=home, extra_args=["--stored-auth-only"]
        )  # the token from the sign-in above
        content = ok(fetch)["content"]
        assert isinstance(content, list) and len(content) == 1, fetch.describe()
        record = json.loads(content[0]["text"])
        assert record["id"] == first["id"] and company in record["text"]
        assert {"title", "url"} <= set(record)
    assert len([s for s in browser_log(log) if "pid" in s]) == 1  # one sign-in for both calls
