"""DB_IDENTITY=entra_obo: the person's Entra access token exchanged for an Azure SQL token (OAuth 2.0
on-behalf-of), through MSAL, and the token handed to ODBC Driver 18.

    first call of a person   acquire_token_on_behalf_of(their upstream access token, [DB_OBO_SCOPE])
    later calls              acquire_token_silent(their account): MSAL's cache answers until five minutes
                             before the token expires, then redeems the refresh token the exchange brought
    refused                  IdentityRefused, in one line (consent missing, person disabled, sign-in expired)

https://learn.microsoft.com/entra/identity-platform/v2-oauth2-on-behalf-of-flow
The calls block (HTTP): they run on the database worker threads, never on the event loop. MSAL's token
cache is in memory, one per server process, and `forget()` removes a person from it. The client secret
reaches MSAL only; nothing here logs a token or the secret.
"""

from __future__ import annotations

import logging
import struct
import threading
import time
from collections.abc import Mapping
from typing import Any

from mssql_mcp.db.identity import DbIdentity
from mssql_mcp.errors import DatabaseUnavailable, IdentityRefused
from mssql_mcp.settings import Settings
from mssql_mcp.settings.checks import obo_authority

log = logging.getLogger("mssql_mcp.db.obo")

SQL_COPT_SS_ACCESS_TOKEN = 1256  # msodbcsql.h: the pre-connect attribute carrying an access token
UNREACHABLE = "Microsoft Entra could not be reached to sign you in to the database; try again in a moment."
# Entra's AADSTS numbers (https://learn.microsoft.com/entra/identity-platform/reference-error-codes), in words.
CONSENT = "The database needs consent first: an administrator must grant this server's app access to Azure SQL."
GONE = "Microsoft Entra no longer signs you in (your account is disabled, locked or removed)."
EXPIRED = "Your Microsoft Entra sign-in has expired; sign in to this server again."
_REASONS: Mapping[int, str] = {
    65001: CONSENT,
    65004: CONSENT,
    50057: GONE,
    50053: GONE,
    50034: GONE,
    50020: GONE,
    500133: EXPIRED,
    700082: EXPIRED,
    50173: EXPIRED,
    50078: "Microsoft Entra asks you for multi-factor authentication; sign in to this server again.",
}


def token_struct(token: str) -> bytes:
    """The ACCESSTOKEN struct SQL_COPT_SS_ACCESS_TOKEN takes: a 4-byte little-endian length, then the token
    as UTF-16LE (msodbcsql's documented layout)."""
    data = token.encode("utf-16-le")
    return struct.pack("<I", len(data)) + data


def refusal(result: Mapping[str, Any]) -> IdentityRefused:
    """Entra's error answer as one line in our words; its code, never its description, goes in the message."""
    codes = result.get("error_codes") or []
    code = int(codes[0]) if codes and str(codes[0]).isdigit() else None
    error = str(result.get("error", "error"))[:40]
    if code is not None and code in _REASONS:
        return IdentityRefused(_REASONS[code], code)
    if error in ("consent_required", "interaction_required") or result.get("suberror") == "consent_required":
        return IdentityRefused(CONSENT, code)
    if error in ("invalid_client", "unauthorized_client"):
        return IdentityRefused(
            "Microsoft Entra refused this server's app (DB_OBO_CLIENT_ID/SECRET): the operator must fix it.", code
        )
    said = f"{error}, AADSTS{code}" if code is not None else error
    return IdentityRefused(f"Microsoft Entra refused to let this server query as you ({said}).", code)


class OboTokens:
    """Azure SQL tokens per person, from MSAL (one confidential client; its cache is the token store)."""

    def __init__(self, settings: Settings) -> None:
        self.authority = obo_authority(settings) or ""
        self.client_id = settings.db_obo_client_id or settings.oidc_client_id or ""
        secret = settings.db_obo_client_secret or settings.oidc_client_secret
        self._secret = secret.reveal() if secret is not None else ""
        self.scopes = [settings.db_obo_scope.strip()]
        self._app: Any = None
        self._lock = threading.Lock()
        self._people: dict[str, tuple[str, threading.Lock]] = {}  # key -> (Entra object id, its lock)
        self._names: dict[str, str] = {}  # key -> the name Azure SQL knows them by (their UPN), for the audit
        self.exchanges = 0  # on-behalf-of grants made (tests and doctor read it)

    def _application(self) -> Any:
        with self._lock:
            if self._app is None:
                import msal
                import requests

                try:
                    # instance_discovery=False: the authority is the operator's, not looked up at Microsoft
                    # (and a stand-in authority can be used in tests). Its discovery is one GET, here.
                    self._app = msal.ConfidentialClientApplication(
                        self.client_id,
                        client_credential=self._secret,
                        authority=self.authority,
                        instance_discovery=False,
                        timeout=10,
                    )
                except (requests.RequestException, ValueError) as exc:
                    log.warning("Entra authority %s unusable: %s", self.authority, type(exc).__name__)
                    raise DatabaseUnavailable(UNREACHABLE) from None
            return self._app

    def check(self) -> None:
        """Read the authority's OpenID configuration now (doctor); DatabaseUnavailable if it does not answer."""
        self._application()

    def token(self, person: DbIdentity) -> tuple[str, float]:
        """An Azure SQL access token for `person` and when it expires (epoch seconds)."""
        import requests

        app = self._application()
        with self._lock:
            lock = self._people.setdefault(person.key, ("", threading.Lock()))[1]
        with lock:  # one exchange per person at a time: a second caller then finds the cached token
            try:
                result = self._cached(app, person.key) or self._exchange(app, person)
            except requests.RequestException as exc:
                log.warning("Entra unreachable for on-behalf-of: %s", type(exc).__name__)
                raise DatabaseUnavailable(UNREACHABLE) from None
        return str(result["access_token"]), time.time() + float(result.get("expires_in", 0))

    def _cached(self, app: Any, key: str) -> Mapping[str, Any] | None:
        with self._lock:
            oid = self._people.get(key, ("", None))[0]
        account = next((a for a in app.get_accounts() if oid and a.get("local_account_id") == oid), None)
        if account is None:
            return None
        result = app.acquire_token_silent_with_error(self.scopes, account)
        if result is None:
            return None  # nothing cached and nothing to refresh with: exchange again
        if "access_token" not in result:
            raise refusal(result)  # the refresh was refused: the person was disabled or revoked at Entra
        return dict(result)

    def _exchange(self, app: Any, person: DbIdentity) -> Mapping[str, Any]:
        if not person.assertion:
            raise IdentityRefused(EXPIRED)  # no Entra token stored for them (signed in before this mode)
        result = app.acquire_token_on_behalf_of(person.assertion, self.scopes)
        self.exchanges += 1
        if "access_token" not in result:
            refused = refusal(result)
            log.warning("on-behalf-of refused for %s: %s (AADSTS%s)", person.key, result.get("error"), refused.code)
            raise refused
        claims = result.get("id_token_claims") or {}
        oid = str(claims.get("oid") or claims.get("sub") or "")
        name = claims.get("preferred_username") or claims.get("upn") or oid
        with self._lock:
            self._people[person.key] = (oid, self._people[person.key][1])
            self._names[person.key] = str(name)[:256]
        return dict(result)

    def principal(self, key: str) -> str | None:
        """Who Azure SQL sees for the person (their UPN, from the exchange's ID token); None before one."""
        with self._lock:
            return self._names.get(key)

    def forget(self, key: str) -> None:
        """Drop what MSAL holds for the person: the next call exchanges their current token afresh."""
        with self._lock:
            self._names.pop(key, None)
            oid, _ = self._people.pop(key, ("", None))
            app = self._app
        if app is None or not oid:
            return
        for account in app.get_accounts():
            if account.get("local_account_id") == oid:
                app.remove_account(account)
