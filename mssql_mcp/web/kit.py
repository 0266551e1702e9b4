"""Every HTML page the server sends, from one set of Jinja2 templates (web/templates/) with one base layout.

    page(template, title=..., status=..., headers=..., **values) -> HTMLResponse
    message_page(heading, text, status=...) -> HTMLResponse      a heading and one sentence (errors, notices)

Autoescape is on for every template, and every value is escaped the way `html.escape(quote=True)` does it
(`finalize`), so a name, a cell or an id never becomes markup; only `Markup` passes through as it is.

The pages load no script, so the Content-Security-Policy allows none. The one stylesheet is inline and is
allowed by its SHA-256 hash (CSP Level 2 §4.2, "hash-source"), not by 'unsafe-inline'. Pages are never framed
(clickjacking on the consent page: RFC 6819 §4.4.1.9) and never cached (they show a person's data).
"""

from __future__ import annotations

import base64
import hashlib
import html
from functools import cache
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup
from starlette.responses import HTMLResponse


def _escape(value: Any) -> Any:
    if hasattr(value, "__html__"):
        return value
    return Markup(html.escape(str(value), quote=True))


@cache
def _style() -> str:
    return resources.files("mssql_mcp.web").joinpath("templates", "style.css").read_text(encoding="utf-8")


@cache
def _environment() -> Environment:
    # Built on first use, not at import: importing the package costs nothing.
    env = Environment(
        loader=PackageLoader("mssql_mcp.web", "templates"),
        autoescape=True,
        finalize=_escape,
        undefined=StrictUndefined,  # a value a template names but the caller forgot is an error, not ""
    )
    env.globals.update(style=Markup(_style()), wide=False)
    return env


@cache
def security_headers() -> dict[str, str]:
    """The headers every page carries."""
    digest = base64.b64encode(hashlib.sha256(_style().encode()).digest()).decode()
    return {
        "Content-Security-Policy": (
            f"default-src 'none'; style-src 'sha256-{digest}'; frame-ancestors 'none'; base-uri 'none'"
        ),
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }


def render(template: str, **values: Any) -> str:
    return _environment().get_template(template).render(**values)


def page(
    template: str, *, title: str, status: int = 200, headers: dict[str, str] | None = None, **values: Any
) -> HTMLResponse:
    body = render(template, title=title, **values)
    return HTMLResponse(body, status_code=status, headers={**security_headers(), **(headers or {})})


def message_page(heading: str, text: str, *, status: int) -> HTMLResponse:
    return page("message.html", title=heading, status=status, heading=heading, text=text)
