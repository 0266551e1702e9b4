"""Sign-in for pages a person opens in a browser (the ChatGPT face's record pages): the same people, login
page and tokens as the MCP endpoints.

A person who follows a citation link has a browser, not a bearer token. So those pages are a first-party
OAuth client of the face's own authorization server, and go through the same flow a connector does
(OAuth 2.1 authorization code + PKCE S256, RFC 7636):

    GET {path}/<anything>            no valid session: 303 to {issuer}/authorize (state, PKCE)
    ...                              the same /login and /consent pages as every client
    GET {path}/_signin/callback      code + state checked, code redeemed in-process, cookie set,
                                     303 back to the page

The session cookie holds the access token (HttpOnly, SameSite=Lax, Secure on https, Path={path}), and every
page load checks it with the provider, so expiry, revocation and `mssql-mcp users remove` apply at once.
A request that carries a valid bearer token for this face (an API client) is served as well. With
`open_access` (ALLOW_UNAUTH_TOOLS_CALL=true, dev only) the pages are open, as the tools are.
Everything that touches the authorization server goes through `Provider` methods.
"""

from __future__ import annotations

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mssql_mcp.oauth.clients import canonical_resource
from mssql_mcp.oauth.page_flow import PageFlow, Returned
from mssql_mcp.oauth.provider import SCOPE, Provider
from mssql_mcp.web import message_page


class BrowserSignIn:
    """The guard (`check`) of the pages under `path`, and their OAuth callback route (`routes`).

    `base_url` is the face's issuer (its public URL with its prefix); `path` is where the pages live
    (for instance "/chatgpt/records"), and `home` the page to land on when the way back is not one of them.
    The client is registered as `client_id` and shown as `client_name` on the consent page; `cookie` names
    the session cookie (the sign-in in progress uses `{cookie}_flow`).
    """

    def __init__(
        self,
        provider: Provider | None,
        *,
        client_id: str,
        client_name: str,
        cookie: str,
        base_url: str,
        prefix: str,
        path: str,
        home: str,
        open_access: bool,
    ) -> None:
        self.provider = provider
        self.client_id = client_id
        self.base_url = base_url
        self.flow = PageFlow(cookie=cookie, base_url=base_url, prefix=prefix, path=path, home=home)
        self.resource = canonical_resource(f"{base_url}/mcp")
        self.open_access = open_access
        if provider is not None:
            # Our own client: not a third party asking to register, and its redirect (this server's
            # public URL) need not be on ALLOWED_REDIRECT_HOSTS.
            provider.register_first_party(client_id, client_name, self.flow.redirect_uri)

    def routes(self) -> list[BaseRoute]:
        return [Route(self.flow.callback_path, self.callback, methods=["GET"])]

    # -- the guard ------------------------------------------------------------------------------

    async def check(self, request: Request) -> Response | None:
        """None to serve the page; otherwise the response that starts (or refuses) sign-in."""
        if self.open_access or await self._signed_in(request):
            return None
        if self.provider is None:
            return Response("Sign-in is not configured.", status_code=401, media_type="text/plain")
        endpoint = f"{self.base_url}/authorize"
        return self.flow.start(request, endpoint, client_id=self.client_id, resource=self.resource, scope=SCOPE)

    async def _signed_in(self, request: Request) -> bool:
        user = request.scope.get("user")
        if isinstance(user, AuthenticatedUser) and self._good(user.access_token.resource, user.access_token.scopes):
            return True
        token = request.cookies.get(self.flow.session_cookie)
        if not token or self.provider is None:
            return False
        found = await self.provider.load_access_token(token)  # None once expired, revoked or the user removed
        if found is None or not self._good(found.resource, found.scopes):
            return False
        # The page then runs as this person, as a tool call with this token would (their share, their identity).
        request.scope["user"] = AuthenticatedUser(found)
        return True

    def _good(self, resource: str | None, scopes: list[str]) -> bool:
        return canonical_resource(resource or "") == self.resource and SCOPE in scopes

    # -- the callback ---------------------------------------------------------------------------

    async def callback(self, request: Request) -> Response:
        returned = self.flow.returned(request)
        if not isinstance(returned, Returned):
            return returned
        if self.provider is None:
            return message_page("Sign-in not completed", "Access to the record was not granted.", status=403)
        tokens = await self.provider.redeem_code(
            self.client_id, returned.code, redirect_uri=self.flow.redirect_uri, verifier=returned.verifier
        )
        if tokens is None:
            return message_page(
                "Sign-in failed", "The sign-in code is invalid or expired. Open the link again.", status=400
            )
        return self.flow.land(returned.back, tokens.access_token, tokens.expires_in or 3600)
