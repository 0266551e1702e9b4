"""Settings rows: DB_IDENTITY=entra_obo, Azure SQL as the person through Microsoft Entra's on-behalf-of grant."""

from __future__ import annotations

from dataclasses import dataclass

from mssql_mcp.settings.fields import Secret, setting


@dataclass(frozen=True)
class OboRows:
    db_obo_authority: str | None = setting(
        "DB_OBO_AUTHORITY",
        None,
        "DB_IDENTITY=entra_obo: the Entra authority the on-behalf-of exchange goes to (https; unset: "
        "https://login.microsoftonline.com/OIDC_ENTRA_TENANT).",
        group="identity",
    )
    db_obo_client_id: str | None = setting(
        "DB_OBO_CLIENT_ID",
        None,
        "DB_IDENTITY=entra_obo: the app registration that receives the person's token and exchanges it "
        "(unset: OIDC_CLIENT_ID).",
        group="identity",
    )
    db_obo_client_secret: Secret | None = setting(
        "DB_OBO_CLIENT_SECRET",
        None,
        "DB_IDENTITY=entra_obo: that app registration's client secret (unset: OIDC_CLIENT_SECRET).",
        group="identity",
        secret=True,
    )
    db_obo_scope: str = setting(
        "DB_OBO_SCOPE",
        "https://database.windows.net/.default",
        "DB_IDENTITY=entra_obo: the scope asked for (Azure SQL's; sovereign clouds have their own).",
        group="identity",
    )
    db_obo_max_people: int = setting(
        "DB_OBO_MAX_PEOPLE",
        50,
        "DB_IDENTITY=entra_obo: at most this many people hold pooled connections; past it the least recently "
        "idle person's connections are closed, and if every one is busy the newcomer is asked to retry.",
        group="identity",
    )
    db_obo_connections_per_person: int = setting(
        "DB_OBO_CONNECTIONS_PER_PERSON",
        2,
        "DB_IDENTITY=entra_obo: pooled connections per person (their calls past it wait).",
        group="identity",
    )
    db_obo_idle_seconds: int = setting(
        "DB_OBO_IDLE_SECONDS",
        300,
        "DB_IDENTITY=entra_obo: a person's connections close after this long without a call.",
        group="identity",
    )
