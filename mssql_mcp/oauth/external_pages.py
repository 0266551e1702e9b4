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

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mssql_mcp.oauth.external import ExternalVerifier
from mssql_mcp.oauth.page_flow import PageFlow, Returned
from mssql_mcp.oauth.tokens import McpAccessToken
from mssql_mcp.web import message_page


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
        self.flow = PageFlow(cookie=cookie, base_url=base_url, prefix=prefix, path=path, home=home)

    @property
    def configured(self) -> bool:
        return bool(self.client_id and self._client_secret)

    def routes(self) -> list[BaseRoute]:
        return [Route(self.flow.callback_path, self.callback, methods=["GET"])] if self.configured else []

    async def check(self, request: Request) -> Response | None:
        if isinstance(request.scope.get("user"), AuthenticatedUser):  # the verifier already checked it
            return None
        token = request.cookies.get(self.flow.session_cookie)
        found = await self.verifier.verify_token(token) if token else None
        if found is not None:
            request.scope["user"] = AuthenticatedUser(found)  # the page runs as this person (their share, identity)
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
        # openid: OpenID Providers (Keycloak, Okta) require it
        scope = f"openid {self.verifier.scope}"
        return self.flow.start(
            request, endpoint, client_id=self.client_id, resource=self.verifier.audience, scope=scope
        )

    async def callback(self, request: Request) -> Response:
        returned = self.flow.returned(request)
        if not isinstance(returned, Returned):
            return returned
        token = await self._redeem(returned.code, returned.verifier)
        if token is None:
            return message_page(
                "Sign-in failed", "The sign-in could not be completed. Open the link again.", status=400
            )
        expires = token.expires_at - int(self.verifier.clock()) if token.expires_at else 300
        return self.flow.land(returned.back, token.token, max(60, expires))

    async def _redeem(self, code: str, code_verifier: str) -> McpAccessToken | None:
        http = self.verifier.http
        try:
            endpoint = await self.verifier.metadata.endpoint(http, "token_endpoint")
            resp = await http.post(
                endpoint,
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": self.flow.redirect_uri,
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
