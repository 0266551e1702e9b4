"""AUTH_MODE=oidc without a provider: who a person is and whether they pass (identity.py), the sealed provider
tokens (upstream_tokens.py), and the settings that must be there at start. Each case is one claim set; the
end-to-end refusals against a real provider are in test_oidc_refusals.py."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.fernet import Fernet

from mssql_mcp.errors import ConfigError
from mssql_mcp.oauth.identity import IdentityRules, Refused, is_person_key
from mssql_mcp.oauth.upstream_tokens import TokenVault
from mssql_mcp.settings import load_settings

KEY = Fernet.generate_key().decode()
BASE = {"AUTH_MODE": "oidc", "OIDC_ISSUER": "https://idp.example", "OIDC_CLIENT_ID": "c", "UPSTREAM_TOKEN_KEYS": KEY}


def rules(**env: str) -> IdentityRules:
    return IdentityRules(load_settings(environ={**BASE, **env}, env_file=None))


def claims(**extra: Any) -> dict[str, Any]:
    return {"iss": "https://idp.example", "sub": "s-1", **extra}


def test_a_person_is_keyed_by_issuer_and_subject_never_by_email() -> None:
    one = rules().person(claims(email="a@example.com", name="A"))
    other = rules().person(claims(sub="s-2", email="a@example.com", name="A"))
    assert one.key == "oidc:https://idp.example#s-1" and other.key != one.key
    assert is_person_key(one.key) and not is_person_key("alice")


def test_entra_keys_by_tenant_and_object_id_and_pins_the_tenant() -> None:
    entra = rules(OIDC_ENTRA_TENANT="t-1")
    person = entra.person(claims(tid="t-1", oid="o-1"))
    assert person.key == "oidc:entra:t-1#o-1"
    for bad in (claims(tid="t-2", oid="o-1"), claims(oid="o-1"), claims(tid="t-1")):
        with pytest.raises(Refused):
            entra.person(bad)


@pytest.mark.parametrize(
    ("extra", "passes"),
    [
        ({"email": "a@example.com", "email_verified": True}, True),
        ({"email": "a@EXAMPLE.com", "email_verified": "true"}, True),
        ({"email": "a@example.com", "xms_edov": True}, True),  # Entra's verified-domain claim
        ({"email": "a@example.com", "email_verified": False}, False),
        ({"email": "a@example.com"}, False),  # not said to be verified: does not count
        ({"email": "a@evil.example", "email_verified": True}, False),
        ({"email": "a@sub.example.com", "email_verified": True}, False),  # exact domains only
        ({}, False),
    ],
)
def test_the_domain_rule_counts_only_a_verified_email(extra: dict[str, Any], passes: bool) -> None:
    check = rules(OIDC_ALLOWED_DOMAINS="example.com")
    if passes:
        assert check.person(claims(**extra)).email == extra["email"]
    else:
        with pytest.raises(Refused) as caught:
            check.person(claims(**extra))
        assert caught.value.cause == "domain"


def test_google_workspace_needs_the_hosted_domain() -> None:
    google = IdentityRules(
        load_settings(
            environ={**BASE, "OIDC_ISSUER": "https://accounts.google.com", "OIDC_ALLOWED_DOMAINS": "example.com"},
            env_file=None,
        )
    )
    good = {"iss": "https://accounts.google.com", "sub": "g", "email": "a@example.com", "email_verified": True}
    assert google.person({**good, "hd": "example.com"}).email == "a@example.com"
    with pytest.raises(Refused):
        google.person(good)  # a consumer account with the same verified address: no hd


@pytest.mark.parametrize(
    ("extra", "cause"),
    [
        ({"groups": ["db-readers", "x"]}, None),
        ({"groups": "db-readers"}, None),
        ({"groups": ["sales"]}, "group"),
        ({}, "group"),
        ({"hasgroups": True}, "group_overage"),
        (
            {"_claim_names": {"groups": "src1"}, "_claim_sources": {"src1": {"endpoint": "https://graph"}}},
            "group_overage",
        ),
    ],
)
def test_the_group_rule_and_the_overage_marker(extra: dict[str, Any], cause: str | None) -> None:
    check = rules(OIDC_REQUIRED_GROUPS="db-readers,db-admins")
    if cause is None:
        assert "db-readers" in check.person(claims(**extra)).groups
    else:
        with pytest.raises(Refused) as caught:
            check.person(claims(**extra))
        assert caught.value.cause == cause


def test_app_roles_and_the_name_claim_are_settings() -> None:
    check = rules(OIDC_GROUPS_CLAIM="roles", OIDC_REQUIRED_GROUPS="db.read", OIDC_NAME_CLAIM="preferred_username")
    person = check.person(claims(roles=["db.read"], preferred_username="alice@corp", name="Alice"))
    assert person.name == "alice@corp" and person.groups == ("db.read",)
    assert rules().person(claims(email="b@example.com")).name == "b@example.com"  # no name: the e-mail


def test_sealed_tokens_open_with_any_listed_key_and_are_sealed_with_the_first() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed_old = TokenVault(old).seal({"refresh_token": "r1"})
    rotated = TokenVault(f"{new},{old}")
    assert rotated.open(sealed_old) == {"refresh_token": "r1"}
    resealed = rotated.seal({"refresh_token": "r2"})
    assert TokenVault(new).open(resealed) == {"refresh_token": "r2"}
    assert TokenVault(old).open(resealed) is None  # the old key alone cannot read what the new one sealed
    assert "r2" not in resealed and rotated.open("not a token") is None and rotated.open(None) is None


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"OIDC_ISSUER": ""}, "OIDC_ISSUER"),
        ({"OIDC_CLIENT_ID": ""}, "OIDC_CLIENT_ID"),
        ({"UPSTREAM_TOKEN_KEYS": ""}, "UPSTREAM_TOKEN_KEYS"),
        ({"OIDC_ISSUER": "https://login.microsoftonline.com/t/v2.0"}, "OIDC_ENTRA_TENANT"),
        ({"OIDC_SCOPES": "email profile"}, "OIDC_SCOPES"),
        ({"AUTH_MODE": "external"}, "EXTERNAL_ISSUER"),
    ],
)
def test_a_bad_combination_stops_at_start_naming_the_setting(env: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={**BASE, **env}, env_file=None)
    assert caught.value.message.startswith(names + ":") and "\n" not in caught.value.message


def test_a_key_that_is_not_a_fernet_key_is_named() -> None:
    with pytest.raises(ConfigError) as caught:
        TokenVault("not-a-key")
    assert caught.value.message.startswith("UPSTREAM_TOKEN_KEYS:") and "not-a-key" not in caught.value.message


def test_builtin_stays_the_default_and_needs_none_of_it() -> None:
    assert load_settings(environ={}, env_file=None).auth_mode == "builtin"
