"""Which clients may ask for sign-in: redirect-host policy, and Client ID Metadata Documents.

Dynamic registration (RFC 7591) is open, so the redirect URI is what limits who can receive a code:
its host must be in ALLOWED_REDIRECT_HOSTS (matched exactly after parsing, so `claude.ai.evil.com`
and `claude.ai@evil.com` do not pass), over https; loopback over http only with ALLOW_LOOPBACK_REDIRECTS
(RFC 8252 §7.3, for MCP Inspector and local tools).

Client ID Metadata Documents (MCP 2025-11-25, draft-ietf-oauth-client-id-metadata-document): with
CLIENT_ID_METADATA_DOCUMENTS on, a client_id that is an https URL is fetched, checked (its `client_id`
must be its own URL, its redirects must pass the same policy, it is a public client) and cached.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import socket
from collections.abc import Sequence
from urllib.parse import urlsplit

import httpx2
from cachetools import TTLCache
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata
from pydantic import AnyHttpUrl, AnyUrl, ValidationError

from mssql_mcp.logs import event

log = logging.getLogger("mssql_mcp.auth")

SCOPE = "mcp"  # the one scope: use this server's tools as the signed-in user
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
CIMD_MAX_BYTES = 16_384
CIMD_TTL = 3600.0


def canonical_resource(url: str) -> str:
    """A resource URL as we compare it: lowercase scheme and host, default port dropped, no trailing slash."""
    try:
        return str(AnyHttpUrl(url)).removesuffix("/")
    except ValidationError:
        return url


class ClientPolicy:
    def __init__(self, allowed_hosts: Sequence[str], *, allow_loopback: bool, metadata_documents: bool) -> None:
        self.allowed_hosts = {h.strip().lower() for h in allowed_hosts if h.strip()}
        self.allow_loopback = allow_loopback
        self.metadata_documents = metadata_documents
        self._cache: TTLCache[str, OAuthClientInformationFull] = TTLCache(maxsize=256, ttl=CIMD_TTL)

    def check_redirects(self, uris: Sequence[AnyUrl | str]) -> str | None:
        """None if every redirect URI is acceptable, else why not."""
        if not uris:
            return "at least one redirect_uri is required"
        for uri in uris:
            parts = urlsplit(str(uri))
            host = (parts.hostname or "").lower()
            if parts.fragment:
                return f"redirect_uri {uri} has a fragment (RFC 6749 §3.1.2)"
            if host in LOOPBACK_HOSTS:
                if not self.allow_loopback:
                    return f"loopback redirect_uri {uri} is not allowed here (ALLOW_LOOPBACK_REDIRECTS)"
                if parts.scheme not in ("http", "https"):
                    return f"redirect_uri {uri} must be http or https"
                continue
            if parts.scheme != "https":
                return f"redirect_uri {uri} must use https"
            if host not in self.allowed_hosts:
                return f"redirect host {host!r} is not in ALLOWED_REDIRECT_HOSTS"
        return None

    async def metadata_document(self, client_id: str) -> OAuthClientInformationFull | None:
        if not self.metadata_documents or not _is_document_url(client_id):
            return None
        cached = self._cache.get(client_id)
        if cached is not None:
            return cached
        info = await self._fetch(client_id)
        if info is not None:
            self._cache[client_id] = info
        return info

    async def _fetch(self, url: str) -> OAuthClientInformationFull | None:
        host = urlsplit(url).hostname or ""
        if not await self._public_host(host):
            event(log, "client_document_refused", level=logging.WARNING, client=url, reason="non-public host")
            return None
        try:
            async with httpx2.AsyncClient(timeout=5.0, follow_redirects=False) as http:
                resp = await http.get(url, headers={"Accept": "application/json"})
        except httpx2.HTTPError as exc:
            event(log, "client_document_refused", level=logging.WARNING, client=url, reason=type(exc).__name__)
            return None
        reason = None
        if resp.status_code != 200:
            reason = f"HTTP {resp.status_code}"
        elif len(resp.content) > CIMD_MAX_BYTES:
            reason = "too large"
        else:
            try:
                raw = json.loads(resp.content)
                meta = OAuthClientMetadata.model_validate(raw)
            except (ValueError, ValidationError):
                raw, meta, reason = None, None, "not valid client metadata"
            if meta is not None and isinstance(raw, dict):
                if raw.get("client_id") != url:
                    reason = "its client_id is not its own URL"
                elif meta.token_endpoint_auth_method not in (None, "none"):
                    reason = "a metadata document describes a public client (token_endpoint_auth_method none)"
                else:
                    reason = self.check_redirects(meta.redirect_uris or [])
                if reason is None:
                    # Like a registration without `scope` (routes.registration_options), it gets ours.
                    data = {
                        **meta.model_dump(),
                        "client_id": url,
                        "token_endpoint_auth_method": "none",
                        "scope": meta.scope or SCOPE,
                    }
                    return OAuthClientInformationFull.model_validate(data)
        event(log, "client_document_refused", level=logging.WARNING, client=url, reason=reason)
        return None

    async def _public_host(self, host: str) -> bool:
        """No fetching of internal addresses on a client's say-so (SSRF), loopback only when allowed."""
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, 443, type=socket.SOCK_STREAM)
        except OSError:
            return False
        for info in infos:
            addr = ipaddress.ip_address(info[4][0])
            if addr.is_loopback and self.allow_loopback:
                continue
            if not addr.is_global:
                return False
        return bool(infos)


def _is_document_url(client_id: str) -> bool:
    parts = urlsplit(client_id)
    return parts.scheme == "https" and bool(parts.hostname) and parts.path not in ("", "/")


def first_party(client_id: str, name: str, redirect_uri: str) -> OAuthClientInformationFull:
    """The registration of this server's own browser client (oauth/browser.py): a public client, code flow."""
    return OAuthClientInformationFull(
        client_id=client_id,
        client_name=name,
        redirect_uris=[AnyUrl(redirect_uri)],
        grant_types=["authorization_code"],
        response_types=["code"],
        token_endpoint_auth_method="none",
        scope=SCOPE,
    )
