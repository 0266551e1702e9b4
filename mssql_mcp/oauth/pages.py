"""Server-rendered HTML for sign-in: templates, escaping, CSRF tokens and the headers every page carries.

Templates are `string.Template` files in templates/; every value is HTML-escaped unless it is `Html`
(markup this module built from escaped parts). No JavaScript anywhere, so the CSP allows none.

CSRF (OWASP "signed double-submit cookie"): the browser gets a random cookie; each form carries
HMAC(server key, purpose | cookie | request id). A form posted from another site lacks the cookie
(SameSite=Lax) or cannot compute the MAC, and a MAC is bound to one pending sign-in.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import secrets
from functools import cache
from importlib import resources
from string import Template

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response


class Html(str):
    """Markup that is already safe to insert."""


@cache
def _template(name: str) -> Template:
    return Template(resources.files("mssql_mcp.oauth").joinpath("templates", name).read_text(encoding="utf-8"))


def render(name: str, **values: str) -> Html:
    safe = {k: v if isinstance(v, Html) else html.escape(v, quote=True) for k, v in values.items()}
    return Html(_template(name).substitute(safe))


# frame-ancestors/X-Frame-Options: a consent page must never be framed (clickjacking, RFC 6819 §4.4.1.9).
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def page(title: str, content: Html, *, status: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    body = render("page.html", title=title, content=content)
    return HTMLResponse(body, status_code=status, headers={**_HEADERS, **(headers or {})})


def message_page(heading: str, text: str, *, status: int) -> HTMLResponse:
    return page(heading, render("message.html", heading=heading, text=text), status=status)


def error_block(text: str) -> Html:
    return Html(f'<p class="error" id="form-error" role="alert">{html.escape(text)}</p>')


class Csrf:
    def __init__(self, key: bytes, *, secure: bool) -> None:
        self.key = key
        self.secure = secure
        # The __Host- prefix pins the cookie to this host and path / (it requires Secure, so https only).
        self.cookie_name = "__Host-mssql_mcp_csrf" if secure else "mssql_mcp_csrf"

    def browser(self, request: Request) -> tuple[str, bool]:
        """(cookie value, whether it is new and must be set)."""
        value = request.cookies.get(self.cookie_name, "")
        if len(value) >= 32:
            return value, False
        return secrets.token_urlsafe(32), True

    def token(self, purpose: str, browser: str, request_key: str) -> str:
        msg = f"{purpose}|{browser}|{request_key}".encode()
        return hmac.new(self.key, msg, hashlib.sha256).hexdigest()

    def check(self, purpose: str, request: Request, request_key: str, presented: str) -> bool:
        browser = request.cookies.get(self.cookie_name, "")
        if not browser or not presented:
            return False
        return hmac.compare_digest(self.token(purpose, browser, request_key), presented)

    def set_cookie(self, response: Response, value: str) -> None:
        response.set_cookie(
            self.cookie_name, value, path="/", httponly=True, secure=self.secure, samesite="lax", max_age=86_400
        )
