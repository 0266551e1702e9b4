"""Signed record ids: the tag, key rotation, ids from before signing, and where the key comes from.

The end-to-end refusals (fetch and record pages of a running server) are in test_tools.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mssql_mcp.errors import ConfigError
from mssql_mcp.faces.chatgpt import ids
from mssql_mcp.faces.chatgpt.signing import ForeignId, IdSigner, OutdatedId, signer_for
from mssql_mcp.oauth import AuthComponents, build_auth
from mssql_mcp.oauth.sqlite_store import SqliteStore
from mssql_mcp.settings import Settings, load_settings

OLD, NEW = b"o" * 32, b"n" * 32
ROW = ids.RowId(ids.TableName("dbo", "Customers"), (("CustomerID", 1),))


def test_an_id_is_its_text_plus_a_tag_that_only_the_keys_verify() -> None:
    signer = IdSigner([OLD])
    record_id = signer.id(ROW)
    body, sep, tag = record_id.rpartition("~")
    assert body == "row:dbo.Customers:CustomerID=1" and sep and len(tag) == 22
    assert signer.parse(record_id) == ROW and signer.verify(f"  {record_id} ") == body
    for edited in (
        record_id.replace("=1~", "=2~"),  # another row under the same tag
        body + "~" + tag[::-1],  # another tag
        IdSigner([b"x" * 32]).id(ROW),  # signed with a key this server never had
    ):
        with pytest.raises(ForeignId) as refused:
            signer.verify(edited)
        assert "dbo" not in refused.value.message and "\n" not in refused.value.message


def test_rotation_signs_with_the_first_key_and_accepts_the_old_ones() -> None:
    before = IdSigner([OLD]).id(ROW)
    rotated = IdSigner([NEW, OLD])
    assert rotated.parse(before) == ROW
    assert rotated.id(ROW) != before and IdSigner([NEW]).parse(rotated.id(ROW)) == ROW
    with pytest.raises(ForeignId):
        IdSigner([NEW]).verify(before)  # once the old key is dropped, its ids are refused


def test_an_id_from_before_signing_is_out_of_date_and_garbage_is_foreign() -> None:
    signer = IdSigner([OLD])
    for legacy in ("catalog:tables", "row:dbo.Customers:Code='a~b'", ids.format_id(ids.QueryId("SELECT 1"))):
        with pytest.raises(OutdatedId) as old:
            signer.verify(legacy)
        assert old.value.message == "This link is out of date; search again."
    for garbage in ("", "Customers", "<script>alert(1)</script>", "table:dbo.X~short"):
        with pytest.raises(ForeignId):
            signer.verify(garbage)


def settings_with(tmp_path: Path, **env: str) -> Settings:
    return load_settings(environ={"OAUTH_STORE_PATH": str(tmp_path / "oauth.sqlite"), **env}, env_file=None)


def test_keys_from_the_setting_rotate_and_must_be_long(tmp_path: Path) -> None:
    old, new = "o" * 32, "n" * 32
    before = signer_for(settings_with(tmp_path, RECORD_ID_KEYS=old), None).id(ROW)
    rotated = signer_for(settings_with(tmp_path, RECORD_ID_KEYS=f"{new}, {old}"), None)
    assert rotated.parse(before) == ROW and rotated.id(ROW) == IdSigner([new.encode()]).id(ROW)
    with pytest.raises(ConfigError, match="RECORD_ID_KEYS"):
        signer_for(settings_with(tmp_path, RECORD_ID_KEYS=f"{new},too-short"), None)


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[tuple[AuthComponents, AuthComponents, AuthComponents]]:
    """Two faces' sign-in over one OAuth store (replicas sharing it), and one over a store of its own."""
    shared, own = SqliteStore(tmp_path / "shared.sqlite"), SqliteStore(tmp_path / "own.sqlite")
    settings = settings_with(tmp_path)
    built = [build_auth(settings, issuer_url="http://127.0.0.1:9/chatgpt", store=s) for s in (shared, shared, own)]
    yield built[0], built[1], built[2]
    for auth in built:
        assert auth.provider is not None
        auth.provider.close()
    shared.close()
    own.close()


def test_without_the_setting_the_key_comes_from_the_oauth_store_and_replicas_share_it(
    tmp_path: Path, replicas: tuple[AuthComponents, AuthComponents, AuthComponents]
) -> None:
    settings = settings_with(tmp_path)
    first, second, elsewhere = (signer_for(settings, auth) for auth in replicas)
    record_id = first.id(ROW)
    assert second.parse(record_id) == ROW
    with pytest.raises(ForeignId):
        elsewhere.verify(record_id)
    # No store at all (sign-in off): a key for this process only.
    assert signer_for(settings, None).id(ROW) != signer_for(settings, None).id(ROW)
