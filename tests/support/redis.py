"""A real redis-server (Debian's) on a loopback port, in its own directory, started and stopped by PID.

AOF on and RDB snapshots off, as docs/scaling.md recommends, so a restart on the same directory and port
brings back what was written (the outage tests stop and start it).
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest
import redis

from tests.support.procs import ROOT, free_port, stop_pid
from tests.support.tlsca import Pair


class RedisServer:
    def __init__(
        self, directory: Path, port: int | None = None, *, replica_of: int | None = None, tls: Pair | None = None
    ) -> None:
        self.replica_of = replica_of
        self.tls = tls  # TLS only (no plain port), with this certificate and key
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
            **({"port": "0", "tls-port": str(self.port)} if self.tls else {}),
            **(
                {"tls-cert-file": str(self.tls.cert), "tls-key-file": str(self.tls.key), "tls-auth-clients": "no"}
                if self.tls
                else {}
            ),
            "appendfsync": "everysec",
            "maxmemory-policy": "noeviction",
        }
        self.proc = subprocess.Popen(
            [
                exe,
                *(x for name, value in options.items() for x in (f"--{name}", value)),
                *(("--replicaof", "127.0.0.1", str(self.replica_of)) if self.replica_of else ()),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited: {(self.dir / 'redis.log').read_text()[-2000:]}")
            if _answers(self.port, tls=self.tls is not None):
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


class RedisSentinel:
    """One redis-sentinel watching the primary on `primary_port` as service `mymaster`: quorum 1, and a
    primary that does not answer for half a second is failed over."""

    def __init__(self, directory: Path, primary_port: int) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.primary_port = primary_port
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisSentinel:
        exe = shutil.which("redis-sentinel")
        if exe is None:
            pytest.skip("redis-sentinel is not installed (make test's bootstrap installs it)")
        conf = self.dir / "sentinel.conf"  # Sentinel rewrites its own file: it must be writable
        conf.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {self.dir}\n"
            f"sentinel monitor mymaster 127.0.0.1 {self.primary_port} 1\n"
            "sentinel down-after-milliseconds mymaster 500\nsentinel failover-timeout mymaster 5000\n"
        )
        with open(self.dir / "sentinel.log", "ab") as log:
            self.proc = subprocess.Popen([exe, str(conf)], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while not _answers(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-sentinel did not start: {(self.dir / 'sentinel.log').read_text()[-2000:]}")
            time.sleep(0.02)
        return self

    def primary(self) -> int:
        client = redis.Redis(port=self.port)
        try:
            return int(client.sentinel_get_master_addr_by_name("mymaster")[1])
        finally:
            client.close()

    def knows_a_replica(self) -> bool:
        client = redis.Redis(port=self.port, decode_responses=True)
        try:
            replicas = client.sentinel_slaves("mymaster")
        finally:
            client.close()
        return any("s_down" not in r["flags"] and r.get("master-link-status") == "ok" for r in replicas)

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


def _answers(port: int, *, tls: bool = False) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as raw:
            if tls:  # only "is it up?": the tests check the certificate themselves
                context = ssl.create_default_context()
                context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
                with context.wrap_socket(raw) as s:
                    s.sendall(b"PING\r\n")
                    return s.recv(16).startswith(b"+PONG")
            raw.sendall(b"PING\r\n")
            return raw.recv(16).startswith(b"+PONG")
    except OSError:
        return False
