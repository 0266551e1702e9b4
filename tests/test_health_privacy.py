"""/health answers anyone: a degraded database gets a generic reason there, and its detail goes to the log.

The MCP server runs as a user runs it, against the TDS test server through FreeTDS: first with nothing
listening on its port (an outage), then with the server up, then with a wrong password. The body of
/health never carries the login name, the host and port or the driver's words; the log carries the
detail once per change of state, not once per probe.
"""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

from tests.support.procs import ServerProcess, free_port, running_server
from tests.support.tds import TdsServer
from tests.support.tds.fixtures import DRIVER_CASES, backend_env

FREETDS = next(c for c in DRIVER_CASES if c.id == "freetds")
LOGIN = "health_probe_login"
GENERIC = {"database unavailable", "database not answering", "database workers busy"}
# What a driver or SQL Server would say about a failed connection or login.
DRIVER_WORDS = ("ODBC", "SQLSTATE", "FreeTDS", "[Microsoft]", "Login failed", "18456", "SQL Server", "Adaptive Server")


def health(server: ServerProcess) -> tuple[dict[str, object], str]:
    with urllib.request.urlopen(server.base_url + "/health", timeout=10) as response:
        raw = response.read().decode()
    return json.loads(raw), raw


def log_lines(server: ServerProcess, name: str) -> list[str]:
    return [line for line in server.log().splitlines() if f"msg={name}" in line]


def assert_generic(body: dict[str, object], raw: str, *, port: int) -> None:
    assert body["status"] == "degraded" and body["reason"] in GENERIC, body
    for secret in (LOGIN, "127.0.0.1", str(port), *DRIVER_WORDS):
        assert secret not in raw, (secret, raw)


def test_an_unreachable_sql_server_is_degraded_with_a_generic_reason_and_the_detail_in_the_log(
    demo_db: Path, dev_server_env: dict[str, str], tmp_path: Path
) -> None:
    tds = TdsServer(demo_db, tmp_path / "tds", user=LOGIN, port=free_port())
    env = {**dev_server_env, **backend_env(tds, FREETDS)}  # nothing listens on the port yet
    with running_server(env, tmp_path) as server:
        for _ in range(5):  # a load balancer's probes: the first degraded state is logged once
            body, raw = health(server)
            assert_generic(body, raw, port=tds.port)
        degraded = log_lines(server, "health_degraded")
        assert len(degraded) == 1, degraded
        assert f"127.0.0.1,{tds.port}" in degraded[0] and "reason=" in degraded[0]
        with tds.running():
            deadline = time.monotonic() + 20
            while health(server)[0]["status"] != "ok" and time.monotonic() < deadline:
                time.sleep(0.2)
            body, _ = health(server)
            assert body["status"] == "ok" and "reason" not in body
        assert len(log_lines(server, "health_ok")) == 1
        assert server.proc.poll() is None


def test_a_refused_login_is_degraded_without_the_login_name_or_the_servers_words(
    demo_db: Path, dev_server_env: dict[str, str], tmp_path: Path
) -> None:
    tds = TdsServer(demo_db, tmp_path / "tds", user=LOGIN)
    with tds.running():
        env = {**dev_server_env, **backend_env(tds, FREETDS, MSSQL_PASSWORD="not-the-password")}
        with running_server(env, tmp_path) as server:
            for _ in range(3):
                body, raw = health(server)
                assert_generic(body, raw, port=tds.port)
                assert "not-the-password" not in raw
            degraded = log_lines(server, "health_degraded")
            assert len(degraded) == 1 and "18456" in degraded[0], degraded
            assert "not-the-password" not in server.log()


def test_the_embedded_databases_reason_is_generic_too(tmp_path: Path) -> None:
    broken = tmp_path / "broken.sqlite"
    broken.write_bytes(b"this is not a database" * 100)
    env = {"SQLITE_PATH": str(broken), "ALLOW_UNAUTH_METHODS": "1", "ALLOW_UNAUTH_TOOLS_CALL": "1"}
    with running_server(env, tmp_path) as server:
        body, raw = health(server)
        assert body == {**body, "status": "degraded", "reason": "database unavailable"}
        assert "broken.sqlite" not in raw and "not a database" not in raw
        assert "broken.sqlite" in log_lines(server, "health_degraded")[0]
