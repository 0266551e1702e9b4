"""Shared fixtures: a generated demo database and a real Claude-face server on a loopback port."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.chatgpt_contract import TEST_ID_KEY
from tests.support.procs import ServerProcess, running_server


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo database at scale 1, generated once per test session by the product's own generator."""
    from mssql_mcp.demo import generate

    path = tmp_path_factory.mktemp("demo") / "demo.sqlite"
    generate(path, scale=1)
    return path


@pytest.fixture
def demo_copy(demo_db: Path, tmp_path: Path) -> Path:
    """A private copy, for tests that write or damage it."""
    dst = tmp_path / "demo.sqlite"
    shutil.copy(demo_db, dst)
    return dst


# The settings the shared server runs with: small caps so truncation and timeouts are quick to reach.
SERVER_MAX_ROWS = 50
SERVER_TIMEOUT = 2.0


@pytest.fixture(scope="session")
def dev_server_env(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return {
        "SQLITE_PATH": str(demo_db),
        "OAUTH_STORE_PATH": str(tmp_path_factory.mktemp("dev-oauth") / "oauth.sqlite"),
        "MAX_ROWS": str(SERVER_MAX_ROWS),
        "QUERY_TIMEOUT_SECONDS": str(SERVER_TIMEOUT),
        "ALLOW_UNAUTH_METHODS": "true",
        "ALLOW_UNAUTH_TOOLS_CALL": "true",
        "LOG_LEVEL": "INFO",
        "RECORD_ID_KEYS": TEST_ID_KEY,  # so tests can name ChatGPT records directly (chatgpt_contract.signed)
    }


@pytest.fixture(scope="session")
def dev_server(dev_server_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The Claude face in its explicit no-sign-in dev mode, shared by the tool tests."""
    with running_server(dev_server_env, tmp_path_factory.mktemp("dev-server")) as server:
        yield server
