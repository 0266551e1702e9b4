"""`Settings`: the one table of settings, assembled from its groups of rows, with the values derived from it.

Each group is a frozen dataclass in its own module; `Settings` inherits them all, so `dataclasses.fields(Settings)`
is the whole table, in the order of the bases below read from last to first (server rows first).
"""

from __future__ import annotations

from dataclasses import dataclass

from mssql_mcp.settings.checks import check
from mssql_mcp.settings.identity_rows import IdentityRows
from mssql_mcp.settings.obo_rows import OboRows
from mssql_mcp.settings.query_rows import QueryRows
from mssql_mcp.settings.server_rows import ServerRows
from mssql_mcp.settings.signin_rows import SigninRows


@dataclass(frozen=True)
class Settings(OboRows, IdentityRows, SigninRows, QueryRows, ServerRows):
    def __post_init__(self) -> None:
        check(self)

    # Derived values: computed here so every caller agrees.
    def effective_port(self, face_default: int) -> int:
        return self.port if self.port is not None else face_default

    def effective_public_url(self, face_default_port: int) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "localhost" if self.host in ("0.0.0.0", "127.0.0.1", "::") else self.host
        return f"http://{host}:{self.effective_port(face_default_port)}"

    @property
    def uses_mssql(self) -> bool:
        return bool(self.mssql_host)
