"""The SDK's `OAuthAuthorizationServerProvider`, backed by an `OAuthStore`.

The SDK's handlers parse and validate every request (PKCE S256, redirect_uri equality, client
authentication, expiry); this class decides who and what: which redirect hosts may register, which
resource a token is bound to, that codes and refresh tokens are single-use, and what a replay revokes.
`authorize()` does not approve anything: it parks the request and sends the browser to our login page
(login.py), which later calls `issue_code()`. Tool calls read people through `people`, kept briefly.
Every store call runs on the store's own thread (`_run()`), never on the event loop: a store read is quick,
but a write may wait on another process's lock (the other face, `mssql-mcp users`), up to the busy timeout.
The store and that thread are private: the login pages and the record pages' sign-in use methods below.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TypeVar
from urllib.parse import urlencode

from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationParams,
    AuthorizeError,
    OAuthAuthorizationServerProvider,
    RegistrationError,
    TokenError,
    construct_redirect_uri,
)
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from pydantic import AnyUrl

from mssql_mcp.logs import event
from mssql_mcp.oauth import side_channel
from mssql_mcp.oauth.clients import SCOPE as SCOPE  # re-exported: the scope every token carries
from mssql_mcp.oauth.clients import ClientPolicy, canonical_resource, first_party
from mssql_mcp.oauth.people_cache import PersonCache
from mssql_mcp.oauth.store import (
    ClientRecord,
    CodeRecord,
    OAuthStore,
    PendingRecord,
    PersonRecord,
    TokenRecord,
    digest,
    new_secret,
)
from mssql_mcp.oauth.tokens import McpAccessToken, McpAuthorizationCode, McpRefreshToken, TokenPolicy, pkce_challenge
from mssql_mcp.workers import WorkerPool

log = logging.getLogger("mssql_mcp.auth")
T = TypeVar("T")

CODE_TTL = 300.0  # codes live 5 minutes (RFC 6749 §4.2.1 recommends at most 10)
PENDING_TTL = 900.0  # time a person has to sign in and consent
PURGE_EVERY = 3600.0  # expired rows are dropped at most this often (and at start)


class Provider(OAuthAuthorizationServerProvider[McpAuthorizationCode, McpRefreshToken, McpAccessToken]):
    """Also the bearer middleware's TokenVerifier (`verify_token`)."""

    def __init__(
        self, store: OAuthStore, clients: ClientPolicy, policy: TokenPolicy, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._store = store
        self.clients = clients
        self.policy = policy
        self.clock = clock
        self.login_url = f"{policy.issuer}/login"
        self._purged_at = clock()
        self._io = WorkerPool(1, name="oauth-store")  # one thread: the store serialises its calls anyway
        # AUTH_MODE=oidc: asked at each refresh if the person may still pass; False revokes. None: local users.
        self.still_allowed: Callable[[str], Awaitable[bool]] | None = None
        self.people = PersonCache(self.person)
        self.on_revoked: list[Callable[[str], Awaitable[None]]] = []  # told the person whose tokens were revoked

    async def _run(self, fn: Callable[[], T]) -> T:
        """Run a store call off the event loop."""
        return await self._io.run(fn)

    def close(self) -> None:
        self._io.close()

    # -- clients --------------------------------------------------------------------------------
    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        record = await self._run(lambda: self._store.get_client(client_id))
        if record is None:
            return await self.clients.metadata_document(client_id)
        info = OAuthClientInformationFull.model_validate_json(record.info_json)
        if record.secret_hash is not None:
            # The SDK compares client_secret in clear; we keep only a digest. Hand it the presented
            # secret when it matches, else a fresh random value that nothing presented can equal.
            shown = side_channel.presented_secret()
            ok = shown is not None and secrets.compare_digest(digest(shown), record.secret_hash)
            info = info.model_copy(update={"client_secret": shown if ok else new_secret()})
        return info

    def register_first_party(self, client_id: str, name: str, redirect_uri: str) -> None:
        """This server's own browser client (oauth/browser.py), saved as it is: it is not a third party asking
        to register, so the redirect policy does not apply. Called once while the app is built, before the
        event loop serves anything, hence straight to the store."""
        info = first_party(client_id, name, redirect_uri)
        self._store.save_client(ClientRecord(client_id, info.model_dump_json(exclude_none=True), None, self.clock()))

    def derived_key(self, purpose: str) -> bytes:
        """A key for `purpose` (e.g. signing the ChatGPT face's record ids), derived from the store's server key
        (HMAC-SHA256 as a PRF, one label per purpose), so every replica sharing the store derives the same one.
        Called while the app is built, hence straight to the store."""
        return hmac.new(self._store.server_key(), f"mssql-mcp {purpose}".encode(), hashlib.sha256).digest()

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        problem = self.clients.check_redirects(client_info.redirect_uris or [])
        if problem:
            raise RegistrationError("invalid_redirect_uri", problem)
        secret = client_info.client_secret
        stored = client_info.model_copy(update={"client_secret": None})
        record = ClientRecord(
            client_id=client_info.client_id or "",
            info_json=stored.model_dump_json(exclude_none=True),
            secret_hash=digest(secret) if secret else None,
            created_at=self.clock(),
            dynamic=True,  # counted against, and purged by, the registration limits (registration.py)
        )
        await self._run(lambda: self._store.save_client(record))
        event(
            log,
            "client_registered",
            client=client_info.client_id,
            client_name=client_info.client_name,
            redirects=",".join(str(u) for u in client_info.redirect_uris or []),
            auth_method=client_info.token_endpoint_auth_method,
        )

    # -- authorization --------------------------------------------------------------------------
    async def authorize(self, client: OAuthClientInformationFull, params: AuthorizationParams) -> str:
        resource = self._resource_for(params.resource)
        if resource is None:
            raise AuthorizeError("invalid_target", "resource is not an MCP endpoint of this server")
        params = params.model_copy(update={"resource": resource, "scopes": [SCOPE]})
        key = new_secret()
        pending = PendingRecord(
            key_hash=digest(key),
            client_id=client.client_id or "",
            params_json=params.model_dump_json(),
            expires_at=self.clock() + PENDING_TTL,
        )
        await self._run(lambda: self._store.save_pending(pending))
        return f"{self.login_url}?{urlencode({'request': key})}"

    async def pending(self, key: str) -> tuple[PendingRecord, AuthorizationParams] | None:
        record = await self._run(lambda: self._store.get_pending(digest(key)))
        if record is None or record.expires_at < self.clock():
            return None
        return record, AuthorizationParams.model_validate_json(record.params_json)

    async def mark_signed_in(self, key: str, username: str, browser: str) -> None:
        """The login page's success: the pending request now names the person and the browser that signed in."""
        await self._run(lambda: self._store.mark_pending_signed_in(digest(key), username, digest(browser)))

    async def take_pending(self, key: str) -> bool:
        """Remove a pending request for good (consent is given once); False if it was already gone."""
        return await self._run(lambda: self._store.take_pending(digest(key))) is not None

    async def issue_code(self, client_id: str, username: str, params: AuthorizationParams) -> str:
        """The consent page's approval: the redirect URL carrying a fresh code, state and iss (RFC 9207)."""
        code = new_secret()
        record = CodeRecord(
            code_hash=digest(code),
            client_id=client_id,
            username=username,
            scopes=tuple(params.scopes or [SCOPE]),
            code_challenge=params.code_challenge,
            redirect_uri=str(params.redirect_uri),
            redirect_uri_explicit=params.redirect_uri_provided_explicitly,
            resource=params.resource or self.policy.resources[0],
            expires_at=self.clock() + CODE_TTL,
            family_id=uuid.uuid4().hex,
        )
        await self._run(lambda: self._store.save_code(record))
        event(log, "consent_granted", user=username, client=client_id, resource=params.resource)
        return construct_redirect_uri(str(params.redirect_uri), code=code, state=params.state, iss=self.policy.issuer)

    def deny_url(self, params: AuthorizationParams) -> str:
        return construct_redirect_uri(
            str(params.redirect_uri),
            error="access_denied",
            error_description="The user denied access.",
            state=params.state,
            iss=self.policy.issuer,
        )

    # -- codes ----------------------------------------------------------------------------------
    async def load_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: str
    ) -> McpAuthorizationCode | None:
        rec = await self._run(lambda: self._store.get_code(digest(authorization_code)))
        # A code is this client's, and this issuer's: the other face shares the store, not the grants.
        if rec is None or rec.client_id != client.client_id or rec.resource not in self.policy.resources:
            return None
        if rec.used_at is not None:
            await self._replayed("code_replayed", rec.family_id, rec.client_id, rec.username)
            return None
        if rec.expires_at < self.clock():
            return None
        return McpAuthorizationCode(
            code=authorization_code,
            scopes=list(rec.scopes),
            expires_at=rec.expires_at,
            client_id=rec.client_id,
            code_challenge=rec.code_challenge,
            redirect_uri=AnyUrl(rec.redirect_uri),
            redirect_uri_provided_explicitly=rec.redirect_uri_explicit,
            resource=rec.resource,
            subject=rec.username,
            username=rec.username,
            family_id=rec.family_id,
        )

    async def exchange_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: McpAuthorizationCode
    ) -> OAuthToken:
        code = authorization_code
        self._check_requested_resource(code.resource or "")
        # Codes are single-use (RFC 6749 §4.1.2): a second redemption revokes what the first obtained.
        if not await self._run(lambda: self._store.use_code(digest(code.code), self.clock())):
            await self._replayed("code_replayed", code.family_id, code.client_id, code.username)
            raise TokenError("invalid_grant", "authorization code was already used")
        event(
            log,
            "tokens_issued",
            user=code.username,
            client=code.client_id,
            grant="authorization_code",
            resource=code.resource,
        )
        return await self._issue(code.client_id, code.username, code.scopes, code.resource or "", code.family_id)

    async def redeem_code(self, client_id: str, code: str, *, redirect_uri: str, verifier: str) -> OAuthToken | None:
        """A first-party client's callback redeems its code in-process, with the checks /token makes for a
        public client (the code is this client's, same redirect_uri, PKCE S256) and the same exchange."""
        client = await self.get_client(client_id)
        found = await self.load_authorization_code(client, code) if client is not None else None
        if client is None or found is None:
            return None
        if str(found.redirect_uri) != redirect_uri or not secrets.compare_digest(
            found.code_challenge, pkce_challenge(verifier)
        ):
            return None
        try:
            return await self.exchange_authorization_code(client, found)
        except TokenError:  # redeemed meanwhile by a second callback
            return None

    # -- refresh tokens -------------------------------------------------------------------------
    async def load_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: str
    ) -> McpRefreshToken | None:
        rec = await self._run(lambda: self._store.get_token(digest(refresh_token)))
        if rec is None or rec.kind != "refresh" or rec.client_id != client.client_id or rec.revoked_at is not None:
            return None
        if rec.resource not in self.policy.resources:  # issued by the other face: not redeemable here
            return None
        if rec.used_at is not None:
            # A rotated refresh token came back: someone holds a copy (OAuth 2.1 §4.3.1). Revoke the family.
            await self._replayed("refresh_reused", rec.family_id, rec.client_id, rec.username)
            return None
        if rec.expires_at < self.clock():
            return None
        return McpRefreshToken(
            token=refresh_token,
            client_id=rec.client_id,
            scopes=list(rec.scopes),
            expires_at=int(rec.expires_at),
            resource=rec.resource,
            subject=rec.username,
            username=rec.username,
            family_id=rec.family_id,
        )

    async def exchange_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: McpRefreshToken, scopes: list[str]
    ) -> OAuthToken:
        rt = refresh_token
        self._check_requested_resource(rt.resource or "")
        if self.still_allowed is not None and not await self.still_allowed(rt.username):
            # Checked before the token is rotated: a refusal ends the grant; revoking every token of the
            # person makes their access end with the current access token at the latest.
            n = await self.revoke_person(rt.username)
            event(log, "upstream_refused", level=logging.WARNING, user=rt.username, client=rt.client_id, revoked=n)
            raise TokenError("invalid_grant", "the identity provider no longer signs this person in")
        if not await self._run(lambda: self._store.use_refresh(digest(rt.token), self.clock())):
            await self._replayed("refresh_reused", rt.family_id, rt.client_id, rt.username)
            raise TokenError("invalid_grant", "refresh token was already used")
        event(log, "tokens_issued", user=rt.username, client=rt.client_id, grant="refresh_token", resource=rt.resource)
        return await self._issue(rt.client_id, rt.username, scopes or rt.scopes, rt.resource or "", rt.family_id)

    # -- access tokens and revocation -----------------------------------------------------------
    async def load_access_token(self, token: str) -> McpAccessToken | None:
        if len(token) > 512:
            return None
        rec = await self._run(lambda: self._store.get_token(digest(token)))
        if rec is None or rec.kind != "access" or rec.revoked_at is not None or rec.expires_at < self.clock():
            return None
        return McpAccessToken(
            token=token,
            client_id=rec.client_id,
            scopes=list(rec.scopes),
            expires_at=int(rec.expires_at),
            resource=rec.resource,
            subject=rec.username,
            claims={"iss": self.policy.issuer},
            username=rec.username,
            family_id=rec.family_id,
        )

    async def verify_token(self, token: str) -> AccessToken | None:
        return await self.load_access_token(token)

    async def revoke_token(self, token: McpAccessToken | McpRefreshToken) -> None:
        # RFC 7009 §2.1: revoking either token of a grant revokes the grant's other tokens too.
        n = await self.revoke_person(token.username, token.family_id)
        event(log, "tokens_revoked", user=token.username, client=token.client_id, count=n)

    # -- people from the identity provider (AUTH_MODE=oidc; the rules are in identity.py) ----------
    async def person(self, key: str) -> PersonRecord | None:
        return await self._run(lambda: self._store.get_person(key))

    async def save_person(self, record: PersonRecord) -> None:
        await self._run(lambda: self._store.save_person(record))
        self.people.forget(record.key)

    async def save_upstream_tokens(self, key: str, sealed: str | None) -> None:
        await self._run(lambda: self._store.save_upstream_tokens(key, sealed))

    # -- helpers --------------------------------------------------------------------------------
    def _resource_for(self, requested: str | None) -> str | None:
        if requested is None:  # a client that names no resource gets this face's main endpoint
            return self.policy.resources[0]
        resource = canonical_resource(requested)
        return resource if resource in self.policy.resources else None

    def _check_requested_resource(self, bound: str) -> None:
        requested = side_channel.requested_resource()
        # RFC 8707 §2.2: the resource at the token endpoint must be one the grant was issued for.
        if requested is not None and canonical_resource(requested) != bound:
            raise TokenError("invalid_target", "resource differs from the one authorized")

    async def _issue(self, client_id: str, username: str, scopes: list[str], resource: str, family: str) -> OAuthToken:
        now = self.clock()
        purge = now - self._purged_at > PURGE_EVERY
        if purge:
            self._purged_at = now
        access, refresh = new_secret(), new_secret()
        record = TokenRecord(
            token_hash=digest(access),
            kind="access",
            client_id=client_id,
            username=username,
            scopes=tuple(scopes),
            resource=resource,
            expires_at=now + self.policy.access_ttl,
            family_id=family,
            created_at=now,
        )
        refresh_record = replace(
            record, token_hash=digest(refresh), kind="refresh", expires_at=now + self.policy.refresh_ttl
        )

        def write() -> None:
            if purge:
                self._store.purge(now)
            self._store.save_token(record)
            self._store.save_token(refresh_record)

        await self._run(write)
        return OAuthToken(
            access_token=access,
            token_type="Bearer",
            expires_in=self.policy.access_ttl,
            refresh_token=refresh,
            scope=" ".join(scopes),
        )

    async def _replayed(self, what: str, family: str, client_id: str, username: str) -> None:
        n = await self.revoke_person(username, family)
        event(log, what, level=logging.WARNING, user=username, client=client_id, revoked=n)

    async def revoke_person(self, username: str, family: str | None = None) -> int:
        """Revoke one grant (`family`) or all of a person's tokens, then tell `on_revoked` (db connections close)."""
        now = self.clock()
        revoke = self._store.revoke_family if family else self._store.revoke_user
        n = await self._run(lambda: revoke(family or username, now))
        for hook in self.on_revoked:
            await hook(username)
        return n
