"""A real redis-server (Debian's) on a loopback port, in its own directory, started and stopped by PID.

AOF on and RDB snapshots off, as docs/scaling.md recommends, so a restart on the same directory and port
brings back what was written (the outage tests stop and start it).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis

from tests.support.procs import ROOT, free_port, stop_pid


class RedisServer:
    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        exe = shutil.which("redis-server")
        if exe is None:
            pytest.skip("redis-server is not installed (make test's bootstrap installs it)")
        log = open(self.dir / "redis.log", "ab")  # noqa: SIM115 - the child holds it open
        options = {
            "port": str(self.port),
            "bind": "127.0.0.1",
            "dir": str(self.dir),
            "save": "",
            "appendonly": "yes",
            "appendfsync": "everysec",
            "maxmemory-policy": "noeviction",
        }
        self.proc = subprocess.Popen(
            [exe, *(x for name, value in options.items() for x in (f"--{name}", value))],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited: {(self.dir / 'redis.log').read_text()[-2000:]}")
            if _answers(self.port):
                return self
            time.sleep(0.02)
        raise RuntimeError("redis-server did not answer within 10 s")

    def app_user_url(self, password: str = "app-test-password") -> str:
        """Create the ACL user docs/scaling.md gives (its rule line, password replaced) and return its URL, so
        the tests prove that ACL is enough for the store and forbids what it says it forbids."""
        rules = app_acl_rules().replace("CHANGE-ME", password).split()
        client = redis.Redis(port=self.port)
        try:
            client.execute_command("ACL", "SETUSER", "app", "reset", *rules)
        finally:
            client.close()
        return f"redis://app:{password}@127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.proc is not None:
            stop_pid(self.proc)
            self.proc = None


def app_acl_rules() -> str:
    """The rules of the `user app ...` line in docs/scaling.md."""
    for line in (ROOT / "docs" / "scaling.md").read_text().splitlines():
        if line.strip().startswith("user app "):
            return line.strip().removeprefix("user app ")
    raise AssertionError("docs/scaling.md gives no `user app ...` ACL line")


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False
