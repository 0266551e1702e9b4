"""The "browser" MCP Inspector opens when the server signs people in through an OpenID Provider
(AUTH_MODE=oidc): `python -m tests.support.inspector_oidc_browser URL`.

Like tests/support/inspector_browser.py, whose log format and delivery it shares, but the person signs in
at the provider (tests/support/oidc_flow.py's `UpstreamFiller`) as INSPECTOR_BROWSER_USER, then approves on
our consent page; the last GET hands the code to the Inspector's loopback callback listener.
"""

from __future__ import annotations

import asyncio
import os
import sys
import traceback
from pathlib import Path

from tests.support.inspector_browser import _deliver, _write
from tests.support.oauth_flow import Account
from tests.support.oidc_flow import UpstreamFiller


def main(argv: list[str]) -> int:
    log = Path(os.environ["INSPECTOR_BROWSER_LOG"])
    _write(log, {"pid": os.getpid(), "authorize_url": argv[1] if len(argv) > 1 else None})
    try:
        filler = UpstreamFiller(Account(os.environ["INSPECTOR_BROWSER_USER"], ""))
        final_url = asyncio.run(filler.run(argv[1]))
        status = _deliver(final_url)
    except Exception:  # report anything: nobody sees this process's stderr
        _write(log, {"outcome": "error", "traceback": traceback.format_exc()})
        return 1
    visited = [url.split("?")[0] for url in filler.visited]
    _write(log, {"outcome": "delivered", "final_url": final_url, "callback_status": status, "visited": visited})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
