"""The record pages' sign-in: oauth/browser.py's first-party browser client, set up for `{prefix}/records`.

A person who opens a record page from a ChatGPT citation signs in through the same login and consent pages
as every connector; the OAuth client itself, and everything it asks of the authorization server, lives in
oauth/browser.py. With ALLOW_UNAUTH_TOOLS_CALL=true (dev only) the pages are open, as `fetch` itself is.
"""

from __future__ import annotations

from mssql_mcp.oauth import AuthComponents
from mssql_mcp.oauth.browser import BrowserSignIn

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
