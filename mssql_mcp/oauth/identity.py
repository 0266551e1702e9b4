"""Who a person from the identity provider is, and whether they may pass: pure rules over validated claims.

The ID token has already been validated (signature, iss, aud, exp/iat, nonce: oidc.py). Here:

- The key. A person is keyed by issuer + `sub`, never by e-mail: an e-mail is an attribute the person or
  a tenant admin can set, and keying by it is the "nOAuth" account takeover. With Microsoft Entra ID the
  key is the tenant (`tid`) + the object id (`oid`), which are stable across the applications of a tenant.
- The tenant. With OIDC_ENTRA_TENANT set, a token from any other tenant is refused, even one that came
  through the multi-tenant `common` endpoint with a valid signature.
- The domain rule. Only a verified e-mail counts: `email_verified` true (Entra: the optional claim
  `xms_edov`, "e-mail domain owner verified"). Google Workspace also sends `hd`, the hosted domain,
  which must be present and match: a consumer Google account has a verified e-mail but no `hd`.
- The group rule. Entra leaves `groups` out above 200 groups and sends an overage marker instead
  (`_claim_names` naming the groups claim, or `hasgroups`). Such a person is refused with that reason,
  never taken as a member of no group; app roles (`roles`) have no overage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from mssql_mcp.errors import MssqlMcpError
from mssql_mcp.settings import Settings

KEY_PREFIX = "oidc:"  # local usernames never contain ':' (users.USERNAME_RE), so the two never collide


@dataclass(frozen=True)
class Person:
    key: str  # what tokens and the audit line carry as the user
    issuer: str
    subject: str
    email: str | None
    name: str
    groups: tuple[str, ...]


class Refused(MssqlMcpError):
    """A person the provider signed in who may not pass; `message` is what the page they see says."""

    def __init__(self, cause: str, message: str) -> None:
        super().__init__(message)
        self.cause = cause  # a short word for the log: tenant, domain, group, group_overage, claims, blocked


def is_person_key(username: str) -> bool:
    return username.startswith(KEY_PREFIX)


class IdentityRules:
    def __init__(self, settings: Settings) -> None:
        self.tenant = settings.oidc_entra_tenant
        self.domains = tuple(d.lower().lstrip("@") for d in settings.oidc_allowed_domains)
        self.groups_claim = settings.oidc_groups_claim
        self.required = tuple(settings.oidc_required_groups)
        self.name_claim = settings.oidc_name_claim

    def person(self, claims: dict[str, Any]) -> Person:
        """The person these claims describe, or Refused with the reason."""
        issuer, subject = str(claims.get("iss", "")), str(claims.get("sub", ""))
        if not issuer or not subject:
            raise Refused("claims", "The identity provider did not say who you are (no issuer or subject).")
        key = f"{KEY_PREFIX}{issuer}#{subject}"
        if self.tenant is not None:
            tid, oid = claims.get("tid"), claims.get("oid")
            if tid != self.tenant:
                raise Refused("tenant", "You signed in with an account from another organisation (tenant).")
            if not isinstance(oid, str) or not oid:
                raise Refused("claims", "The identity provider did not send your object id (oid).")
            key = f"{KEY_PREFIX}entra:{tid}#{oid}"
        email = claims.get("email") if isinstance(claims.get("email"), str) else None
        self._check_domain(issuer, email, claims)
        groups = self._groups(claims)
        if self.required and not set(groups) & set(self.required):
            raise Refused("group", "Your account is not in a group that may use this server.")
        name = claims.get(self.name_claim)
        shown = name if isinstance(name, str) and name.strip() else (email or subject)
        return Person(key, issuer, subject, email, shown.strip()[:200], groups)

    def _check_domain(self, issuer: str, email: str | None, claims: dict[str, Any]) -> None:
        if not self.domains:
            return
        verified = _true(claims.get("email_verified")) or _true(claims.get("xms_edov"))
        if email is None or "@" not in email or not verified:
            raise Refused("domain", "Your account has no verified e-mail address, which this server requires.")
        domain = email.rsplit("@", 1)[1].lower()
        if domain not in self.domains:
            raise Refused("domain", f"Accounts from {domain} may not use this server.")
        if _host(issuer) == "accounts.google.com" and str(claims.get("hd", "")).lower() != domain:
            # hd is set only for Google Workspace accounts of that domain (Google's OpenID Connect docs).
            raise Refused("domain", "Sign in with your organisation's Google Workspace account.")

    def _groups(self, claims: dict[str, Any]) -> tuple[str, ...]:
        names = claims.get("_claim_names")
        overage = (isinstance(names, dict) and self.groups_claim in names) or _true(claims.get("hasgroups"))
        value = claims.get(self.groups_claim)
        if overage and value is None:
            if self.required:
                raise Refused(
                    "group_overage",
                    "You are in too many groups for the identity provider to list them in the sign-in "
                    "(groups overage), so your membership cannot be checked. Ask the administrator to use "
                    "app roles for this server.",
                )
            return ()
        if isinstance(value, str):
            return (value,)
        if isinstance(value, list):
            return tuple(str(g) for g in value)
        return ()


def _true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _host(issuer: str) -> str:
    return (urlsplit(issuer).hostname or issuer).lower()
