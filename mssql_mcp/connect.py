"""How to connect each client to this server: the exact steps and snippet, for one public MCP URL.

Pure functions of the face's public MCP URL (e.g. `https://db.example.com/mcp`), so the landing page
(`GET /`, mssql_mcp/web/landing.py) and `mssql-mcp connect CLIENT` print the same text.

    guide(client, mcp_url) -> Guide      client in CLIENTS
    guides(face, mcp_url) -> list[Guide] the clients a face serves, in the order the landing page shows them
    text(guide) -> str                   the plain-text form: steps, snippet, notes

`guide(...).snippet` alone is machine-readable (the Claude Desktop one is JSON), for output piped elsewhere.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlsplit

CLIENTS = ("claude-desktop", "claude-ai", "chatgpt", "inspector")
FACE_CLIENTS = {
    "claude": ("claude-ai", "claude-desktop", "inspector"),
    "chatgpt": ("chatgpt", "inspector"),
}
SERVER_NAME = "mssql-mcp"  # the key of our entry in claude_desktop_config.json
INSPECTOR = "@modelcontextprotocol/inspector@2"
_LOOPBACK = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class Guide:
    client: str  # one of CLIENTS
    title: str  # the client's name, as a heading
    steps: tuple[str, ...]  # what to do, one sentence each
    snippet: str  # the exact text to paste or run
    language: str  # "json", "sh" or "text": what the snippet is
    notes: tuple[str, ...] = ()  # conditions that apply to this URL (loopback, plain http)

    @property
    def snippet_after(self) -> int:
        """How many steps come before the snippet: it follows the first step that ends with a colon."""
        return next((i + 1 for i, s in enumerate(self.steps) if s.endswith(":")), len(self.steps))


def is_local(mcp_url: str) -> bool:
    return urlsplit(mcp_url).hostname in _LOOPBACK


def claude_desktop_config(mcp_url: str) -> dict[str, object]:
    """The `claude_desktop_config.json` entry: Desktop starts the `mcp-remote` bridge, which speaks
    streamable HTTP to this server and runs the OAuth sign-in in the browser."""
    args = ["-y", "mcp-remote", mcp_url]
    # mcp-remote refuses plain http except on localhost/127.0.0.1 unless told otherwise.
    if urlsplit(mcp_url).scheme == "http" and urlsplit(mcp_url).hostname not in ("localhost", "127.0.0.1"):
        args.append("--allow-http")
    return {"mcpServers": {SERVER_NAME: {"command": "npx", "args": args}}}


def claude_desktop(mcp_url: str) -> Guide:
    return Guide(
        "claude-desktop",
        "Claude Desktop",
        (
            "Install Node.js (for npx).",
            "Open Settings → Developer → Edit Config, and add this entry to claude_desktop_config.json "
            "(merge it into an existing mcpServers):",
            "Restart Claude Desktop. The bridge opens this server's sign-in page in your browser: sign in, then Allow.",
        ),
        json.dumps(claude_desktop_config(mcp_url), indent=2),
        "json",
        ("The bridge's sign-in callback is on localhost: the server needs ALLOW_LOOPBACK_REDIRECTS=true.",),
    )


def claude_ai(mcp_url: str) -> Guide:
    return Guide(
        "claude-ai",
        "claude.ai (and Claude Desktop's custom connectors)",
        (
            "In claude.ai, open Settings → Connectors → Add custom connector.",
            "Give it a name, and paste this URL as the remote MCP server URL:",
            "Connect: this server's sign-in page opens; sign in, then Allow.",
        ),
        mcp_url,
        "text",
        _public_notes(mcp_url, "claude.ai"),
    )


def chatgpt(mcp_url: str) -> Guide:
    return Guide(
        "chatgpt",
        "ChatGPT",
        (
            "In ChatGPT, turn on developer mode (Settings → Apps & Connectors → Advanced settings).",
            "Create a connector, choose OAuth as its authentication, and paste this URL as the MCP server URL:",
            "This server's sign-in page opens; sign in, then Allow. Use the connector in a chat or in Deep Research.",
        ),
        mcp_url,
        "text",
        _public_notes(mcp_url, "ChatGPT"),
    )


def inspector(mcp_url: str) -> Guide:
    return Guide(
        "inspector",
        "MCP Inspector",
        (
            "Start the Inspector's web UI (Node.js 22 or newer), open the link it prints, and Connect:",
            "It opens this server's sign-in page in your browser: sign in, then Allow.",
        ),
        f"npx {INSPECTOR} --web --transport http --server-url {mcp_url}",
        "sh",
        ("The Inspector's sign-in callback is on localhost: the server needs ALLOW_LOOPBACK_REDIRECTS=true.",),
    )


_GUIDES = {"claude-desktop": claude_desktop, "claude-ai": claude_ai, "chatgpt": chatgpt, "inspector": inspector}


def guide(client: str, mcp_url: str) -> Guide:
    """`client` is one of CLIENTS (KeyError otherwise)."""
    return _GUIDES[client](mcp_url)


def guides(face: str, mcp_url: str) -> list[Guide]:
    return [guide(c, mcp_url) for c in FACE_CLIENTS[face]]


def text(g: Guide) -> str:
    """The guide as plain text: numbered steps with the snippet on its own lines where it belongs, then notes."""
    steps = [f"  {i}. {step}" for i, step in enumerate(g.steps, 1)]
    at = g.snippet_after
    lines = [f"{g.title}:", *steps[:at], "", g.snippet, "", *steps[at:]]
    if g.notes:
        lines += ["", *(f"Note: {n}" for n in g.notes)]
    return "\n".join(lines).rstrip() + "\n"


def _public_notes(mcp_url: str, who: str) -> tuple[str, ...]:
    parts = urlsplit(mcp_url)
    if parts.scheme != "https" or is_local(mcp_url):
        return (
            f"{who} reaches the server from the internet: it needs a public https URL. Set PUBLIC_URL to it "
            "(deploy behind the nginx proxy); this server's URL is not one.",
        )
    return ()
