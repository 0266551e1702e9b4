"""The first minutes on a fresh clone: the README's commands as written, one-line errors, connect, progress."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from mssql_mcp.connect_docs import markdown
from tests.support.procs import ROOT, free_port, stop_pid
from tests.support.terminal import run_on_pty

CLI = [sys.executable, "-m", "mssql_mcp"]

# Every command in the README's ```sh blocks, in order, is either run here exactly as written...
RUN = [
    "make run",
    "make run-chatgpt",
    ".venv/bin/mssql-mcp config",
    ".venv/bin/mssql-mcp doctor",
    ".venv/bin/mssql-mcp demo --scale 2 --output data/demo2.sqlite --force",
    ".venv/bin/mssql-mcp connect claude-desktop",
    ".venv/bin/mssql-mcp connect claude-ai",
    ".venv/bin/mssql-mcp connect chatgpt",
    ".venv/bin/mssql-mcp connect inspector",
    ".venv/bin/mssql-mcp users add alice",
    ".venv/bin/mssql-mcp users list",
    ".venv/bin/mssql-mcp users passwd alice",
    ".venv/bin/mssql-mcp users remove alice",
]
# ...or is not meant to run on this machine, for the reason given.
NOT_RUN = {
    "make test": "the whole suite, this test among it",
    "MSSQL_TEST_CONNECTION_STRING='Driver={ODBC Driver 18 for SQL Server};Server=tcp:sql01,1433;Database=Sales;"
    "UID=mcp_reader;PWD=...;Encrypt=yes' .venv/bin/pytest -m live_mssql tests/test_mssql_live.py": (
        "needs a real SQL Server"
    ),
    "cp .env.example .env": "deployment, on the VM",
    "./setup-letsencrypt.sh": "deployment: needs a domain and Docker (tests/test_deploy_letsencrypt.py)",
    "docker compose -f docker-compose.prod.yml up -d --build": "deployment (tests/test_deploy_compose.py)",
    "docker compose -f docker-compose.prod.yml exec mcp-claude python -m mssql_mcp users add alice": "deployment",
}
PASSWORD = "correct horse battery"


def readme_commands() -> list[str]:
    """The commands of the README's ```sh blocks: comments dropped, continuation lines joined."""
    text = (ROOT / "README.md").read_text()
    commands = []
    for block in re.findall(r"^```sh\n(.*?)^```", text, flags=re.S | re.M):
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            command = re.sub(r"\s+#\s.*$", "", line).strip()
            if command and not command.startswith("#"):
                commands.append(" ".join(command.split()))
    return commands


def test_every_readme_command_is_listed_here() -> None:
    assert readme_commands() == [c for c in readme_commands() if c in RUN or c in NOT_RUN]
    assert sorted(set(readme_commands())) == sorted(set(RUN) | set(NOT_RUN)), "update RUN or NOT_RUN"


@pytest.fixture
def clean_env(tmp_path: Path, demo_db: Path) -> dict[str, str]:
    """This machine's environment without the product's settings, the data pointed at `tmp_path`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MSSQL_", "SQLITE_", "OAUTH_", "VENV"))}
    env.pop("PORT", None)
    env.pop("PUBLIC_URL", None)
    env.update(
        {
            "SQLITE_PATH": str(demo_db),
            "OAUTH_STORE_PATH": str(tmp_path / "oauth.sqlite"),
            "HOST": "127.0.0.1",
            "PORT": str(free_port()),
        }
    )
    return env


def start_make(target: str, env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        # Its own session, so the SIGTERM below reaches make and the server it started.
        return subprocess.Popen(
            ["make", target], cwd=ROOT, env=dict(env), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop_make(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)  # the group of the make we started: make and its server
    stop_pid(proc)


def wait_for_block(proc: subprocess.Popen[bytes], log: Path, timeout: float = 240) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if "Stop: Ctrl+C" in text:
            return text
        assert proc.poll() is None, f"`make` exited with {proc.returncode}:\n{text}"
        time.sleep(0.2)
    raise AssertionError(f"no start block within {timeout} s:\n{log.read_text(errors='replace')}")


def register_loopback_client(base: str) -> int:
    body = {
        "client_name": "mcp-remote",
        "redirect_uris": ["http://127.0.0.1:33418/oauth/callback"],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
    }
    request = urllib.request.Request(
        f"{base}/register", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.fixture
def demo2() -> Iterator[Path]:
    path = ROOT / "data" / "demo2.sqlite"  # where the README's command writes it (git ignores data/*.sqlite)
    yield path
    path.unlink(missing_ok=True)


@pytest.mark.slow
def test_readme_commands_run_as_written(clean_env: dict[str, str], tmp_path: Path, demo2: Path) -> None:
    port = clean_env["PORT"]
    blocks = {}
    for target, prefix in (("run", ""), ("run-chatgpt", "/chatgpt")):
        log = tmp_path / f"make-{target}.log"
        proc = start_make(target, clean_env, log)
        try:
            blocks[target] = wait_for_block(proc, log)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{prefix}/health", timeout=10) as resp:
                assert resp.status == 200
            if target == "run":  # local tools (mcp-remote, Inspector) may register their loopback callback
                assert register_loopback_client(f"http://127.0.0.1:{port}") == 201
        finally:
            stop_make(proc)
        before, block = blocks[target].split("=" * 72)[:2]
        assert "Requirement already satisfied" not in before and "Successfully installed" not in before  # quiet
        assert f"MCP URL:     http://localhost:{port}{prefix}/mcp" in block
        assert "Logs: " in block
    first = re.search(r"user: demo   password: (\S+)", blocks["run"])  # the first start shows it once
    assert first, blocks["run"]
    assert first.group(1) not in blocks["run-chatgpt"]  # a later start says how to reset it, as a runnable command
    assert "reset it with: .venv/bin/mssql-mcp users passwd demo" in blocks["run-chatgpt"]

    for command in RUN[2:]:
        if command.endswith(("users add alice", "users passwd alice")):
            answers = [("Password: ", PASSWORD), ("Password again: ", PASSWORD)]
            code, out = run_on_pty(command, env=clean_env, cwd=ROOT, answers=answers)
            output = out
        else:
            done = subprocess.run(
                ["bash", "-c", command], cwd=ROOT, env=clean_env, capture_output=True, text=True, timeout=300
            )
            code, out, output = done.returncode, done.stdout, done.stdout + done.stderr
        assert "command not found" not in output and "No such file" not in output, (command, output)
        assert code == 0, (command, output)
        if command.endswith("users list"):
            assert "alice\t" in out and "demo\t" in out, out
        if command.endswith("connect claude-desktop"):
            assert json.loads(out)["mcpServers"]
    assert demo2.stat().st_size > 0


def run_cli(*args: str, env: Mapping[str, str], stdin: int | None = subprocess.DEVNULL) -> tuple[int, str, str]:
    done = subprocess.run([*CLI, *args], cwd=ROOT, env=dict(env), stdin=stdin, capture_output=True, text=True)
    return done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize("stdin", ["devnull", "closed"])
def test_users_add_without_a_terminal_is_one_line(clean_env: dict[str, str], stdin: str) -> None:
    argv = [*CLI, "users", "add", "carol"]
    if stdin == "closed":  # file descriptor 0 not open at all
        argv = ["bash", "-c", 'exec "$@" <&-', "bash", *argv]
    done = subprocess.run(argv, cwd=ROOT, env=clean_env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert output.count("\n") == 1 and "--password-stdin" in output, output
    assert "Traceback" not in output and "Warning" not in output


def test_users_add_with_password_stdin(clean_env: dict[str, str]) -> None:
    done = subprocess.run(
        [*CLI, "users", "add", "carol", "--password-stdin"],
        cwd=ROOT,
        env=clean_env,
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
    )
    assert (done.returncode, done.stdout) == (0, "added carol\n"), done.stderr
    assert run_cli("users", "list", env=clean_env)[1].startswith("carol\t")


def test_a_taken_port_stops_the_start_in_one_line_naming_port(clean_env: dict[str, str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**clean_env, "PORT": str(port)}
        started = time.monotonic()
        proc = subprocess.Popen(
            [*CLI, "serve", "--demo"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        try:
            out, _ = proc.communicate(timeout=30)
        finally:
            stop_pid(proc)
    elapsed = time.monotonic() - started
    text = out.decode()
    assert proc.returncode != 0
    assert text.count("\n") == 1 and "PORT" in text and str(port) in text, text
    assert "startup complete" not in text and "Demo sign-in" not in text
    assert elapsed < 20, elapsed  # mostly the interpreter's imports, on a busy machine


def test_a_missing_env_value_names_the_setting(clean_env: dict[str, str], tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("MSSQL_HOST=sql01.example.test\n")
    code, out, err = run_cli("--env-file", str(env_file), "serve", env=clean_env)
    assert code != 0 and out == ""
    assert err.count("\n") == 1 and err.startswith("mssql-mcp: MSSQL_USER: not set"), err

    env_file.write_text("MSSQL_HOST=sql01.example.test\nMSSQL_USER=reader\n")
    code, out, err = run_cli("--env-file", str(env_file), "serve", env=clean_env)
    assert code != 0 and err.startswith("mssql-mcp: MSSQL_PASSWORD: not set"), err

    env_file.write_text("PORT=eighty\n")
    no_port = {k: v for k, v in clean_env.items() if k != "PORT"}  # the environment wins over .env
    code, out, err = run_cli("--env-file", str(env_file), "serve", env=no_port)
    assert code != 0 and err.startswith("mssql-mcp: PORT: bad value 'eighty'") and err.count("\n") == 1, err


def test_connect_claude_desktop_prints_json_with_the_servers_url(clean_env: dict[str, str]) -> None:
    env = {**clean_env, "PUBLIC_URL": "https://db.example.test"}
    code, out, err = run_cli("connect", "claude-desktop", env=env)
    assert code == 0
    entry = json.loads(out)  # piped: the snippet alone
    assert entry["mcpServers"]["mssql-mcp"]["args"][-1] == "https://db.example.test/mcp"
    assert "claude_desktop_config.json" in err  # the steps, for the person reading

    code, out, _ = run_cli("connect", "chatgpt", env=env)
    assert (code, out) == (0, "https://db.example.test/chatgpt/mcp\n")

    code, output = run_on_pty([*CLI, "connect", "claude-desktop"], env=env, cwd=ROOT)
    assert code == 0 and "Restart Claude Desktop" in output and "https://db.example.test/mcp" in output


def test_demo_shows_progress_on_a_terminal_only(clean_env: dict[str, str], tmp_path: Path) -> None:
    argv = [*CLI, "demo", "--scale", "1", "--force", "--output"]
    code, output = run_on_pty([*argv, str(tmp_path / "a.sqlite")], env=clean_env, cwd=ROOT)
    assert code == 0, output
    assert "  0%" in output or "  1%" in output
    assert "] 100%" in output and output.count("\r") > 20  # redrawn in place, many times

    code, out, err = run_cli(*argv[3:], str(tmp_path / "b.sqlite"), env=clean_env)
    assert code == 0 and err == "" and "%" not in out
    assert out.count("\n") == 1 and out.startswith("wrote ")


def test_connect_docs_are_the_connect_guides() -> None:
    assert (ROOT / "docs" / "connect.md").read_text() == markdown(), "docs/connect.md is stale: run `make docs`"


def test_the_users_cli_makes_no_argon2_hash_at_import() -> None:
    code = (
        "import mssql_mcp.cli, mssql_mcp.oauth.users_cli\n"
        "from mssql_mcp.oauth import users\n"
        "assert users._dummy_hash.cache_info().currsize == 0\n"
        "assert 'mcp' not in __import__('sys').modules\n"
        "users.warm_up()  # what the server does at start\n"
        "assert users._dummy_hash.cache_info().currsize == 1\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


ODBC_PIN = re.findall(r"^mssql-python-odbc==(\S+)", (ROOT / "requirements.txt").read_text(), re.M)[0]
FAKE_PYTHON = """#!/usr/bin/env bash
# Stands in for python3 and pip: says a lot, as they do, and fails when asked to.
echo "NOISE $*"
echo "NOISE on stderr" >&2
if [ "$1" = -m ] && [ "$2" = venv ]; then mkdir -p "$3/bin" && cp "$0" "$3/bin/python"; fi
case " $* " in *" $FAIL_ON "*) echo "ERROR: the failing step"; exit 1 ;; esac
exit 0
"""


@pytest.mark.parametrize("fail_on", ["", "requirements.txt"])
def test_bootstrap_is_quiet_and_shows_its_log_on_failure(tmp_path: Path, fail_on: str) -> None:
    fake = tmp_path / "python3"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    venv = tmp_path / "venv"
    env = {**os.environ, "VENV": str(venv), "PYTHON": str(fake), "FAIL_ON": fail_on}
    done = subprocess.run(["scripts/bootstrap.sh", "run"], cwd=ROOT, env=env, capture_output=True, text=True)
    log = venv / "bootstrap.log"
    assert "NOISE" in log.read_text()
    if not fail_on:
        assert done.returncode == 0, done.stderr
        assert "NOISE" not in done.stdout + done.stderr  # it all went to the log
        assert done.stdout.splitlines() == [  # one line per thing done (the fake has no ODBC wheel: installed)
            f"bootstrap: creating virtualenv {venv}",
            f"bootstrap: installing Python packages into {venv} (log: {log})",
            "bootstrap: installing mssql-python-odbc==" + ODBC_PIN,
        ]
    else:
        assert done.returncode != 0
        assert f"pip install -r requirements.txt failed. The end of {log}:" in done.stderr
        assert "ERROR: the failing step" in done.stderr
