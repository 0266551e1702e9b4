"""A person from the identity provider reaches the database layer with their record's issuer and groups, and
their e-mail only when the sign-in rules guarantee it was verified (OIDC_ALLOWED_DOMAINS)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mssql_mcp.db.identity import session_values
from mssql_mcp.faces.common import people_lookup
from mssql_mcp.oauth.clients import ClientPolicy
from mssql_mcp.oauth.provider import Provider
from mssql_mcp.oauth.sqlite_store import SqliteStore
from mssql_mcp.oauth.store import PersonRecord
from mssql_mcp.oauth.tokens import TokenPolicy
from mssql_mcp.settings import load_settings

pytestmark = pytest.mark.anyio
ISSUER = "https://login.example.com/tenant/v2.0"
KEY = "oidc:entra:tenant#object-id"  # an Entra key names the tenant, not the issuer: the record does


async def test_the_record_gives_issuer_groups_and_a_verified_email(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite")
    store.save_person(PersonRecord(KEY, ISSUER, "sub", "dana@example.com", "Dana", ("hr", "it"), 1.0, 1.0))
    clients = ClientPolicy((), allow_loopback=True, metadata_documents=False)
    provider = Provider(store, clients, TokenPolicy("http://127.0.0.1:9", ("http://127.0.0.1:9/mcp",), 60, 600))
    try:
        verified = people_lookup(provider, load_settings({"OIDC_ALLOWED_DOMAINS": "example.com"}, env_file=None))
        unverified = people_lookup(provider, load_settings({}, env_file=None))
        assert verified is not None and unverified is not None
        dana = await verified(KEY)
        assert (dana.key, dana.issuer, dana.email, dana.groups) == (KEY, ISSUER, "dana@example.com", ("hr", "it"))
        values = dict(session_values(dana))
        assert values["mcp_issuer"] == ISSUER and values["mcp_groups"] == '["hr", "it"]'
        assert (await unverified(KEY)).email is None  # no domain rule: the e-mail may be unverified
        stranger = await verified("oidc:https://idp.example.com#gone")  # no record: the key alone
        assert stranger.issuer == "https://idp.example.com" and stranger.email is None and stranger.groups == ()
        assert people_lookup(None, load_settings({}, env_file=None)) is None
    finally:
        provider.close()


async def test_a_call_reads_the_record_once_per_while_and_a_sign_in_here_at_once(tmp_path: Path) -> None:
    """Tool calls take the person from a short-lived cache: a store change by another process is seen when
    the entry expires; a sign-in through this process (save_person) at once."""
    from mssql_mcp.oauth.people_cache import PERSON_CACHE_SECONDS, PersonCache

    store = SqliteStore(tmp_path / "s.sqlite")
    clients = ClientPolicy((), allow_loopback=True, metadata_documents=False)
    provider = Provider(store, clients, TokenPolicy("http://127.0.0.1:9", ("http://127.0.0.1:9/mcp",), 60, 600))
    now = [0.0]
    provider.people = PersonCache(provider.person, timer=lambda: now[0])
    dana = PersonRecord(KEY, ISSUER, "sub", "dana@example.com", "Dana", ("hr",), 1.0, 1.0)
    try:
        store.save_person(dana)
        lookup = people_lookup(provider, load_settings({}, env_file=None))
        assert lookup is not None
        assert (await lookup(KEY)).groups == ("hr",)
        other = SqliteStore(tmp_path / "s.sqlite")  # another process signs her in with new groups
        other.save_person(PersonRecord(KEY, ISSUER, "sub", None, "Dana", ("it",), 1.0, 2.0))
        other.close()
        assert (await lookup(KEY)).groups == ("hr",)  # kept: no store read on this call
        now[0] += PERSON_CACHE_SECONDS + 1
        assert (await lookup(KEY)).groups == ("it",)
        await provider.save_person(PersonRecord(KEY, ISSUER, "sub", None, "Dana", ("ops",), 1.0, 3.0))
        assert (await lookup(KEY)).groups == ("ops",)  # signed in through this process: seen at once
    finally:
        provider.close()
