"""docs/connect.md, generated from the same guides `mssql-mcp connect` prints (mssql_mcp/connect.py).

`make docs` writes it (`python -m mssql_mcp.connect_docs --write docs/connect.md`); a test fails when it is
stale. The example URLs are the ones `make run` serves on this machine and a deployed server's.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mssql_mcp.connect import Guide, guide
from mssql_mcp.settings import load_settings

EXAMPLE_PUBLIC_URL = "https://mcp.example.com"

_INTRO = f"""\
# Connecting a client

`mssql-mcp connect CLIENT` prints these steps with the exact URL or snippet for your server's settings
(`PUBLIC_URL`, `HOST`, `PORT`): run it rather than copying from here. With the venv not on your PATH, it is
`.venv/bin/mssql-mcp connect CLIENT`. Piped or redirected, only the snippet goes to standard output, so
`.venv/bin/mssql-mcp connect claude-desktop > entry.json` writes just the JSON.

Below, each client is shown with the URL it suits: `make run`'s local server for Claude Desktop and MCP
Inspector, a deployed server (`PUBLIC_URL={EXAMPLE_PUBLIC_URL}`) for claude.ai and ChatGPT, which reach
the server from the internet. The landing page at the server's root (`/`, and `/chatgpt/` for the ChatGPT
face) shows the same steps for that server.

This page is generated from `mssql_mcp/connect.py` by `make docs`.
"""


def _section(command: str, g: Guide) -> str:
    at = g.snippet_after
    out = [f"## {g.title}", "", f"`{command}`", ""]
    out += [f"{i}. {step}" for i, step in enumerate(g.steps[:at], 1)]
    out += ["", f"```{g.language}", g.snippet, "```", ""]
    out += [f"{i}. {step}" for i, step in enumerate(g.steps[at:], at + 1)]
    if g.notes:
        out += ["", *(f"> {note}" for note in g.notes)]
    return "\n".join(out).rstrip() + "\n"


def markdown() -> str:
    from mssql_mcp.serve import mcp_url

    local = load_settings({}, env_file=None)
    deployed = load_settings({"PUBLIC_URL": EXAMPLE_PUBLIC_URL}, env_file=None)
    cases = [
        ("claude-desktop", local, "claude"),
        ("claude-ai", deployed, "claude"),
        ("chatgpt", deployed, "chatgpt"),
        ("inspector", local, "claude"),
    ]
    sections = [
        _section(f"mssql-mcp connect {client}", guide(client, mcp_url(settings, face)))
        for client, settings, face in cases
    ]
    return "\n".join([_INTRO, *sections])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", type=Path, help="write to FILE instead of standard output")
    args = parser.parse_args()
    if args.write:
        args.write.write_text(markdown(), encoding="utf-8")
    else:
        print(markdown(), end="")


if __name__ == "__main__":
    main()
