"""A stand-in for Microsoft Entra ID's v2.0 endpoints on loopback, written for the tests: enough OpenID
Connect for AUTH_MODE=oidc to sign a person in, and the on-behalf-of grant MSAL sends for DB_IDENTITY=entra_obo.

    GET  /{tenant}/v2.0/.well-known/openid-configuration   discovery (MSAL and authlib read it)
    GET  /{tenant}/discovery/v2.0/keys                     its signing key (RS256)
    GET  /{tenant}/oauth2/v2.0/authorize                   signs in `signed_in_as` at once, back with a code
    POST /{tenant}/oauth2/v2.0/token                       authorization_code (PKCE S256), refresh_token, and
                                                           jwt-bearer with requested_token_use=on_behalf_of

It serves TLS with a certificate from a throwaway CA (tests/support/tlsca.py), because MSAL takes only https
authorities: point REQUESTS_CA_BUNDLE (MSAL) and SSL_CERT_FILE (authlib) at `ca_path`. Azure SQL tokens have
audience https://database.windows.net/ and name the person by `upn`; `verify_sql_token` is what the TDS test
server checks them with. A test can make it refuse a person (`refuse[oid] = "consent" | "disabled"`) with
Entra's AADSTS codes, or issue short-lived tokens (`sql_lifetime`). `grants` lists what it was asked.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwk import KeySet, RSAKey

from tests.support.tlsca import issue, make_ca

SQL_AUDIENCE = "https://database.windows.net/"
SQL_SCOPE = "https://database.windows.net/.default"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
REFUSALS = {
    "consent": (65001, "invalid_grant", "The user or administrator has not consented to use the application."),
    "disabled": (50057, "invalid_grant", "The user account is disabled."),
}


@dataclass(frozen=True)
class User:
    oid: str
    upn: str
    name: str


class OAuthFailure(Exception):
    def __init__(self, code: int, error: str, text: str, status: int = 400) -> None:
        super().__init__(text)
        self.body = {"error": error, "error_description": f"AADSTS{code}: {text}", "error_codes": [code]}
        self.status = status


class EntraStandIn:
    def __init__(self, folder: Path, *, client_id: str, client_secret: str, tenant: str | None = None) -> None:
        self.tenant = tenant or "72f988bf-0000-4000-8000-00000000cafe"
        self.client_id, self.client_secret = client_id, client_secret
        ca = make_ca(folder / "ca", "mssql-mcp Entra stand-in CA")
        self.ca_path = ca.cert
        leaf = issue(ca, folder / "leaf", ["127.0.0.1", "localhost"])
        self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._tls.load_cert_chain(leaf.cert, leaf.key)
        self.key = RSAKey.generate_key(2048, parameters={"kid": "stand-in-1", "use": "sig", "alg": "RS256"})
        self.users: dict[str, User] = {}
        self.signed_in_as: str | None = None  # the oid /authorize signs in
        self.refuse: dict[str, str] = {}  # oid -> a key of REFUSALS
        self.sql_lifetime = 3600
        self.upstream_lifetime = 3600
        self.grants: list[str] = []  # "code", "refresh", "obo", "obo_refresh", in order
        self.sql_tokens: list[str] = []
        self._codes: dict[str, dict[str, Any]] = {}
        self._refresh: dict[str, tuple[str, str]] = {}  # token -> (kind "upstream" | "obo", oid)
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self.port = 0

    # -- what tests use ------------------------------------------------------------------------
    @property
    def base(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def authority(self) -> str:
        return f"{self.base}/{self.tenant}"

    @property
    def issuer(self) -> str:
        return f"{self.authority}/v2.0"

    def add_user(self, oid: str, upn: str, name: str = "") -> User:
        user = User(oid, upn, name or upn.split("@")[0].title())
        self.users[oid] = user
        return user

    def user_token(self, oid: str, lifetime: int | None = None) -> str:
        """An access token for this server's API, as Entra gives it at sign-in: the on-behalf-of assertion."""
        now = int(time.time())
        life = self.upstream_lifetime if lifetime is None else lifetime
        return self._sign({**self._who(oid), "aud": self.client_id, "scp": "access_as_user", "exp": now + life})

    def verify_sql_token(self, token: str) -> str:
        """The person an Azure SQL token names (its upn), or ValueError with SQL Server's reason."""
        try:
            decoded = jwt.decode(token, self.key)
            registry = jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": self.issuer}, aud={"essential": True, "value": SQL_AUDIENCE}
            )
            registry.validate(decoded.claims)
        except ExpiredTokenError:
            raise ValueError("Token is expired.") from None
        except (JoseError, ValueError) as exc:
            raise ValueError(f"The token is not valid ({type(exc).__name__}).") from None
        return str(decoded.claims.get("upn") or decoded.claims["sub"])

    @contextmanager
    def running(self) -> Iterator[EntraStandIn]:
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        httpd.socket = self._tls.wrap_socket(httpd.socket, server_side=True)
        httpd.daemon_threads = True
        self.port = httpd.server_address[1]
        self._httpd = httpd
        thread = threading.Thread(target=httpd.serve_forever, name="entra-stand-in", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            httpd.shutdown()
            httpd.server_close()
            thread.join(5)

    # -- tokens --------------------------------------------------------------------------------
    def _sign(self, claims: dict[str, Any]) -> str:
        now = int(time.time())
        # uti: Entra's unique token id, so two tokens made in the same second differ. (MSAL answers a repeat of
        # a refused request itself for a while, its throttling: a retry presents a new token, as in real life.)
        full = {"iss": self.issuer, "iat": now, "nbf": now - 5, "uti": secrets.token_urlsafe(8), **claims}
        return jwt.encode({"alg": "RS256", "kid": self.key.kid, "typ": "JWT"}, full, self.key)

    def _who(self, oid: str) -> dict[str, Any]:
        user = self.users[oid]
        return {"sub": f"sub-{oid}", "oid": oid, "tid": self.tenant, "upn": user.upn, "name": user.name}

    def _id_token(self, oid: str, nonce: str | None = None) -> str:
        user = self.users[oid]
        claims = {**self._who(oid), "aud": self.client_id, "exp": int(time.time()) + 3600}
        claims |= {"preferred_username": user.upn, "email": user.upn}
        return self._sign(claims | ({"nonce": nonce} if nonce else {}))

    def _refresh_token(self, kind: str, oid: str) -> str:
        token = f"{kind}-{secrets.token_urlsafe(24)}"
        with self._lock:
            self._refresh[token] = (kind, oid)
        return token

    def _upstream_tokens(self, oid: str, scope: str, nonce: str | None = None) -> dict[str, Any]:
        return {
            "token_type": "Bearer",
            "access_token": self.user_token(oid),
            "expires_in": self.upstream_lifetime,
            "id_token": self._id_token(oid, nonce),
            "refresh_token": self._refresh_token("upstream", oid),
            "scope": scope,
        }

    def _sql_tokens(self, oid: str) -> dict[str, Any]:
        now = int(time.time())
        token = self._sign({**self._who(oid), "aud": SQL_AUDIENCE, "exp": now + self.sql_lifetime})
        self.sql_tokens.append(token)
        info = base64.urlsafe_b64encode(json.dumps({"uid": oid, "utid": self.tenant}).encode()).decode().rstrip("=")
        return {
            "token_type": "Bearer",
            "access_token": token,
            "expires_in": self.sql_lifetime,
            "refresh_token": self._refresh_token("obo", oid),
            "id_token": self._id_token(oid),
            "client_info": info,
            "scope": f"{SQL_SCOPE} openid profile offline_access",
        }

    def _check_person(self, oid: str) -> None:
        if oid not in self.users:
            raise OAuthFailure(50034, "invalid_grant", "The user account does not exist in this directory.")
        if oid in self.refuse:
            raise OAuthFailure(*REFUSALS[self.refuse[oid]])

    # -- the token endpoint ------------------------------------------------------------------
    def token(self, form: dict[str, str], basic: tuple[str, str] | None) -> dict[str, Any]:
        client_id, secret = basic or (form.get("client_id", ""), form.get("client_secret", ""))
        if client_id != self.client_id or not secrets.compare_digest(secret, self.client_secret):
            raise OAuthFailure(7000215, "invalid_client", "Invalid client secret provided.", 401)
        grant = form.get("grant_type", "")
        if grant == "authorization_code":
            return self._code_grant(form)
        if grant == "refresh_token":
            with self._lock:
                kind, oid = self._refresh.get(form.get("refresh_token", ""), ("", ""))
            if not kind:
                raise OAuthFailure(9002313, "invalid_grant", "Invalid request. Request is malformed or invalid.")
            self._check_person(oid)
            self.grants.append("refresh" if kind == "upstream" else "obo_refresh")
            return self._sql_tokens(oid) if kind == "obo" else self._upstream_tokens(oid, form.get("scope", ""))
        if grant == JWT_BEARER and form.get("requested_token_use") == "on_behalf_of":
            return self._on_behalf_of(form)
        raise OAuthFailure(70003, "unsupported_grant_type", "The app requested an unsupported grant type.")

    def _code_grant(self, form: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            saved = self._codes.pop(form.get("code", ""), None)
        if saved is None or saved["redirect_uri"] != form.get("redirect_uri"):
            raise OAuthFailure(70008, "invalid_grant", "The provided authorization code is invalid or expired.")
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
        if challenge != saved["challenge"]:
            raise OAuthFailure(501481, "invalid_grant", "The Code_Verifier does not match the code_challenge.")
        self._check_person(saved["oid"])
        self.grants.append("code")
        return self._upstream_tokens(saved["oid"], saved["scope"], saved["nonce"])

    def _on_behalf_of(self, form: dict[str, str]) -> dict[str, Any]:
        if SQL_SCOPE not in form.get("scope", "").split():
            raise OAuthFailure(
                70011, "invalid_scope", "The provided value for the input parameter 'scope' is not valid."
            )
        try:
            assertion = jwt.decode(form.get("assertion", ""), self.key)
            registry = jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": self.issuer}, aud={"essential": True, "value": self.client_id}
            )
            registry.validate(assertion.claims)
        except ExpiredTokenError:
            raise OAuthFailure(500133, "invalid_grant", "Assertion is not within its valid time range.") from None
        except (JoseError, ValueError):
            raise OAuthFailure(50013, "invalid_grant", "Assertion failed signature validation.") from None
        oid = str(assertion.claims.get("oid", ""))
        self._check_person(oid)
        self.grants.append("obo")
        return self._sql_tokens(oid)

    def authorize(self, query: dict[str, str]) -> str:
        if self.signed_in_as is None or query.get("client_id") != self.client_id:
            raise OAuthFailure(700016, "unauthorized_client", "Application not found, or nobody signed in.")
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = {
                "oid": self.signed_in_as,
                "nonce": query.get("nonce"),
                "challenge": query.get("code_challenge", ""),
                "redirect_uri": query.get("redirect_uri", ""),
                "scope": query.get("scope", ""),
            }
        back = {"code": code, "state": query.get("state", "")}
        return f"{query.get('redirect_uri', '')}?{urlencode(back)}"

    def discovery(self) -> dict[str, Any]:
        endpoints = f"{self.authority}/oauth2/v2.0"
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{endpoints}/authorize",
            "token_endpoint": f"{endpoints}/token",
            "jwks_uri": f"{self.authority}/discovery/v2.0/keys",
            "response_types_supported": ["code"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "tenant_region_scope": "EU",
        }


def _handler(entra: EntraStandIn) -> type[BaseHTTPRequestHandler]:
    prefix = f"/{entra.tenant}"

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet: the tests read `grants`
            pass

        def _send(self, status: int, body: dict[str, Any] | None = None, location: str | None = None) -> None:
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            if location:
                self.send_header("Location", location)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == f"{prefix}/v2.0/.well-known/openid-configuration":
                self._send(200, entra.discovery())
            elif url.path == f"{prefix}/discovery/v2.0/keys":
                self._send(200, KeySet([entra.key]).as_dict(private=False))
            elif url.path == f"{prefix}/oauth2/v2.0/authorize":
                try:
                    self._send(302, location=entra.authorize(query))
                except OAuthFailure as exc:
                    self._send(exc.status, exc.body)
            else:
                self._send(404, {"error": "not_found"})

        def do_POST(self) -> None:
            if urlsplit(self.path).path != f"{prefix}/oauth2/v2.0/token":
                self._send(404, {"error": "not_found"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            basic = None
            header = self.headers.get("Authorization", "")
            if header.startswith("Basic "):
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
                basic = (unquote(user), unquote(password))
            try:
                self._send(200, entra.token(form, basic))
            except OAuthFailure as exc:
                self._send(exc.status, exc.body)

    return Handler
