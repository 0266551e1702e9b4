"""Each face announces only what it offers, in both protocol generations, and says "not offered" for the rest.

On the wire, as a client sees it: the 2025 `initialize` result and the 2026-07-28 `server/discover` result
carry the capabilities; prompts and resources are refused with -32601 (HTTP 404 on the 2026-07-28 wire) and
no traceback in the log; `tools/list` carries cache hints for a list that never changes while the process
runs. The SDK's own client, in both eras, reads the same capabilities.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from mcp_types import CLIENT_CAPABILITIES_META_KEY, PROTOCOL_VERSION_META_KEY

from mssql_mcp.capabilities import TOOL_LIST_TTL_MS
from tests.support.mcp_client import Transport, connect
from tests.support.procs import ServerProcess, running_server

pytestmark = pytest.mark.anyio

FACES = {"claude": "", "chatgpt": "/chatgpt"}
# What each face offers: tools, whose list never changes while the process runs. Nothing else.
OFFERED = {"tools": {"listChanged": False}}
NOT_OFFERED = [
    ("prompts/list", {}),
    ("prompts/get", {"name": "anything"}),
    ("resources/list", {}),
    ("resources/templates/list", {}),
    ("resources/read", {"uri": "file:///etc/passwd"}),
    ("resources/subscribe", {"uri": "file:///etc/passwd"}),
]
MODERN = "2026-07-28"
LEGACY = "2025-11-25"


@pytest.fixture(scope="module", params=list(FACES))
def face(
    request: pytest.FixtureRequest, dev_server_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, str]]:
    name: str = request.param
    with running_server(dev_server_env, tmp_path_factory.mktemp(f"caps-{name}"), face=name) as server:
        yield server, FACES[name]


def _modern(method: str, params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """A 2026-07-28 request: the envelope in params._meta, the method (and name) in headers too."""
    meta = {PROTOCOL_VERSION_META_KEY: MODERN, CLIENT_CAPABILITIES_META_KEY: {}}
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": {**params, "_meta": meta}}
    headers = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": MODERN, "Mcp-Method": method}
    name = params.get("name", params.get("uri"))
    if isinstance(name, str):
        headers["Mcp-Name"] = name
    return body, headers


async def _legacy_session(http: httpx2.AsyncClient, url: str) -> tuple[dict[str, Any], dict[str, str]]:
    """`initialize` (2025-11-25); returns its result and the headers later requests carry."""
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    resp = await http.post(url, json=body, headers={"Accept": "application/json, text/event-stream"})
    assert resp.status_code == 200, resp.text
    headers = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": LEGACY}
    if "mcp-session-id" in resp.headers:
        headers["Mcp-Session-Id"] = resp.headers["mcp-session-id"]
    await http.post(url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=headers)
    return resp.json()["result"], headers


async def test_2025_initialize_announces_only_tools(face: tuple[ServerProcess, str]) -> None:
    server, prefix = face
    url = f"{server.base_url}{prefix}/mcp"
    async with httpx2.AsyncClient(timeout=30) as http:
        result, headers = await _legacy_session(http, url)
        assert result["capabilities"] == OFFERED
        for method, params in NOT_OFFERED:
            resp = await http.post(
                url, json={"jsonrpc": "2.0", "id": 2, "method": method, "params": params}, headers=headers
            )
            assert resp.json()["error"]["code"] == -32601, (method, resp.text)
        tools = await http.post(url, json={"jsonrpc": "2.0", "id": 3, "method": "tools/list"}, headers=headers)
        assert tools.json()["result"]["tools"]
    assert "Traceback" not in server.log()


async def test_2026_discover_announces_only_tools(face: tuple[ServerProcess, str]) -> None:
    server, prefix = face
    url = f"{server.base_url}{prefix}/mcp"
    async with httpx2.AsyncClient(timeout=30) as http:
        body, headers = _modern("server/discover", {})
        resp = await http.post(url, json=body, headers=headers)
        assert resp.status_code == 200, resp.text
        discovered = resp.json()["result"]
        assert discovered["capabilities"] == OFFERED
        assert MODERN in discovered["supportedVersions"]
        for method, params in NOT_OFFERED:
            body, headers = _modern(method, params)
            resp = await http.post(url, json=body, headers=headers)
            assert resp.status_code == 404, (method, resp.text)
            assert resp.json()["error"]["code"] == -32601, (method, resp.text)
        # subscriptions/listen is not served either: there is nothing to listen for.
        body, headers = _modern("subscriptions/listen", {"notifications": {"toolsListChanged": True}})
        resp = await http.post(url, json=body, headers=headers)
        assert resp.status_code == 404, resp.text
    assert "Traceback" not in server.log()


async def test_2026_tool_list_cache_hints(face: tuple[ServerProcess, str]) -> None:
    """The list is the same for every caller and fixed for the life of the process: public, one hour."""
    server, prefix = face
    async with httpx2.AsyncClient(timeout=30) as http:
        body, headers = _modern("tools/list", {})
        result = (await http.post(f"{server.base_url}{prefix}/mcp", json=body, headers=headers)).json()["result"]
    assert result["tools"]
    assert result["ttlMs"] == TOOL_LIST_TTL_MS == 3_600_000
    assert result["cacheScope"] == "public"


@pytest.mark.parametrize(
    ("transport", "mode", "version"),
    [("streamable", "legacy", LEGACY), ("streamable", "auto", MODERN), ("sse", "legacy", LEGACY)],
)
async def test_sdk_client_reads_the_same_capabilities(
    face: tuple[ServerProcess, str], transport: Transport, mode: str, version: str
) -> None:
    """The SDK's client: "legacy" sends initialize, "auto" asks server/discover first and settles on 2026-07-28;
    the legacy SSE transport (GET /sse) initializes too. (A pinned version adopts capabilities it assumes,
    without asking, so it is not a witness here.)"""
    server, prefix = face
    async with connect(server.base_url, transport, prefix=prefix, mode=mode) as client:
        assert client.protocol_version == version
        caps = client.server_capabilities
        assert caps.model_dump(by_alias=True, exclude_none=True) == OFFERED
        assert (await client.list_tools()).tools


async def test_2026_routing_headers_are_read_without_surrounding_whitespace(face: tuple[ServerProcess, str]) -> None:
    """RFC 9110 §5.5: `Mcp-Name:  list_tables  ` names list_tables. Sent on a raw socket, because HTTP
    clients trim or refuse such values themselves; a name that really differs is still refused (-32020)."""
    server, prefix = face
    tool = "list_tables" if prefix == "" else "search"
    args = {} if tool == "list_tables" else {"query": "list tables"}

    async def post(name_header: str) -> tuple[int, dict[str, Any]]:
        body, headers = _modern("tools/call", {"name": tool, "arguments": args})
        payload = json.dumps(body).encode()
        head = [f"POST {prefix}/mcp HTTP/1.1", f"Host: 127.0.0.1:{server.port}", "Content-Type: application/json"]
        head += [f"{k}: {v}" for k, v in headers.items() if k != "Mcp-Name"]
        head += [f"Mcp-Name: {name_header}", f"Content-Length: {len(payload)}", "Connection: close"]
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write("\r\n".join(head).encode() + b"\r\n\r\n" + payload)
        await writer.drain()
        raw = await reader.read()
        writer.close()
        status_line, _, rest = raw.partition(b"\r\n")
        return int(status_line.split()[1]), json.loads(rest.partition(b"\r\n\r\n")[2])

    status, answer = await post(f"  {tool} \t ")
    assert status == 200 and "result" in answer, answer
    status, answer = await post(f"  {tool}x  ")
    assert status == 400 and answer["error"]["code"] == -32020, answer
