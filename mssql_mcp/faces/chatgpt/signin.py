"""Sign-in for the record pages: the same people, login page and tokens as the MCP endpoints (issue 5 §5).

A person who follows a citation link has a browser, not a bearer token. So the record pages are a
first-party OAuth client of this face's own authorization server, and go through the same flow a
connector does (OAuth 2.1 authorization code + PKCE S256, RFC 7636):

    GET {prefix}/records/<id>                 no valid session: 303 to {prefix}/authorize (state, PKCE)
    ...                                        the same /login and /consent pages as every client
    GET {prefix}/records/_signin/callback     code + state checked, code redeemed in-process, cookie set,
                                               303 back to the record

The session cookie holds the access token (HttpOnly, SameSite=Lax, Secure on https, Path={prefix}/records),
and every page load checks it with the provider, so expiry, revocation and `mssql-mcp users remove` apply at
once. A request that carries a valid bearer token for this face (an API client) is served as well. With
ALLOW_UNAUTH_TOOLS_CALL=true (dev only) the pages are open, as `fetch` itself is.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from urllib.parse import urlencode

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.shared.auth import OAuthClientInformationFull
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from mssql_mcp.faces.chatgpt.views import message_page
from mssql_mcp.oauth import AuthComponents
from mssql_mcp.oauth.clients import canonical_resource
from mssql_mcp.oauth.provider import SCOPE
from mssql_mcp.oauth.store import ClientRecord

CLIENT_ID = "mssql-mcp-record-pages"
CLIENT_NAME = "Record pages of this server (ChatGPT citations)"
SESSION_COOKIE = "mssql_mcp_records"
FLOW_COOKIE = "mssql_mcp_records_flow"
FLOW_SECONDS = 600  # a sign-in started more than 10 minutes ago must start again


class RecordSignIn:
    """The record pages' guard (`check`) and their OAuth callback route."""

    def __init__(self, auth: AuthComponents, *, base_url: str, prefix: str, open_access: bool) -> None:
        self.provider = auth.provider
        self.base_url = base_url
        self.path = f"{prefix}/records"
        self.callback_path = f"{self.path}/_signin/callback"
        self.redirect_uri = f"{base_url}/records/_signin/callback"
        self.resource = canonical_resource(f"{base_url}/mcp")
        self.open_access = open_access
        self.secure = base_url.startswith("https://")
        if self.provider is not None:
            self._register_client()

    def _register_client(self) -> None:
        """Our own client, written straight to the store: it is not a third party asking to register, and
        its redirect (this server's public URL) need not be on ALLOWED_REDIRECT_HOSTS."""
        assert self.provider is not None
        info = OAuthClientInformationFull(
            client_id=CLIENT_ID,
            client_name=CLIENT_NAME,
            redirect_uris=[self.redirect_uri],  # type: ignore[list-item]
            grant_types=["authorization_code"],
            response_types=["code"],
            token_endpoint_auth_method="none",
            scope=SCOPE,
        )
        self.provider.store.save_client(
            ClientRecord(CLIENT_ID, info.model_dump_json(exclude_none=True), None, time.time())
        )

    def routes(self) -> list[BaseRoute]:
        return [Route(self.callback_path, self.callback, methods=["GET"])]

    # -- the guard ------------------------------------------------------------------------------

    async def check(self, request: Request) -> Response | None:
        """None to serve the page; otherwise the response that starts (or refuses) sign-in."""
        if self.open_access or await self._signed_in(request):
            return None
        if self.provider is None:
            return Response("Sign-in is not configured.", status_code=401, media_type="text/plain")
        state, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(48)
        query = {
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": self.redirect_uri,
            "state": state,
            "code_challenge": _challenge(verifier),
            "code_challenge_method": "S256",
            "resource": self.resource,
            "scope": SCOPE,
        }
        response = RedirectResponse(f"{self.base_url}/authorize?{urlencode(query)}", status_code=303)
        back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        flow = ".".join([state, verifier, base64.urlsafe_b64encode(back.encode()).decode()])
        self._cookie(response, FLOW_COOKIE, flow, FLOW_SECONDS)
        return response

    async def _signed_in(self, request: Request) -> bool:
        user = request.scope.get("user")
        if isinstance(user, AuthenticatedUser) and self._good(user.access_token.resource, user.access_token.scopes):
            return True
        token = request.cookies.get(SESSION_COOKIE)
        if not token or self.provider is None:
            return False
        found = await self.provider.load_access_token(token)  # None once expired, revoked or the user removed
        return found is not None and self._good(found.resource, found.scopes)

    def _good(self, resource: str | None, scopes: list[str]) -> bool:
        return canonical_resource(resource or "") == self.resource and SCOPE in scopes

    # -- the callback ---------------------------------------------------------------------------

    async def callback(self, request: Request) -> Response:
        flow = request.cookies.get(FLOW_COOKIE, "").split(".")
        state = request.query_params.get("state", "")
        if len(flow) != 3 or not secrets.compare_digest(flow[0], state):
            return message_page(
                "Sign-in failed", "This sign-in link is stale or was not started here. Open the record link again.", 400
            )
        if "error" in request.query_params or self.provider is None:
            return message_page("Sign-in not completed", "Access to the record was not granted.", 403)
        verifier, back = flow[1], base64.urlsafe_b64decode(flow[2].encode()).decode(errors="replace")
        client = await self.provider.get_client(CLIENT_ID)
        code = (
            await self.provider.load_authorization_code(client, request.query_params.get("code", ""))
            if client is not None
            else None
        )
        if code is None or str(code.redirect_uri) != self.redirect_uri or code.code_challenge != _challenge(verifier):
            return message_page("Sign-in failed", "The sign-in code is invalid or expired. Open the link again.", 400)
        tokens = await self.provider.exchange_authorization_code(client, code)  # type: ignore[arg-type]
        if not back.startswith(self.path + "/"):  # only ever back to a record page: no open redirect
            back = self.path + "/catalog:tables"
        response = RedirectResponse(back, status_code=303)
        self._cookie(response, SESSION_COOKIE, tokens.access_token, tokens.expires_in or 3600)
        response.delete_cookie(FLOW_COOKIE, path=self.path)
        return response

    def _cookie(self, response: Response, name: str, value: str, max_age: int) -> None:
        response.set_cookie(
            name, value, max_age=max_age, path=self.path, httponly=True, secure=self.secure, samesite="lax"
        )


def _challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
