"""Sign-in through the company's OpenID Provider (AUTH_MODE=oidc): the two routes between our login page
and our consent page, and the check made at every refresh (offboarding).

    GET {prefix}/oidc/start?request=K   303 to the provider (PKCE S256, state, nonce; oidc.py), with the
                                        sign-in's state sealed in a cookie bound to this browser
    GET {prefix}/oidc/callback          state checked against the cookie, code redeemed, ID token validated,
                                        the person checked (identity.py) and recorded, their provider tokens
                                        sealed and stored; then 303 to /consent, as after a password

The callback URL (PUBLIC_URL + prefix + /oidc/callback) is what the operator registers at the provider.
Every refusal is a page that says why, with no code issued; nothing from the provider reaches a page but a
short reason. The cookie is sealed with a key derived from the store's server key (Fernet: encrypted and
authenticated, with its age checked), so a browser can neither read the nonce nor forge a state.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from base64 import urlsafe_b64encode
from collections.abc import Callable
from urllib.parse import urlencode

from cryptography.fernet import Fernet, InvalidToken
from mcp.server.auth.provider import TokenError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from mssql_mcp.logs import event
from mssql_mcp.oauth.csrf import Csrf
from mssql_mcp.oauth.identity import IdentityRules, Person, Refused, is_person_key
from mssql_mcp.oauth.oidc import Flow, Upstream, UpstreamRejected, UpstreamUnavailable
from mssql_mcp.oauth.provider import Provider
from mssql_mcp.oauth.store import PersonRecord, digest
from mssql_mcp.oauth.upstream_tokens import TokenVault
from mssql_mcp.web import message_page

log = logging.getLogger("mssql_mcp.auth")

ASSERTION_MARGIN = 120  # seconds: an upstream access token closer to expiry than this is refreshed before use
FLOW_SECONDS = 600  # a sign-in at the provider that takes longer than 10 minutes starts again
TITLE = "Sign-in"
EXPIRED = "This sign-in request has expired or was already used. Go back to the application and connect again."
NOT_HERE = (
    "This answer from the identity provider does not belong to a sign-in started in this browser (state "
    "mismatch), or it came too late. Go back to the application and connect again."
)
BLOCKED = "Your access to this server was removed by an operator. Ask them to allow you again."


class UpstreamSignIn:
    def __init__(
        self,
        provider: Provider,
        upstream: Upstream,
        rules: IdentityRules,
        vault: TokenVault,
        csrf: Csrf,
        *,
        issuer: str,
        prefix: str,
        server_key: bytes,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.provider = provider
        self.upstream = upstream
        self.rules = rules
        self.vault = vault
        self.csrf = csrf
        self.prefix = prefix
        self.clock = clock
        self.start_path = f"{prefix}/oidc/start"
        self.callback_path = f"{prefix}/oidc/callback"
        self.redirect_uri = issuer + "/oidc/callback"  # the issuer already ends with the prefix
        self.cookie = "mssql_mcp_oidc"
        self.secure = issuer.startswith("https://")
        flow_key = hmac.new(server_key, b"mssql-mcp oidc flow cookie", hashlib.sha256).digest()
        self._sealer = Fernet(urlsafe_b64encode(flow_key))
        provider.still_allowed = self.still_allowed

    def routes(self) -> list[BaseRoute]:
        return [
            Route(self.start_path, self.start, methods=["GET"]),
            Route(self.callback_path, self.callback, methods=["GET"]),
        ]

    def start_url(self, key: str) -> str:
        return f"{self.start_path}?{urlencode({'request': key})}"

    # -- the way out ----------------------------------------------------------------------------
    async def start(self, request: Request) -> Response:
        key = request.query_params.get("request", "")
        if await self.provider.pending(key) is None:
            return message_page(TITLE, EXPIRED, status=400)
        try:
            url, flow = await self.upstream.start(self.redirect_uri)
        except UpstreamUnavailable as exc:
            return message_page(TITLE, exc.message, status=502)
        browser, new = self.csrf.browser(request)
        sealed = self._sealer.encrypt(
            json.dumps({"s": flow.state, "n": flow.nonce, "v": flow.verifier, "r": key, "b": digest(browser)}).encode()
        ).decode()
        response = RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})
        # SameSite=Lax: the provider brings the browser back with a top-level GET, which carries it.
        response.set_cookie(
            self.cookie,
            sealed,
            max_age=FLOW_SECONDS,
            path=self.callback_path,
            httponly=True,
            secure=self.secure,
            samesite="lax",
        )
        if new:
            self.csrf.set_cookie(response, browser)
        return response

    # -- the way back ---------------------------------------------------------------------------
    async def callback(self, request: Request) -> Response:
        response = await self._callback(request)
        response.delete_cookie(self.cookie, path=self.callback_path)  # a flow is used once, whatever came of it
        return response

    async def _callback(self, request: Request) -> Response:
        query = request.query_params
        saved = self._open(request.cookies.get(self.cookie, ""))
        browser = request.cookies.get(self.csrf.cookie_name, "")
        if saved is None or not hmac.compare_digest(saved.get("s", ""), query.get("state", "")):
            event(log, "oidc_refused", level=logging.WARNING, cause="state")
            return message_page(TITLE, NOT_HERE, status=400)
        if not browser or not hmac.compare_digest(saved.get("b", ""), digest(browser)):
            event(log, "oidc_refused", level=logging.WARNING, cause="browser")
            return message_page(TITLE, NOT_HERE, status=400)
        if "error" in query:
            code = re.sub(r"[^a-z_]", "", query.get("error", ""))[:40] or "error"
            event(log, "oidc_refused", level=logging.WARNING, cause="provider", error=code)
            return message_page(TITLE, f"The identity provider did not sign you in ({code}).", status=403)
        key = saved.get("r", "")
        if await self.provider.pending(key) is None:
            return message_page(TITLE, EXPIRED, status=400)
        flow = Flow(saved.get("s", ""), saved.get("n", ""), saved.get("v", ""))
        try:
            claims, tokens = await self.upstream.finish(query.get("code", ""), flow, self.redirect_uri)
            person = self.rules.person(claims)
        except UpstreamUnavailable as exc:
            return message_page(TITLE, exc.message, status=502)
        except UpstreamRejected as exc:
            event(log, "oidc_refused", level=logging.WARNING, cause=exc.cause)
            return message_page(TITLE, exc.message, status=403)
        except Refused as exc:
            sub, iss, email = claims.get("sub"), claims.get("iss"), claims.get("email")
            event(log, "oidc_refused", level=logging.WARNING, cause=exc.cause, subject=sub, email=email, issuer=iss)
            return message_page("Access refused", exc.message, status=403)
        known = await self.provider.person(person.key)
        if known is not None and known.blocked_at is not None:
            event(log, "oidc_refused", level=logging.WARNING, cause="blocked", user=person.key)
            return message_page("Access refused", BLOCKED, status=403)
        await self._record(person, known, tokens)
        await self.provider.mark_signed_in(key, person.key, browser)
        event(
            log,
            "login_ok",
            user=person.key,
            subject=person.subject,
            email=person.email,
            issuer=person.issuer,
            groups=len(person.groups),
            source="oidc",
        )
        return RedirectResponse(f"{self.prefix}/consent?{urlencode({'request': key})}", status_code=303)

    def _open(self, cookie: str) -> dict[str, str] | None:
        if not cookie:
            return None
        try:
            value = json.loads(self._sealer.decrypt(cookie.encode(), ttl=FLOW_SECONDS))
        except (InvalidToken, ValueError):
            return None
        return value if isinstance(value, dict) else None

    async def _record(self, person: Person, known: PersonRecord | None, tokens: dict[str, object]) -> None:
        now = self.clock()
        record = PersonRecord(
            key=person.key,
            issuer=person.issuer,
            subject=person.subject,
            email=person.email,
            name=person.name,
            groups=person.groups,
            created_at=known.created_at if known is not None else now,
            seen_at=now,
            upstream=self.vault.seal(_kept(tokens)),
        )
        await self.provider.save_person(record)

    # -- offboarding ----------------------------------------------------------------------------
    async def still_allowed(self, username: str) -> bool:
        """Asked by the provider before it honours one of our refresh tokens. A local user (break-glass,
        LOCAL_PASSWORDS) is not the identity provider's to judge. A person passes only if the provider
        still accepts their refresh token: disabled, deleted or revoked at the company means refused here."""
        if not is_person_key(username):
            return True
        person = await self.provider.person(username)
        if person is None or person.blocked_at is not None:
            return False
        saved = self.vault.open(person.upstream)
        refresh_token = saved.get("refresh_token") if saved else None
        if not isinstance(refresh_token, str):
            # Nothing to ask the provider with (no offline_access, or a key dropped too soon): refusing
            # makes the person sign in again, which asks the provider.
            event(log, "upstream_refresh_missing", level=logging.WARNING, user=username)
            return False
        try:
            granted = saved.get("scope") if saved else None
            tokens = await self.upstream.refresh(refresh_token, granted if isinstance(granted, str) else None)
        except UpstreamUnavailable:
            # Not a refusal: nothing is revoked and our refresh token is not used up, so the client may try
            # again; but no new token is issued while the provider cannot be asked.
            raise TokenError(
                "invalid_request", "the identity provider could not be reached; try again shortly"
            ) from None
        if tokens is None:
            return False
        if "id_token" in tokens and not await self._still_passes(username, tokens):
            return False
        if "refresh_token" not in tokens:
            tokens["refresh_token"] = refresh_token
        await self.provider.save_upstream_tokens(username, self.vault.seal(_kept(tokens)))
        return True

    async def assertion(self, person: PersonRecord) -> str | None:
        """The person's access token from the identity provider, which DB_IDENTITY=entra_obo presents in its
        on-behalf-of exchange. One that expires within ASSERTION_MARGIN seconds is refreshed first, and that
        refresh is the offboarding check too: refused, the person's tokens are revoked (which closes their
        database connections) and None is returned. Unreachable: the stored token is returned as it is."""
        saved = self.vault.open(person.upstream)
        token, expires = (saved.get("access_token"), saved.get("expires_at")) if saved else (None, None)
        if isinstance(token, str) and isinstance(expires, int | float) and expires - self.clock() > ASSERTION_MARGIN:
            return token
        try:
            allowed = await self.still_allowed(person.key)
        except TokenError:
            return token if isinstance(token, str) else None
        if not allowed:
            await self.provider.revoke_person(person.key)
            event(log, "upstream_refused", level=logging.WARNING, user=person.key, at="on_behalf_of")
            return None
        fresh = await self.provider.person(person.key)
        saved = self.vault.open(fresh.upstream if fresh is not None else None)
        token = saved.get("access_token") if saved else None
        return token if isinstance(token, str) else None

    async def _still_passes(self, username: str, tokens: dict[str, object]) -> bool:
        """A refresh that brought a new ID token: the person must still pass the rules on its claims (a group
        removed at the provider shows here, even while the session itself is still valid)."""
        try:
            person = self.rules.person(await self.upstream.id_token_claims(dict(tokens), None))
        except UpstreamUnavailable:
            raise TokenError(
                "invalid_request", "the identity provider could not be reached; try again shortly"
            ) from None
        except UpstreamRejected:
            return False
        except Refused as exc:
            event(log, "oidc_refused", level=logging.WARNING, cause=exc.cause, user=username, at="refresh")
            return False
        return person.key == username


def _kept(tokens: dict[str, object]) -> dict[str, object]:
    """The provider's tokens worth keeping: the refresh token (offboarding) and the access token with its
    expiry (an on-behalf-of exchange presents it); not the ID token, which was only needed once."""
    return {k: tokens[k] for k in ("refresh_token", "access_token", "expires_at", "scope") if k in tokens}
