"""CSRF tokens for the sign-in and consent forms (the pages themselves come from mssql_mcp/web/).

CSRF (OWASP "signed double-submit cookie"): the browser gets a random cookie; each form carries
HMAC(server key, purpose | cookie | request id). A form posted from another site lacks the cookie
(SameSite=Lax) or cannot compute the MAC, and a MAC is bound to one pending sign-in.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response


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
