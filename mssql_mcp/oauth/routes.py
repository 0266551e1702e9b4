"""The OAuth endpoints of one face: the SDK's handlers, plus the pieces the SDK leaves to us.

From the SDK (`create_auth_routes`): /authorize, /token, /register, /revoke: request parsing, PKCE
S256, redirect_uri checks and client authentication. Around them:

- metadata (RFC 8414) that also says `"none"` (public clients), `authorization_response_iss_parameter_supported`
  (RFC 9207) and, when on, `client_id_metadata_document_supported`; served at the RFC 8414 path, the
  OpenID alias, and (for a face with a path prefix) the prefix-relative paths some clients try;
- protected-resource metadata (RFC 9728) at the root and for each MCP endpoint;
- `TokenRequestShim` in front of /token and /revoke (see its docstring);
- `iss` on every redirect /authorize sends back to the client (RFC 9207 §2).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any, cast
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from mcp.server.auth.handlers.metadata import MetadataHandler, ProtectedResourceMetadataHandler
from mcp.server.auth.routes import build_metadata, cors_middleware, create_auth_routes
from mcp.server.auth.settings import ClientRegistrationOptions, RevocationOptions
from mcp.shared.auth import OAuthMetadata, ProtectedResourceMetadata
from pydantic import AnyHttpUrl
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mssql_mcp.oauth.asgi import replaying
from mssql_mcp.oauth.provider import SCOPE, Provider
from mssql_mcp.oauth.side_channel import token_request

AUTH_METHODS = ["client_secret_post", "client_secret_basic", "none"]
MAX_FORM_BYTES = 65_536


def registration_options() -> ClientRegistrationOptions:
    # No valid_scopes: clients (Claude among them) may register scopes of their own; what a token
    # grants is decided in Provider.authorize, and it is always SCOPE.
    return ClientRegistrationOptions(enabled=True, default_scopes=[SCOPE])


def authorization_metadata(issuer: str, *, metadata_documents: bool) -> OAuthMetadata:
    base = build_metadata(
        cast(AnyHttpUrl, issuer),  # a plain string keeps a path-less issuer free of a trailing "/"
        None,
        registration_options(),
        RevocationOptions(enabled=True),
    )
    return base.model_copy(
        update={
            "scopes_supported": [SCOPE],
            "token_endpoint_auth_methods_supported": AUTH_METHODS,
            "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
            "authorization_response_iss_parameter_supported": True,
            "client_id_metadata_document_supported": True if metadata_documents else None,
        }
    )


def resource_metadata_path(resource: str) -> str:
    """RFC 9728 §3.1: the well-known segment goes between the host and the resource's path."""
    return "/.well-known/oauth-protected-resource" + urlsplit(resource).path.rstrip("/")


def oauth_routes(
    provider: Provider, *, issuer: str, prefix: str, resources: Sequence[str], metadata_documents: bool
) -> list[BaseRoute]:
    metadata = authorization_metadata(issuer, metadata_documents=metadata_documents)
    meta_app = cors_middleware(MetadataHandler(metadata).handle, ["GET", "OPTIONS"])
    paths = [f"/.well-known/oauth-authorization-server{prefix}", f"/.well-known/openid-configuration{prefix}"]
    if prefix:
        paths += [f"{prefix}/.well-known/oauth-authorization-server", f"{prefix}/.well-known/openid-configuration"]
    routes: list[BaseRoute] = [Route(p, meta_app, methods=["GET", "OPTIONS"]) for p in paths]

    def prm(resource: str) -> ASGIApp:
        doc = ProtectedResourceMetadata(
            resource=AnyHttpUrl(resource),
            authorization_servers=[cast(AnyHttpUrl, issuer)],
            scopes_supported=[SCOPE],
            resource_name="mssql-mcp",
        )
        return cors_middleware(ProtectedResourceMetadataHandler(doc).handle, ["GET", "OPTIONS"])

    for resource in resources:
        routes.append(Route(resource_metadata_path(resource), prm(resource), methods=["GET", "OPTIONS"]))
        if prefix:  # the prefix-relative form, so a face's URLs all live under its prefix (with or without a proxy)
            relative = prefix + "/.well-known/oauth-protected-resource" + urlsplit(resource).path[len(prefix) :]
            routes.append(Route(relative.rstrip("/"), prm(resource), methods=["GET", "OPTIONS"]))
    # The face's root answers too, describing its main endpoint (clients fall back to it: RFC 9728 §3).
    roots = [f"/.well-known/oauth-protected-resource{prefix}"]
    if prefix:
        roots.append(f"{prefix}/.well-known/oauth-protected-resource")
    routes.extend(Route(root, prm(resources[0]), methods=["GET", "OPTIONS"]) for root in roots)

    sdk_routes = create_auth_routes(
        provider,
        issuer_url=AnyHttpUrl(issuer),  # only validated here (https or loopback); its metadata is replaced
        client_registration_options=registration_options(),
        revocation_options=RevocationOptions(enabled=True),
    )
    for route in sdk_routes:
        if route.path.startswith("/.well-known/"):
            continue  # replaced by ours above
        app: ASGIApp = route.app
        if route.path in ("/token", "/revoke"):
            app = TokenRequestShim(app, revocation=route.path == "/revoke")
        elif route.path == "/authorize":
            app = AddIssuer(app, issuer=issuer, login_url=provider.login_url)
        routes.append(Route(prefix + route.path, app, methods=sorted(route.methods or [])))
    return routes


class TokenRequestShim:
    """Fills three gaps of the SDK's /token and /revoke before its handlers read the form.

    1. A client authenticating with HTTP Basic (RFC 6749 §2.3.1) need not repeat client_id in the form;
       the SDK requires it there, so it is copied in from the header.
    2. RFC 7009 lets a public client revoke with `token` and `client_id` only; the SDK's revocation
       model requires a `client_secret` field, so an empty one is added (a public client has no secret
       to check; a confidential client is still authenticated by the SDK as before).
    3. The presented client secret and the requested `resource` are handed to the provider through
       side_channel.py: secrets are stored hashed, and resources are cross-checked (RFC 8707 §2.2).
    """

    def __init__(self, app: ASGIApp, *, revocation: bool) -> None:
        self.app = app
        self.revocation = revocation

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > MAX_FORM_BYTES:
                await _send_json(send, 413, b'{"error":"invalid_request","error_description":"request too large"}')
                return
            if not message.get("more_body", False):
                break
        form = dict(parse_qsl(body.decode("latin-1"), keep_blank_values=True))
        basic = _basic_credentials(scope)
        extra: dict[str, str] = {}
        if basic and "client_id" not in form:
            extra["client_id"] = basic[0]
        if self.revocation and "client_secret" not in form:
            extra["client_secret"] = ""
        if extra:
            body += (b"&" if body else b"") + urlencode(extra).encode()
        secret = form.get("client_secret") or (basic[1] if basic else None)
        with token_request(secret=secret, resource=form.get("resource")):
            await self.app(scope, replaying(body, receive), send)


class AddIssuer:
    """RFC 9207: the authorization response names its issuer, errors included (mix-up defence)."""

    def __init__(self, app: ASGIApp, *, issuer: str, login_url: str) -> None:
        self.app = app
        self.issuer = issuer
        self.login_url = login_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_iss(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in (302, 303):
                headers: list[tuple[bytes, bytes]] = list(message.get("headers", []))
                for i, (name, value) in enumerate(headers):
                    location = value.decode("latin-1")
                    if name.lower() == b"location" and not location.startswith(self.login_url):
                        sep = "&" if urlsplit(location).query else "?"
                        headers[i] = (name, f"{location}{sep}{urlencode({'iss': self.issuer})}".encode("latin-1"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_iss)


def _basic_credentials(scope: Scope) -> tuple[str, str] | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"authorization" and value[:6].lower() == b"basic ":
            try:
                decoded = base64.b64decode(value[6:].strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return None
            client_id, sep, secret = decoded.partition(":")
            return (unquote(client_id), unquote(secret)) if sep else None
    return None


async def _send_json(send: Send, status: int, body: bytes) -> None:
    headers: list[Any] = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
