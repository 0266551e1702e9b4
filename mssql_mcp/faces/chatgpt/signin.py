"""The record pages' sign-in: oauth/browser.py's first-party browser client, set up for `{prefix}/records`.

A person who opens a record page from a ChatGPT citation signs in through the same login and consent pages
as every connector; the OAuth client itself, and everything it asks of the authorization server, lives in
oauth/browser.py. With ALLOW_UNAUTH_TOOLS_CALL=true (dev only) the pages are open, as `fetch` itself is.

With AUTH_MODE=external this server has no sign-in of its own, so the pages are off: they say so, and serve
only a request that carries a valid access token; they never send a browser to a login that does not exist.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from mssql_mcp.oauth import AuthComponents
from mssql_mcp.oauth.browser import BrowserSignIn
from mssql_mcp.web import message_page

CLIENT_ID = "mssql-mcp-record-pages"
CLIENT_NAME = "Record pages of this server (ChatGPT citations)"
SESSION_COOKIE = "mssql_mcp_records"


class RecordSignIn(BrowserSignIn):
    def __init__(self, auth: AuthComponents, *, base_url: str, prefix: str, open_access: bool) -> None:
        super().__init__(
            auth.provider,
            client_id=CLIENT_ID,
            client_name=CLIENT_NAME,
            cookie=SESSION_COOKIE,
            base_url=base_url,
            prefix=prefix,
            path=f"{prefix}/records",
            home=f"{prefix}/records/catalog:tables",
            open_access=open_access,
        )

    async def check(self, request: Request) -> Response | None:
        if self.provider is None and not self.open_access and not await self._signed_in(request):
            return message_page(
                "Record pages are off",
                "This server accepts only access tokens from the company's authorization server, and these pages "
                "have no sign-in of their own in that mode. The records stay available through the connector.",
                status=403,
            )
        return await super().check(request)
