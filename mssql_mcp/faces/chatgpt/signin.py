"""The record pages' sign-in: oauth/browser.py's first-party browser client, set up for `{prefix}/records`.

A person who opens a record page from a ChatGPT citation signs in through the same login and consent pages
as every connector; the OAuth client itself, and everything it asks of the authorization server, lives in
oauth/browser.py. With ALLOW_UNAUTH_TOOLS_CALL=true (dev only) the pages are open, as `fetch` itself is.

With AUTH_MODE=external this server has no sign-in of its own: the pages sign in through the company's
authorization server as the confidential client EXTERNAL_CLIENT_ID (oauth/external_pages.py); without that
client they say they are off, and never send a browser to a login that does not exist.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from mssql_mcp.oauth import AuthComponents
from mssql_mcp.oauth.browser import BrowserSignIn
from mssql_mcp.oauth.external_pages import ExternalPageSignIn

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
        self.external: ExternalPageSignIn | None = None
        if auth.external is not None:  # AUTH_MODE=external: the company's server signs people in, if set up
            settings = auth.external.settings
            secret = settings.external_client_secret
            self.external = ExternalPageSignIn(
                auth.external,
                client_id=settings.external_client_id,
                client_secret=secret.reveal() if secret is not None else None,
                cookie=SESSION_COOKIE,
                base_url=base_url,
                prefix=prefix,
                path=f"{prefix}/records",
                home=f"{prefix}/records/catalog:tables",
            )

    async def check(self, request: Request) -> Response | None:
        if self.external is not None and not self.open_access:
            return await self.external.check(request)
        return await super().check(request)

    def routes(self) -> list[BaseRoute]:
        return self.external.routes() if self.external is not None else super().routes()
