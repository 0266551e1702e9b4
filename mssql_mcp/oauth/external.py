"""AUTH_MODE=external: this server is a pure resource server for the company's own authorization server.

`ExternalVerifier` is the SDK's `TokenVerifier` (mcp.server.auth.provider): the bearer middleware hands it
each access token, and it answers with the token's owner or None (a 401 with the challenge naming our
protected-resource metadata, oauth/guard.py). Two ways, chosen by EXTERNAL_INTROSPECTION:

- JWT (RFC 9068): the signature against the issuer's JWKS (its URL from the issuer's RFC 8414 / OpenID
  metadata), then `iss`, `aud` (must include EXTERNAL_AUDIENCE), `exp` with a small skew, and the scope.
  The key set is cached; a token naming an unknown `kid` refetches it, at most once per KEY_REFETCH_SECONDS,
  so a flood of forged kids cannot turn into a flood of requests to the issuer.
- Introspection (RFC 7662): the issuer is asked, with this server's client credentials, and the answer is
  held for at most EXTERNAL_INTROSPECTION_CACHE_SECONDS (never past the token's own `exp`). A token revoked
  at the issuer therefore keeps working here for up to that many seconds.

JOSE is joserfc's, not hand-written. A person is keyed "oidc:" + issuer + "#" + sub, as with AUTH_MODE=oidc,
so the audit line and the database's session context name them by issuer and subject.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import urlsplit

import httpx2
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from mcp.server.auth.handlers.metadata import ProtectedResourceMetadataHandler
from mcp.server.auth.routes import cors_middleware
from mcp.shared.auth import ProtectedResourceMetadata
from pydantic import AnyHttpUrl
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp

from mssql_mcp.errors import IssuerUnavailable
from mssql_mcp.oauth.clients import canonical_resource
from mssql_mcp.oauth.guard import bearer_protection
from mssql_mcp.oauth.identity import KEY_PREFIX
from mssql_mcp.oauth.routes import resource_metadata_path
from mssql_mcp.oauth.tokens import McpAccessToken
from mssql_mcp.settings import Settings

log = logging.getLogger("mssql_mcp.auth")

SKEW_SECONDS = 60
KEY_REFETCH_SECONDS = 30.0
MAX_TOKEN_CHARS = 16_384
MAX_CACHED = 10_000
HTTP_TIMEOUT = 10.0
# Asymmetric algorithms only: a shared-secret (HS*) or "none" token is never accepted from a JWKS.
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]


class IssuerMetadata:
    """The issuer's metadata document, fetched once (RFC 8414 §3, then OpenID Connect Discovery)."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer.rstrip("/")
        self._doc: dict[str, Any] | None = None

    async def get(self, http: httpx2.AsyncClient) -> dict[str, Any]:
        if self._doc is None:
            parts = urlsplit(self.issuer)
            origin, path = f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/")
            urls = [
                f"{origin}/.well-known/oauth-authorization-server{path}",
                f"{self.issuer}/.well-known/openid-configuration",
            ]
            for url in urls:
                resp = await http.get(url)
                if resp.status_code == 200:
                    doc = resp.json()
                    if isinstance(doc, dict) and doc.get("issuer", "").rstrip("/") == self.issuer:
                        self._doc = doc
                        break
            else:
                raise ValueError(f"no metadata for {self.issuer}")
        return self._doc

    async def endpoint(self, http: httpx2.AsyncClient, name: str) -> str:
        url = (await self.get(http)).get(name)
        if not isinstance(url, str) or not url:
            raise ValueError(f"the issuer's metadata has no {name}")
        return url


class ExternalVerifier:
    def __init__(
        self,
        settings: Settings,
        *,
        audience: str,
        clock: Callable[[], float] = time.time,
        http: httpx2.AsyncClient | None = None,
    ) -> None:
        self.settings = settings
        self.issuer = (settings.external_issuer or "").rstrip("/")
        self.audience = audience
        self.scope = settings.external_required_scope
        self.introspection = settings.external_introspection
        self.client_id = settings.external_client_id or ""
        secret = settings.external_client_secret
        self._client_secret = secret.reveal() if secret is not None else ""
        self.cache_seconds = settings.external_introspection_cache_seconds
        self.clock = clock
        self.metadata = IssuerMetadata(self.issuer)
        self.http = http or httpx2.AsyncClient(timeout=HTTP_TIMEOUT, follow_redirects=False)
        self._keys: KeySet | None = None
        self._refetched_at = float("-inf")  # the last refetch an unknown kid caused
        self._answers: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()

    async def verify_token(self, token: str) -> McpAccessToken | None:
        if not token or len(token) > MAX_TOKEN_CHARS:
            return None
        try:
            claims = await (self._introspect(token) if self.introspection else self._decode(token))
        except (httpx2.HTTPError, ValueError) as exc:
            log.warning("external issuer %s did not answer: %s", self.issuer, type(exc).__name__)
            raise IssuerUnavailable from None
        if claims is None:
            return None
        return self._accept(token, claims)

    # --- JWT ---------------------------------------------------------------------------------

    async def _decode(self, token: str) -> dict[str, Any] | None:
        try:
            decoded = jwt.decode(token, await self._key_set(), algorithms=ALGORITHMS)
        except InvalidKeyIdError:
            if self.clock() - self._refetched_at < KEY_REFETCH_SECONDS:
                return None
            self._refetched_at = self.clock()
            try:  # a key rotated at the issuer since we last looked
                decoded = jwt.decode(token, await self._key_set(refresh=True), algorithms=ALGORITHMS)
            except JoseError:
                return None
        except JoseError:
            return None
        # RFC 9068 §2.1 types JWT access tokens "at+jwt", but Keycloak, Okta and Entra send "JWT" or nothing;
        # a token typed for something else (a logout token, a DPoP proof, ...) is refused. An ID token, also
        # typed "JWT", fails the audience check: its aud is a client id, not this resource.
        typ = str(decoded.header.get("typ", "jwt")).lower()
        if typ not in ("jwt", "at+jwt", "application/at+jwt"):
            return None
        return decoded.claims

    async def _key_set(self, *, refresh: bool = False) -> KeySet:
        if self._keys is None or refresh:
            resp = await self.http.get(await self.metadata.endpoint(self.http, "jwks_uri"))
            resp.raise_for_status()
            self._keys = KeySet.import_key_set(resp.json())
        return self._keys

    # --- introspection (RFC 7662) ------------------------------------------------------------

    async def _introspect(self, token: str) -> dict[str, Any] | None:
        key = hashlib.sha256(token.encode()).hexdigest()
        now = self.clock()
        held = self._answers.get(key)
        if held is not None and held[0] > now:
            return held[1] or None
        url = await self.metadata.endpoint(self.http, "introspection_endpoint")
        resp = await self.http.post(
            url,
            data={"token": token, "token_type_hint": "access_token"},
            auth=(self.client_id, self._client_secret),
            headers={"accept": "application/json"},
        )
        resp.raise_for_status()
        answer = resp.json()
        claims: dict[str, Any] = answer if isinstance(answer, dict) and answer.get("active") is True else {}
        until = now + self.cache_seconds
        if isinstance(claims.get("exp"), int | float):
            until = min(until, float(claims["exp"]))
        if self.cache_seconds > 0:
            self._answers[key] = (until, claims)
            while len(self._answers) > MAX_CACHED:
                self._answers.popitem(last=False)
        return claims or None

    # --- the checks both ways share ----------------------------------------------------------

    def _accept(self, token: str, claims: dict[str, Any]) -> McpAccessToken | None:
        now = self.clock()
        if str(claims.get("iss", "")).rstrip("/") != self.issuer:
            return None
        aud = claims.get("aud")
        audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        if self.audience not in audiences:
            return None
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or exp + SKEW_SECONDS < now:
            return None
        nbf = claims.get("nbf")
        if isinstance(nbf, int | float) and nbf - SKEW_SECONDS > now:
            return None
        scopes = str(claims.get("scope", "")).split()
        if self.scope not in scopes:
            return None
        client_id = str(claims.get("client_id") or claims.get("azp") or "")
        subject = str(claims.get("sub") or client_id)
        if not subject:
            return None
        return McpAccessToken(
            token=token,
            client_id=client_id,
            scopes=scopes,
            expires_at=int(exp),
            resource=self.audience,
            subject=subject,
            claims={"iss": self.issuer},
            username=f"{KEY_PREFIX}{self.issuer}#{subject}",
            family_id="",
        )


# --- the face's side: metadata, middleware, guard ---------------------------------------------


def resource_server(
    settings: Settings, *, issuer: str, prefix: str
) -> tuple[list[BaseRoute], list[Middleware], Callable[[ASGIApp, str], ASGIApp], ExternalVerifier]:
    """What a face serves in external mode: only its protected-resource metadata (RFC 9728), which names
    EXTERNAL_ISSUER and nothing else; no /authorize, /token or /register of its own. `issuer` is this
    face's base URL (PUBLIC_URL + prefix)."""
    external = (settings.external_issuer or "").rstrip("/")
    audience = settings.external_audience or canonical_resource(f"{issuer}/mcp")
    verifier = ExternalVerifier(settings, audience=audience)
    scope = settings.external_required_scope
    resources = (canonical_resource(f"{issuer}/mcp"), canonical_resource(f"{issuer}/sse"))

    def prm(resource: str) -> ASGIApp:
        doc = ProtectedResourceMetadata(
            resource=AnyHttpUrl(resource),
            # The issuer exactly as configured: clients compare it with the issuer's metadata (RFC 8414 §3.3),
            # and AnyHttpUrl would add a trailing slash.
            authorization_servers=[cast(AnyHttpUrl, external)],
            scopes_supported=[scope],
            resource_name="mssql-mcp",
        )
        return cors_middleware(ProtectedResourceMetadataHandler(doc).handle, ["GET", "OPTIONS"])

    routes: list[BaseRoute] = []
    for resource in resources:
        paths = [resource_metadata_path(resource)]
        if prefix:  # the prefix-relative form too, as in routes.py
            paths.append(prefix + "/.well-known/oauth-protected-resource" + urlsplit(resource).path[len(prefix) :])
        routes += [Route(p.rstrip("/"), prm(resource), methods=["GET", "OPTIONS"]) for p in paths]
    roots = [f"/.well-known/oauth-protected-resource{prefix}"] + (
        [f"{prefix}/.well-known/oauth-protected-resource"] if prefix else []
    )
    routes += [Route(root, prm(resources[0]), methods=["GET", "OPTIONS"]) for root in roots]
    # The verifier already required the audience (and the scope); the guard names it too.
    middleware, guard = bearer_protection(verifier, settings, issuer=issuer, scope=scope, audience=audience)

    log.info(
        "resource server for %s (audience %s, %s)",
        external,
        audience,
        "introspection" if settings.external_introspection else "JWT access tokens",
    )
    return routes, middleware, guard, verifier
