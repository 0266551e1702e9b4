"""The upstream OpenID Provider, through authlib's Starlette OAuth client (AUTH_MODE=oidc).

authlib does the protocol: discovery (the issuer's /.well-known/openid-configuration, read once), the
authorization URL with PKCE S256, `state` and `nonce`, the code exchange, and the ID token's validation:
its signature against the provider's JWKS (fetched once, fetched again when a token names a key id it
does not know, which is how a key rotation is followed), `iss`, `aud`, `exp`/`iat` with LEEWAY seconds of
clock skew, `nonce`, `azp` and `at_hash`. No JOSE is written here.

authlib's own state keeping lives in a server-side session; we keep a sign-in's state, nonce and PKCE
verifier in a sealed cookie instead (oidc_pages.py), so this module gets and returns them as a `Flow`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import httpx2
from authlib.integrations.base_client import OAuthError
from authlib.integrations.starlette_client import OAuth
from authlib.oauth2 import OAuth2Error
from joserfc.errors import JoseError

from mssql_mcp.errors import MssqlMcpError
from mssql_mcp.settings import Settings

log = logging.getLogger("mssql_mcp.auth")

LEEWAY = 60  # seconds of clock skew allowed on exp/iat (OpenID Connect Core §3.1.3.7 leaves it to us)
TIMEOUT = 10.0  # seconds for any one request to the provider


class UpstreamUnavailable(MssqlMcpError):
    """The provider could not be reached, or answered with something other than OAuth."""


class UpstreamRejected(MssqlMcpError):
    """The provider refused (an error response, or a bad ID token); `cause` names it for the log."""

    def __init__(self, cause: str, message: str) -> None:
        super().__init__(message)
        self.cause = cause


@dataclass(frozen=True)
class Flow:
    state: str
    nonce: str
    verifier: str


class Upstream:
    def __init__(self, settings: Settings) -> None:
        issuer = (settings.oidc_issuer or "").rstrip("/")
        self.issuer = issuer
        self.client_id = settings.oidc_client_id or ""
        secret = settings.oidc_client_secret.reveal() if settings.oidc_client_secret else None
        oauth = OAuth()
        # Google has no offline_access scope: it issues a refresh token for access_type=offline, and only on a
        # consent prompt (Google's "Using OAuth 2.0 for Web Server Applications").
        google = issuer in ("https://accounts.google.com", "accounts.google.com")
        self._app: Any = oauth.register(
            "upstream",
            client_id=self.client_id,
            client_secret=secret,
            authorize_params={"access_type": "offline", "prompt": "consent"} if google else None,
            server_metadata_url=f"{issuer}/.well-known/openid-configuration",
            client_kwargs={
                "scope": settings.oidc_scopes,
                "code_challenge_method": "S256",
                "timeout": TIMEOUT,
                # A public client (no secret) authenticates with its client_id alone, PKCE doing the rest.
                "token_endpoint_auth_method": "client_secret_basic" if secret else "none",
            },
        )

    async def start(self, redirect_uri: str) -> tuple[str, Flow]:
        """The provider's authorization URL for a new sign-in, and what the callback must check it against."""
        try:
            rv = await self._app.create_authorization_url(redirect_uri)
        except (httpx2.HTTPError, ValueError, KeyError, RuntimeError) as exc:
            raise self._unavailable("discovery", exc) from None
        return rv["url"], Flow(rv["state"], rv["nonce"], rv["code_verifier"])

    async def finish(self, code: str, flow: Flow, redirect_uri: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """Redeem the code and validate the ID token: (its claims, the token response)."""
        try:
            token: dict[str, Any] = await self._app.fetch_access_token(
                redirect_uri=redirect_uri, code=code, code_verifier=flow.verifier
            )
        except (OAuthError, OAuth2Error) as exc:
            raise UpstreamRejected("code", "The identity provider did not accept the sign-in code.") from exc
        except (httpx2.HTTPError, ValueError) as exc:
            raise self._unavailable("token", exc) from None
        if "id_token" not in token:
            raise UpstreamRejected("id_token", "The identity provider sent no ID token (is openid in OIDC_SCOPES?).")
        return await self.id_token_claims(token, flow.nonce), token

    async def id_token_claims(self, token: dict[str, Any], nonce: str | None) -> dict[str, Any]:
        """The validated claims of a token response's ID token. `nonce` None: a refresh's ID token, which
        carries no new nonce (OpenID Connect Core §12.2)."""
        options = {
            "iss": {"essential": True, "value": self.issuer},
            "aud": {"essential": True, "value": self.client_id},
        }
        try:
            claims = await self._app.parse_id_token(token, nonce=nonce, claims_options=options, leeway=LEEWAY)
        except JoseError as exc:
            # joserfc's text names the failed check (a claim, the key id, expiry), never the token itself.
            log.warning("upstream ID token refused: %s", str(exc)[:200])
            raise UpstreamRejected(
                getattr(exc, "error", "id_token"), "The identity provider's answer could not be verified."
            ) from None
        except (httpx2.HTTPError, ValueError) as exc:
            raise self._unavailable("jwks", exc) from None
        return dict(claims)

    async def refresh(self, refresh_token: str, scope: str | None = None) -> dict[str, Any] | None:
        """A new token response, or None if the provider refused the refresh token (the person was disabled,
        removed, or their session revoked). UpstreamUnavailable if it could not be asked.

        `scope` is what the provider granted (its token response said so); with None the request names no
        scope, which means the same as granted (RFC 6749 §6). Never OIDC_SCOPES as asked: a provider that
        granted less (offline_access is often dropped) refuses a refresh asking for more."""
        try:
            metadata = await self._app.load_server_metadata()
            async with self._app._get_oauth_client(**metadata) as client:
                token: dict[str, Any] = await client.refresh_token(
                    metadata["token_endpoint"], refresh_token=refresh_token, scope=scope
                )
        except (OAuthError, OAuth2Error) as exc:
            log.info("upstream refresh refused: %s", getattr(exc, "error", type(exc).__name__))
            return None
        except (httpx2.HTTPError, ValueError, KeyError) as exc:
            raise self._unavailable("refresh", exc) from None
        return dict(token)

    def _unavailable(self, step: str, exc: Exception) -> UpstreamUnavailable:
        log.warning("identity provider %s unreachable at %s: %s", self.issuer, step, type(exc).__name__)
        return UpstreamUnavailable("The identity provider could not be reached. Try again in a moment.")
