"""AUTH_MODE=external: browser pages (the ChatGPT face's record pages) signed in through the company's
authorization server, as a confidential client (EXTERNAL_CLIENT_ID / EXTERNAL_CLIENT_SECRET).

The same flow as oauth/browser.py, against the external issuer instead of this server:

    GET {path}/<anything>          no valid session: 303 to the issuer's authorization_endpoint
                                   (code, state, PKCE S256 (RFC 7636), resource = this face's audience, RFC 8707)
    GET {path}/_signin/callback    state checked, code redeemed at the issuer's token_endpoint with the client
                                   secret, the access token checked by `ExternalVerifier` like any bearer
                                   token, kept in an HttpOnly cookie, 303 back to the page

Every page load checks the cookie's token with the verifier again, so expiry (and, with introspection,
revocation) applies as it does for the MCP endpoint. Without a configured client `check` answers with a page
saying the pages are off: there is no sign-in here to fall back to.
"""

from __future__ import annotations

import base64
import secrets
from urllib.parse import urlencode

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from mssql_mcp.oauth.external import ExternalVerifier
from mssql_mcp.oauth.tokens import McpAccessToken, pkce_challenge
from mssql_mcp.web import message_page

FLOW_SECONDS = 600


class ExternalPageSignIn:
    def __init__(
        self,
        verifier: ExternalVerifier,
        *,
        client_id: str | None,
        client_secret: str | None,
        cookie: str,
        base_url: str,
        prefix: str,
        path: str,
        home: str,
    ) -> None:
        self.verifier = verifier
        self.client_id = client_id or ""
        self._client_secret = client_secret or ""
        self.session_cookie, self.flow_cookie = cookie, f"{cookie}_flow"
        self.path, self.home = path, home
        self.callback_path = f"{path}/_signin/callback"
        self.redirect_uri = base_url + self.callback_path[len(prefix) :]
        self.secure = base_url.startswith("https://")

    @property
    def configured(self) -> bool:
        return bool(self.client_id and self._client_secret)

    def routes(self) -> list[BaseRoute]:
        return [Route(self.callback_path, self.callback, methods=["GET"])] if self.configured else []

    async def check(self, request: Request) -> Response | None:
        if isinstance(request.scope.get("user"), AuthenticatedUser):  # the verifier already checked it
            return None
        token = request.cookies.get(self.session_cookie)
        if token and await self.verifier.verify_token(token) is not None:
            return None
        if not self.configured:
            return message_page(
                "Record pages are off",
                "This server accepts only access tokens from the company's authorization server, and these pages "
                "have no sign-in of their own in that mode. The records stay available through the connector.",
                status=403,
            )
        try:
            endpoint = await self.verifier.metadata.endpoint(self.verifier.http, "authorization_endpoint")
        except Exception:  # noqa: BLE001 - any failure to reach the issuer is the same page
            return message_page("Sign-in unavailable", "The company's sign-in cannot be reached now.", status=503)
        state, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(48)
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "state": state,
            "code_challenge": pkce_challenge(verifier),
            "code_challenge_method": "S256",
            "resource": self.verifier.audience,
            "scope": f"openid {self.verifier.scope}",  # openid: OpenID Providers (Keycloak, Okta) require it
        }
        response = RedirectResponse(f"{endpoint}?{urlencode(query)}", status_code=303)
        back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        flow = ".".join([state, verifier, base64.urlsafe_b64encode(back.encode()).decode()])
        self._cookie(response, self.flow_cookie, flow, FLOW_SECONDS)
        return response

    async def callback(self, request: Request) -> Response:
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
        token = await self._redeem(request.query_params.get("code", ""), flow[1])
        if token is None:
            return message_page(
                "Sign-in failed", "The sign-in could not be completed. Open the link again.", status=400
            )
        back = base64.urlsafe_b64decode(flow[2].encode()).decode(errors="replace")
        if not back.startswith(self.path + "/"):  # only ever back to one of the pages: no open redirect
            back = self.home
        response = RedirectResponse(back, status_code=303)
        expires = token.expires_at - int(self.verifier.clock()) if token.expires_at else 300
        self._cookie(response, self.session_cookie, token.token, max(60, expires))
        response.delete_cookie(self.flow_cookie, path=self.path)
        return response

    async def _redeem(self, code: str, code_verifier: str) -> McpAccessToken | None:
        http = self.verifier.http
        try:
            endpoint = await self.verifier.metadata.endpoint(http, "token_endpoint")
            resp = await http.post(
                endpoint,
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": self.redirect_uri,
                    "code_verifier": code_verifier,
                    "resource": self.verifier.audience,
                },
                auth=(self.client_id, self._client_secret),
            )
            access = resp.json().get("access_token") if resp.status_code == 200 else None
        except Exception:  # noqa: BLE001 - the issuer down or answering nonsense: the same refusal
            return None
        if not isinstance(access, str):
            return None
        return await self.verifier.verify_token(access)  # the same checks as any bearer token

    def _cookie(self, response: Response, name: str, value: str, max_age: int) -> None:
        response.set_cookie(
            name, value, max_age=max_age, path=self.path, httponly=True, secure=self.secure, samesite="lax"
        )
