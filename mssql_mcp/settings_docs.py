"""The settings table rendered for people: `mssql-mcp config`, the README's table and `.env.example`.

Generated from the one declaration in `mssql_mcp/settings/`, so the docs cannot drift from the code
(tests/test_settings.py fails when the committed copies are stale).
"""

from __future__ import annotations

from typing import Any

from mssql_mcp.settings import Settings, rows


def display_value(value: Any, secret: bool) -> str:
    if value is None:
        return ""
    if secret:
        return "********"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value)


def effective_items(s: Settings) -> list[tuple[str, str]]:
    """(variable, value) for every setting, secrets masked."""
    return [(r.env, display_value(getattr(s, r.name), r.secret)) for r in rows()]


def markdown_table() -> str:
    lines = ["| Variable | Type | Default | Description |", "|---|---|---|---|"]
    for r in rows():
        default = display_value(r.default, False)
        kind = r.type_name.replace("|", "\\|")  # choices are written a | b: escaped, or they split the cell
        lines.append(f"| `{r.env}` | {kind} | {f'`{default}`' if default else '—'} | {r.help} |")
    return "\n".join(lines) + "\n"


# Read by docker-compose.prod.yml and setup-letsencrypt.sh, never by the app: listed so .env.example is complete.
DEPLOY_VARIABLES: tuple[tuple[str, str, str], ...] = (
    (
        "DOMAIN",
        "",
        "Public name nginx serves and Let's Encrypt certifies (PUBLIC_URL is https://DOMAIN); "
        "setup-letsencrypt.sh adds it.",
    ),
    (
        "NGINX_IP",
        "172.30.0.10",
        "nginx's fixed address on the Compose network: the apps trust X-Forwarded-* from it alone.",
    ),
    (
        "REDIS_PASSWORD",
        "",
        "The app user's password on the Compose `redis` service (profile redis; docs/scaling.md). Put it in "
        "STORE_URL too: redis://app:PASSWORD@redis:6379/0.",
    ),
    (
        "BACKEND_SUBNET",
        "172.30.0.0/24",
        "The Compose network's subnet; change it, with NGINX_IP, if it collides with one of yours.",
    ),
)


def env_example() -> str:
    out = [
        "# mssql-mcp settings. Generated from mssql_mcp/settings/ by `mssql-mcp config --env-example`.",
        "# Every variable is optional; the values shown are the defaults.",
        "",
    ]
    group = None
    for r in rows():
        if r.group != group:
            group = r.group
            out.append(f"# --- {group} ---")
        out.append(f"# {r.help}")
        out.append(f"{'' if r.default is not None else '# '}{r.env}={display_value(r.default, False)}")
    out.append("# --- deployment (docker-compose.prod.yml; not read by the app) ---")
    for name, default, help_text in DEPLOY_VARIABLES:
        out.append(f"# {help_text}")
        out.append(f"{'' if default else '# '}{name}={default}")
    return "\n".join(out) + "\n"
