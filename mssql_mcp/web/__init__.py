"""The page kit: every HTML page of the server (sign-in, consent, messages, record pages, landing page).

kit.py renders templates/ (Jinja2, autoescaped, one base layout, one stylesheet) with one set of security
headers; landing.py is the page at each face's root.
"""

from __future__ import annotations

from mssql_mcp.web.kit import message_page, page, render, security_headers

__all__ = ["message_page", "page", "render", "security_headers"]
