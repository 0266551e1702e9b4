"""The connect guides: one text for the landing page and `mssql-mcp connect`, right for each kind of URL."""

from __future__ import annotations

import json

import pytest

from mssql_mcp import connect


def test_claude_desktop_is_a_config_entry_for_the_mcp_remote_bridge() -> None:
    g = connect.guide("claude-desktop", "https://db.example.com/mcp")
    entry = json.loads(g.snippet)["mcpServers"]["mssql-mcp"]
    assert entry == {"command": "npx", "args": ["-y", "mcp-remote", "https://db.example.com/mcp"]}
    assert g.language == "json"


@pytest.mark.parametrize(
    ("url", "allow_http"),
    [("http://localhost:8008/mcp", False), ("http://127.0.0.1:8008/mcp", False), ("http://10.1.2.3:8008/mcp", True)],
)
def test_plain_http_off_loopback_tells_the_bridge_to_allow_it(url: str, allow_http: bool) -> None:
    args = json.loads(connect.guide("claude-desktop", url).snippet)["mcpServers"]["mssql-mcp"]["args"]
    assert url in args
    assert ("--allow-http" in args) is allow_http


@pytest.mark.parametrize("client", ["claude-ai", "chatgpt"])
def test_cloud_clients_get_the_url_and_a_warning_when_it_is_not_public(client: str) -> None:
    public = connect.guide(client, "https://db.example.com/chatgpt/mcp")
    assert public.snippet == "https://db.example.com/chatgpt/mcp" and public.notes == ()
    local = connect.guide(client, "http://localhost:8009/chatgpt/mcp")
    assert any("PUBLIC_URL" in n for n in local.notes)


def test_inspector_command_names_the_url_and_streamable_http() -> None:
    g = connect.guide("inspector", "http://localhost:8008/mcp")
    assert g.snippet.startswith("npx @modelcontextprotocol/inspector@2 ")
    assert "--transport http --server-url http://localhost:8008/mcp" in g.snippet


def test_each_face_lists_its_own_clients_and_every_client_has_a_guide() -> None:
    assert [g.client for g in connect.guides("claude", "https://h/mcp")] == ["claude-ai", "claude-desktop", "inspector"]
    assert [g.client for g in connect.guides("chatgpt", "https://h/chatgpt/mcp")] == ["chatgpt", "inspector"]
    assert {connect.guide(c, "https://h/mcp").client for c in connect.CLIENTS} == set(connect.CLIENTS)


def test_text_puts_the_snippet_after_the_step_that_introduces_it() -> None:
    g = connect.guide("claude-ai", "https://db.example.com/mcp")
    out = connect.text(g)
    assert out.index("paste this URL") < out.index("\nhttps://db.example.com/mcp\n") < out.index("3. Connect")
