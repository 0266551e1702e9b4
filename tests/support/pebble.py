"""Pebble, Let's Encrypt's ACME test server (Debian's package), with pebble-challtestsrv as its DNS.

challtestsrv answers every name with 127.0.0.1 (and no IPv6 address), so pebble validates http-01 at
127.0.0.1:<http_port>: point the nginx under test at that port. Pebble's own TLS certificate comes from a
throwaway CA (Debian ships no test certificates); certbot trusts it through REQUESTS_CA_BUNDLE.
"""

from __future__ import annotations

import contextlib
import json
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support import tlsca
from tests.support.procs import free_port, stop_pid


@dataclass(frozen=True)
class Acme:
    directory: str
    ca_bundle: Path
    http_port: int
    log: Path

    def env(self) -> dict[str, str]:
        """What certbot needs in its environment to trust pebble."""
        return {"REQUESTS_CA_BUNDLE": str(self.ca_bundle)}


def _start(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)


def _wait_directory(url: str, ctx: ssl.SSLContext, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"pebble exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(url, context=ctx, timeout=2) as resp:
                json.load(resp)
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"pebble did not serve {url}:\n{log.read_text(errors='replace')}")


@contextlib.contextmanager
def running_pebble(tmp: Path, http_port: int) -> Iterator[Acme]:
    tmp.mkdir(parents=True, exist_ok=True)
    ca = tlsca.make_ca(tmp / "ca", "pebble throwaway CA")
    leaf = tlsca.issue(ca, tmp / "ca", ["localhost", "127.0.0.1"], stem="pebble")
    dns_port, chall_mgmt, acme_port, mgmt_port, tls_port = (free_port() for _ in range(5))
    config = tmp / "pebble-config.json"
    config.write_text(
        json.dumps(
            {
                "pebble": {
                    "listenAddress": f"127.0.0.1:{acme_port}",
                    "managementListenAddress": f"127.0.0.1:{mgmt_port}",
                    "certificate": str(leaf.cert),
                    "privateKey": str(leaf.key),
                    "httpPort": http_port,
                    "tlsPort": tls_port,
                    "ocspResponderURL": "",
                    "externalAccountBindingRequired": False,
                }
            }
        )
    )
    dns_log, pebble_log = tmp / "challtestsrv.log", tmp / "pebble.log"
    dns = _start(
        [
            "pebble-challtestsrv",
            "-dns01",
            f"127.0.0.1:{dns_port}",
            "-http01",
            "",
            "-https01",
            "",
            "-tlsalpn01",
            "",
            "-management",
            f"127.0.0.1:{chall_mgmt}",
            "-defaultIPv4",
            "127.0.0.1",
            "-defaultIPv6",
            "",
        ],
        dns_log,
    )
    try:
        # No sleeps between validation attempts, and no random bad-nonce rejections: fast and deterministic.
        env = {"PATH": "/usr/bin:/bin", "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"}
        pebble = _start(["pebble", "-config", str(config), "-dnsserver", f"127.0.0.1:{dns_port}"], pebble_log, env)
        try:
            directory = f"https://localhost:{acme_port}/dir"
            _wait_directory(directory, ssl.create_default_context(cafile=str(ca.cert)), pebble, pebble_log)
            yield Acme(directory, ca.cert, http_port, pebble_log)
        finally:
            stop_pid(pebble)
    finally:
        stop_pid(dns)
