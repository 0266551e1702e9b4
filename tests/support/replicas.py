"""Several replicas of each face behind the project's nginx, sharing one Redis, all on loopback.

Replica i of a face listens on 127.0.0.i and the face's one port, as Compose gives each replica its own
address and the same port. nginx finds them by name, as in docker-compose.prod.yml: its `resolver` is a
pebble-challtestsrv on a loopback port, whose management API is told to answer the face's name with every
replica's address (several A records), the way Docker's DNS answers a service name under `--scale`.
Everything is started here and stopped by PID.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.support import nginx, tlsca
from tests.support.deploy_stack import DOMAIN, install_certificate
from tests.support.procs import ROOT, ServerProcess, free_port, stop_pid, wait_http
from tests.support.redis import RedisServer

FACES = {"claude": ("claude.replicas.test", ""), "chatgpt": ("chatgpt.replicas.test", "/chatgpt")}


@dataclass
class Replicas:
    https: str  # nginx, the public URL
    ca: Path
    redis: RedisServer
    store_url: str
    conf: nginx.Rendered
    apps: dict[str, list[ServerProcess]]  # face -> replicas (index 0 is replica A)

    def base(self, face: str, i: int) -> str:
        return self.apps[face][i].base_url + FACES[face][1]

    def upstreams(self, needle: str) -> list[str]:
        """The upstream address of every access-log line containing `needle` (after retries, the last)."""
        lines = [ln for ln in self.conf.access_log.read_text().splitlines() if needle in ln]
        return [m.group(1) for ln in lines if (m := re.search(r"upstream=(?:\S+, )*(\S+?):\d+ ", ln))]


def dns_server(tmp: Path, stack: contextlib.ExitStack) -> tuple[int, int]:
    """pebble-challtestsrv as a plain DNS server: (DNS port, management port). Unknown names get no answer."""
    dns, mgmt = free_port(), free_port()
    log = open(tmp / "challtestsrv.log", "wb")  # noqa: SIM115 - the child holds it
    stack.callback(log.close)
    cmd = ["pebble-challtestsrv", "-dns01", f"127.0.0.1:{dns}", "-management", f"127.0.0.1:{mgmt}"]
    cmd += ["-http01", "", "-https01", "", "-tlsalpn01", "", "-defaultIPv4", "", "-defaultIPv6", ""]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    stack.callback(stop_pid, proc)
    deadline = time.monotonic() + 10
    while True:
        try:
            add_a_records(mgmt, "probe.replicas.test", ["127.0.0.1"])
            return dns, mgmt
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, (tmp / "challtestsrv.log").read_text()
            time.sleep(0.05)


def add_a_records(mgmt: int, host: str, addresses: list[str]) -> None:
    body = json.dumps({"host": host + ".", "addresses": addresses}).encode()
    with urllib.request.urlopen(f"http://127.0.0.1:{mgmt}/add-a", data=body, timeout=2) as resp:
        assert resp.status == 200


def _launch(env: Mapping[str, str], tmp: Path, face: str, host: str, port: int) -> ServerProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("MSSQL_", "SQLITE_", "OAUTH_"))}
    full.update({"HOST": host, "PORT": str(port), "PYTHONUNBUFFERED": "1", **env})
    log_path = tmp / f"{face}-{host}.log"
    with open(log_path, "wb") as log:
        cmd = [sys.executable, "-m", "mssql_mcp", "--env-file", str(tmp / "no.env"), "serve", "--face", face]
        proc = subprocess.Popen(cmd, cwd=ROOT, env=full, stdout=log, stderr=subprocess.STDOUT)
    server = ServerProcess(proc, port, log_path)
    server.base_url = f"http://{host}:{port}"
    return server


@contextlib.contextmanager
def replicas(
    tmp: Path, app_env: Mapping[str, str], *, count: int = 3, env_of: Mapping[tuple[str, int], Mapping[str, str]] = {}
) -> Iterator[Replicas]:
    """`count` replicas of each face on one Redis (its ACL user, as docs/scaling.md gives it) behind nginx.
    `env_of[(face, i)]` adds settings to one replica (e.g. WEB_CONCURRENCY)."""
    with contextlib.ExitStack() as stack:
        redis_server = RedisServer(tmp / "redis").start()
        stack.callback(redis_server.stop)
        store_url = redis_server.app_user_url()
        dns_port, mgmt = dns_server(tmp, stack)
        hosts = [f"127.0.0.{i + 1}" for i in range(count)]
        https_port = free_port()
        public = f"https://{DOMAIN}:{https_port}"
        env = {
            **app_env,
            "STORE_URL": store_url,
            "PUBLIC_URL": public,
            "FORWARDED_ALLOW_IPS": "127.0.0.1",
            # Tests also call each replica directly, at its own address.
            "ALLOWED_HOSTS": ",".join(f"{h}:*" for h in hosts),
        }
        ports = {face: free_port() for face in FACES}
        apps: dict[str, list[ServerProcess]] = {face: [] for face in FACES}
        for face, (name, _) in FACES.items():
            add_a_records(mgmt, name, hosts)
            for i, host in enumerate(hosts):
                app = _launch({**env, **env_of.get((face, i), {})}, tmp, face, host, ports[face])
                stack.callback(app.stop)
                apps[face].append(app)
        for face, servers in apps.items():
            for app in servers:
                wait_http(f"{app.base_url}{FACES[face][1]}/health", app.proc, app.log_path, timeout=240)

        ca = tlsca.make_ca(tmp / "ca")
        install_certificate(ca, tmp / "letsencrypt", DOMAIN)
        (tmp / "www").mkdir(exist_ok=True)
        nginx_ports = nginx.Ports(
            http=free_port(), https=https_port, health=free_port(), claude=ports["claude"], chatgpt=ports["chatgpt"]
        )
        conf = nginx.render(
            tmp / "nginx",
            domain=DOMAIN,
            ports=nginx_ports,
            letsencrypt=tmp / "letsencrypt",
            webroot=tmp / "www",
            upstreams=(f"{FACES['claude'][0]}:{ports['claude']}", f"{FACES['chatgpt'][0]}:{ports['chatgpt']}"),
            resolver=f"127.0.0.1:{dns_port}",
        )
        stack.enter_context(nginx.running_nginx(conf, https_port))
        yield Replicas(public, ca.cert, redis_server, store_url, conf, apps)
