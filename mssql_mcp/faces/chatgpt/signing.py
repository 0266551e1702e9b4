"""Signed record ids: every id the ChatGPT face hands out carries a keyed MAC, checked before anything else.

    table:dbo.Orders~Xq3v1pAOZ2kBfE6cS1h0Jw          <id>~<tag>, tag = HMAC-SHA256(key, id), 128 bits, base64url

Query ids carry SQL, and row ids key values, that the caller chose; a record page renders them on our origin.
So an id this server did not make is refused before it is parsed, resolved or rendered, and the refusal
does not repeat it. An id from before ids were signed (no tag) gets "out of date; search again".

The first key signs; every key verifies, so a key can be rotated: put the new one first, keep the old one
until the links made with it no longer matter. Keys come from RECORD_ID_KEYS, or else one is derived from
the OAuth store's server key, so every replica that shares the store shares it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Sequence

from mssql_mcp.errors import ConfigError, InvalidArgument
from mssql_mcp.faces.chatgpt import ids
from mssql_mcp.oauth import AuthComponents
from mssql_mcp.settings import Settings

log = logging.getLogger("mssql_mcp.faces.chatgpt")

SEPARATOR = "~"  # never in a tag (base64url), and left readable in record URLs
TAG_BYTES = 16
_TAG = re.compile(r"[A-Za-z0-9_-]{22}\Z")
MIN_KEY_CHARS = 32
KEY_PURPOSE = "chatgpt record ids"


class OutdatedId(InvalidArgument):
    """An id made before ids were signed."""

    def __init__(self) -> None:
        super().__init__("This link is out of date; search again.")


class ForeignId(InvalidArgument):
    """An id with a tag that no key verifies: forged, edited, or signed with a key since retired."""

    def __init__(self) -> None:
        super().__init__("This id was not made by this server, or it was changed. Use an id returned by search.")


class IdSigner:
    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("at least one key")
        self._keys = tuple(keys)

    def _tag(self, key: bytes, body: str) -> str:
        mac = hmac.new(key, body.encode("utf-8"), hashlib.sha256).digest()[:TAG_BYTES]
        return base64.urlsafe_b64encode(mac).decode("ascii").rstrip("=")

    def sign(self, body: str) -> str:
        return f"{body}{SEPARATOR}{self._tag(self._keys[0], body)}"

    def id(self, rid: ids.RecordId) -> str:
        return self.sign(ids.format_id(rid))

    def verify(self, text: str) -> str:
        """The id's unsigned text, if one of the keys made its tag. Raises OutdatedId or ForeignId."""
        text = text.strip() if isinstance(text, str) else ""
        body, sep, tag = text.rpartition(SEPARATOR)
        if sep and _TAG.match(tag):
            if any(hmac.compare_digest(self._tag(key, body), tag) for key in self._keys):
                return body
            raise ForeignId()
        try:
            ids.parse_id(text)
        except InvalidArgument:
            raise ForeignId() from None
        raise OutdatedId()

    def parse(self, text: str) -> ids.RecordId:
        return ids.parse_id(self.verify(text))


def signer_for(settings: Settings, auth: AuthComponents | None) -> IdSigner:
    """RECORD_ID_KEYS if set; else a key derived from the OAuth store's; else (no store) one for this process."""
    if settings.record_id_keys is not None:
        keys = [k.strip() for k in settings.record_id_keys.reveal().split(",") if k.strip()]
        if not keys or any(len(k) < MIN_KEY_CHARS for k in keys):
            raise ConfigError(f"RECORD_ID_KEYS: each key needs at least {MIN_KEY_CHARS} characters.")
        return IdSigner([k.encode("utf-8") for k in keys])
    if auth is not None and auth.provider is not None:
        return IdSigner([auth.provider.derived_key(KEY_PURPOSE)])
    log.warning("no OAuth store: record ids are signed with a key of this process only (set RECORD_ID_KEYS)")
    return IdSigner([secrets.token_bytes(32)])
