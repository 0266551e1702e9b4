"""The "browser" MCP Inspector opens during its OAuth flow, for tests: `python -m tests.support.inspector_browser URL`.

The Inspector hands the authorize URL to `open` → xdg-open → $BROWSER (with MCP_AUTO_OPEN_ENABLED=true). This
script then does what a person would: it follows /authorize to our login page, submits the login form and the
consent form (hidden CSRF and request fields copied, cookies kept; the sign-in helper's `FormFiller`), and
finally loads the redirect URI it is sent to, which is the Inspector's own loopback callback listener. That last
GET is what hands the code to the Inspector.

xdg-open starts it detached with no stdio, so it reports through a JSON log file instead
(INSPECTOR_BROWSER_LOG): its PID first (so a test can stop a straggler), then the outcome.
Credentials come from INSPECTOR_BROWSER_USER / INSPECTOR_BROWSER_PASSWORD; INSPECTOR_BROWSER_DECISION is
"approve" (default) or "deny".
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import traceback
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.support.oauth_flow import Account, FormFiller

CALLBACK_TIMEOUT = 30.0


def _write(log: Path, record: dict[str, Any]) -> None:
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")


def _deliver(url: str) -> int:
    """GET the client's redirect URI, as a browser following the 303 would; returns the HTTP status."""
    try:
        with urllib.request.urlopen(url, timeout=CALLBACK_TIMEOUT) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:  # the Inspector answers an error redirect with a 4xx page
        return int(exc.code)


def main(argv: list[str]) -> int:
    log = Path(os.environ["INSPECTOR_BROWSER_LOG"])
    _write(log, {"pid": os.getpid(), "authorize_url": argv[1] if len(argv) > 1 else None})
    try:
        account = Account(os.environ["INSPECTOR_BROWSER_USER"], os.environ["INSPECTOR_BROWSER_PASSWORD"])
        filler = FormFiller(account, decision=os.environ.get("INSPECTOR_BROWSER_DECISION", "approve"))
        final_url = asyncio.run(filler.run(argv[1]))
        status = _deliver(final_url)
    except Exception:  # report anything: nobody sees this process's stderr
        _write(log, {"outcome": "error", "traceback": traceback.format_exc()})
        return 1
    _write(log, {"outcome": "delivered", "final_url": final_url, "callback_status": status, "pages": len(filler.pages)})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
