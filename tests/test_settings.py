"""The settings table: parsing, bad values, secrets, and the docs generated from it."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from mssql_mcp.errors import ConfigError
from mssql_mcp.settings import Secret, Settings, load_settings, rows
from mssql_mcp.settings_docs import env_example, markdown_table

ROOT = Path(__file__).resolve().parents[1]

ORIGINAL_ENV = [
    "MSSQL_HOST",
    "MSSQL_USER",
    "MSSQL_PASSWORD",
    "MSSQL_DATABASE",
    "MSSQL_DRIVER",
    "TrustServerCertificate",
    "Trusted_Connection",
    "READ_ONLY_MODE",
    "ALLOWED_REDIRECT_HOSTS",
    "ALLOW_UNAUTH_METHODS",
    "ALLOW_UNAUTH_TOOLS_CALL",
    "MAX_SEARCH_RESULTS",
    "CACHE_TTL_SECONDS",
    "LOG_LEVEL",
]
ADDED = ["HOST", "PORT", "PUBLIC_URL", "SQLITE_PATH", "MAX_ROWS", "QUERY_TIMEOUT_SECONDS"]


def test_every_original_and_new_variable_is_declared() -> None:
    declared = {r.env for r in rows()}
    assert set(ORIGINAL_ENV + ADDED) <= declared


def test_defaults_are_secure() -> None:
    s = load_settings({}, env_file=None)
    assert s.read_only_mode is True and s.allow_ddl is False
    assert s.allow_unauth_methods is False and s.allow_unauth_tools_call is False
    assert s.max_rows == 1000 and s.query_timeout_seconds == 30 and s.sqlite_path == Path("data/demo.sqlite")
    assert s.effective_port(8008) == 8008 and s.effective_public_url(8008) == "http://localhost:8008"


def test_values_parse_from_environment_over_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("MAX_ROWS=5\nREAD_ONLY_MODE=no\nTrustServerCertificate=yes\nPORT=9100\n")
    s = load_settings({"MAX_ROWS": "7", "ALLOWED_REDIRECT_HOSTS": " a.example , b.example ,"}, env_file=env_file)
    assert s.max_rows == 7  # the environment wins over .env
    assert s.read_only_mode is False and s.trust_server_certificate is True and s.port == 9100
    assert s.allowed_redirect_hosts == ("a.example", "b.example")


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"PORT": "eighty"}, "PORT"),
        ({"PORT": "70000"}, "PORT"),
        ({"READ_ONLY_MODE": "perhaps"}, "READ_ONLY_MODE"),
        ({"MAX_ROWS": "0"}, "MAX_ROWS"),
        ({"QUERY_TIMEOUT_SECONDS": "soon"}, "QUERY_TIMEOUT_SECONDS"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
    ],
)
def test_a_bad_value_names_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env, env_file=None)
    assert info.value.message.startswith(variable + ":")


def test_a_bad_value_stops_the_start_with_one_line(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mssql_mcp", "--env-file", str(tmp_path / "none"), "serve"],
        env={"PATH": "/usr/bin:/bin", "PORT": "not-a-port"},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == "mssql-mcp: PORT: bad value 'not-a-port': expected int."


def test_secrets_never_appear_in_repr_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    s = load_settings({"MSSQL_PASSWORD": "hunter2-secret"}, env_file=None)
    assert isinstance(s.mssql_password, Secret) and s.mssql_password.reveal() == "hunter2-secret"
    with caplog.at_level(logging.INFO):
        logging.getLogger("t").info("settings: %s %r", s, s)
    assert "hunter2" not in repr(s) and "hunter2" not in str(s) and "hunter2" not in caplog.text


def test_config_command_masks_secrets(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mssql_mcp", "--env-file", str(tmp_path / "none"), "config"],
        env={"PATH": "/usr/bin:/bin", "MSSQL_PASSWORD": "hunter2-secret", "MAX_ROWS": "12"},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    lines = dict(line.split(None, 1) for line in proc.stdout.splitlines() if len(line.split(None, 1)) == 2)
    assert lines["MSSQL_PASSWORD"] == "********" and lines["MAX_ROWS"] == "12"
    assert "hunter2" not in proc.stdout


def test_readme_table_and_env_example_match_the_declaration() -> None:
    readme = (ROOT / "README.md").read_text()
    assert markdown_table() in readme, "README table is stale: run `make docs`"
    assert (ROOT / ".env.example").read_text() == env_example(), "stale: mssql-mcp config --env-example > .env.example"


def test_settings_are_frozen() -> None:
    s = Settings()
    with pytest.raises(AttributeError):
        s.max_rows = 5  # type: ignore[misc]
