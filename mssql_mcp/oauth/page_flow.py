"""The browser half of a record page's sign-in, shared by both page guards: this server's own authorization
server (oauth/browser.py) and the company's in AUTH_MODE=external (oauth/external_pages.py).

It is an authorization-code request with PKCE S256 (RFC 7636 §4). Its `state`, the code verifier and the
page to come back to ride in a short-lived HttpOnly cookie on the pages' path. On the way back the state
must match that cookie (RFC 6749 §10.12), and the landing swaps the flow cookie for the session one. The way
back only ever leads to one of the pages, so the callback is never an open redirect.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from mssql_mcp.oauth.tokens import pkce_challenge
from mssql_mcp.web import message_page

FLOW_SECONDS = 600  # a sign-in started more than 10 minutes ago must start again


@dataclass(frozen=True)
class Returned:
    """A callback whose state matched the flow cookie: the code, its PKCE verifier, and where to go back."""

    code: str
    verifier: str
    back: str


class PageFlow:
    """Cookies and redirects of the pages under `path` (their callback is `{path}/_signin/callback`).

    `base_url` is the public URL of the face with its `prefix`; `home` is the page to land on when the way
    back is not one of the pages. `cookie` names the session cookie; the flow in progress uses `{cookie}_flow`.
    """

    def __init__(self, *, cookie: str, base_url: str, prefix: str, path: str, home: str) -> None:
        self.session_cookie, self.flow_cookie = cookie, f"{cookie}_flow"
        self.path, self.home = path, home
        self.callback_path = f"{path}/_signin/callback"
        self.redirect_uri = base_url + self.callback_path[len(prefix) :]
        self.secure = base_url.startswith("https://")

    def start(self, request: Request, endpoint: str, *, client_id: str, resource: str, scope: str) -> Response:
        """303 to the authorization endpoint, with the flow cookie that lets `returned` finish it."""
        state, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(48)
        query = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": self.redirect_uri,
            "state": state,
            "code_challenge": pkce_challenge(verifier),
            "code_challenge_method": "S256",
            "resource": resource,  # RFC 8707: the token is for this face alone
            "scope": scope,
        }
        response = RedirectResponse(f"{endpoint}?{urlencode(query)}", status_code=303)
        back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        flow = ".".join([state, verifier, base64.urlsafe_b64encode(back.encode()).decode()])
        self._cookie(response, self.flow_cookie, flow, FLOW_SECONDS)
        return response

    def returned(self, request: Request) -> Returned | Response:
        """The callback's code and flow when its state is ours and access was granted; otherwise the page."""
        flow = request.cookies.get(self.flow_cookie, "").split(".")
        state = request.query_params.get("state", "")
        if len(flow) != 3 or not secrets.compare_digest(flow[0], state):
            return message_page(
                "Sign-in failed",
                "This sign-in link is stale or was not started here. Open the record link again.",
                status=400,
            )
        if "error" in request.query_params:
            return message_page("Sign-in not completed", "Access to the record was not granted.", status=403)
        back = base64.urlsafe_b64decode(flow[2].encode()).decode(errors="replace")
        if not back.startswith(self.path + "/"):  # only ever back to one of the pages: no open redirect
            back = self.home
        return Returned(request.query_params.get("code", ""), flow[1], back)

    def land(self, back: str, token: str, max_age: int) -> Response:
        """303 back to the page, signed in: the session cookie set and the flow cookie spent."""
        response = RedirectResponse(back, status_code=303)
        self._cookie(response, self.session_cookie, token, max_age)
        response.delete_cookie(self.flow_cookie, path=self.path)
        return response

    def _cookie(self, response: Response, name: str, value: str, max_age: int) -> None:
        response.set_cookie(
            name, value, max_age=max_age, path=self.path, httponly=True, secure=self.secure, samesite="lax"
        )
