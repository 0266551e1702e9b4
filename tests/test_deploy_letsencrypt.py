"""setup-letsencrypt.sh end to end, non-interactively, against pebble (Debian's ACME test server).

Mostly in --local mode: certbot 2.1 and Debian's nginx on this host, nginx running the project's own config
rendered for loopback. The default Compose mode runs too, through tests/support/docker_shim.py (certbot in a
mount namespace laid out like its container). Each scenario gets its own certbot/ folder and nginx; every
nginx the script starts is stopped by the PID in its pid file.
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import nginx
from tests.support.pebble import Acme, running_pebble
from tests.support.procs import ROOT, free_port

pytestmark = pytest.mark.slow

DOMAIN = "mcp.example.com"  # challtestsrv resolves it to 127.0.0.1 for pebble; nobody else looks it up
SCRIPT = ROOT / "setup-letsencrypt.sh"


@pytest.fixture(scope="module")
def acme(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Acme]:
    with running_pebble(tmp_path_factory.mktemp("pebble"), http_port=free_port()) as server:
        yield server


@dataclass
class Site:
    acme: Acme
    data: Path
    conf: nginx.Rendered
    https_port: int
    cron: Path

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run_script(self, [str(SCRIPT), *args], check=check)

    def setup_args(self) -> list[str]:
        nginx_cmd = shlex.join(self.conf.args())
        return [
            "--domain",
            DOMAIN,
            "--email",
            "ops@example.com",
            "--server",
            self.acme.directory,
            "--local",
            "--data-path",
            str(self.data),
            "--nginx-start",
            nginx_cmd,
            "--nginx-reload",
            f"{nginx_cmd} -s reload",
            "--cron-file",
            str(self.cron),
            "--non-interactive",
        ]

    def served(self) -> bytes:
        """The DER certificate nginx presents for DOMAIN right now."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with socket.create_connection(("127.0.0.1", self.https_port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname=DOMAIN) as tls:
                der = tls.getpeercert(binary_form=True)
        assert der
        return der

    def serves(self, expected: bytes, timeout: float = 10.0) -> bool:
        """`nginx -s reload` only signals: new workers take over a moment later, so poll for the change."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.served() == expected:
                return True
            time.sleep(0.05)
        return False

    def live_leaf(self) -> bytes:
        pem = (self.data / "conf" / "live" / DOMAIN / "fullchain.pem").read_text()
        return ssl.PEM_cert_to_DER_cert(pem.split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n")


def run_script(site: Site, argv: list[str], *, check: bool) -> subprocess.CompletedProcess[str]:
    """Run `argv` (the script, or a command line taken from the cron entry) as cron or an operator would."""
    env = {"PATH": os.environ["PATH"], "HOME": str(site.data.parent), **site.acme.env()}
    out = subprocess.run(argv, capture_output=True, text=True, timeout=180, env=env, stdin=subprocess.DEVNULL)
    if check:
        assert out.returncode == 0, out.stdout + out.stderr
    return out


def x509(der: bytes, *fields: str) -> str:
    out = subprocess.run(
        ["openssl", "x509", "-inform", "DER", "-noout", *fields], input=der, capture_output=True, timeout=30, check=True
    )
    return out.stdout.decode()


@pytest.fixture
def site(acme: Acme, tmp_path: Path) -> Iterator[Site]:
    data = tmp_path / "certbot"
    https_port = free_port()
    ports = nginx.Ports(
        http=acme.http_port, https=https_port, health=free_port(), claude=free_port(), chatgpt=free_port()
    )
    conf = nginx.render(tmp_path / "nginx", domain=DOMAIN, ports=ports, letsencrypt=data / "conf", webroot=data / "www")
    try:
        yield Site(acme, data, conf, https_port, tmp_path / "cron.d" / "mssql-mcp-certbot")
    finally:
        nginx.stop_pid_file(conf.pid_file)


def test_issue_renew_and_a_failed_replacement(site: Site) -> None:
    site.cron.parent.mkdir()
    issued = site.run(*site.setup_args())
    assert "installing a temporary self-signed certificate" in issued.stdout
    first = site.live_leaf()
    assert site.serves(first)
    assert "Pebble" in x509(first, "-issuer")  # the ACME server's certificate, not the temporary one

    # Renewal: the cron entry's own command, forced, renews and reloads: nginx serves a new serial.
    (entry,) = [line for line in site.cron.read_text().splitlines() if not line.startswith("#")]
    minute, hour, *_ = entry.split()
    assert hour == "*/12" and 0 <= int(minute) < 60
    command = entry.split(" root ", 1)[1].split(">>", 1)[0]
    renewed = run_script(site, [*shlex.split(command), "--force-renewal"], check=True)
    assert "nginx reloaded" in renewed.stdout
    second = site.live_leaf()
    assert x509(second, "-serial") != x509(first, "-serial")
    assert site.serves(second)
    # Nothing due: certbot renews nothing and nginx is left alone.
    idle = run_script(site, shlex.split(command), check=True)
    assert "nothing was due" in idle.stdout

    # Without --yes an existing certificate is kept.
    kept = site.run(*site.setup_args())
    assert "kept it" in kept.stdout and site.served() == second

    # A failed replacement (a webroot nginx does not serve): the script fails, and puts the renewed
    # certificate back, so nginx still serves it and renewal still works.
    wrong = site.data.parent / "not-the-webroot"
    failed = site.run(*site.setup_args(), "--yes", "--webroot", str(wrong), check=False)
    assert failed.returncode != 0
    assert "putting the previous certificate back" in failed.stdout
    assert site.served() == second == site.live_leaf()
    assert (site.data / "conf" / "renewal" / f"{DOMAIN}.conf").is_file()
    again = run_script(site, [*shlex.split(command), "--force-renewal"], check=True)
    assert "nginx reloaded" in again.stdout and site.live_leaf() != second and site.serves(site.live_leaf())


def test_first_issuance_failing_leaves_the_temporary_certificate_serving(site: Site) -> None:
    wrong = site.data.parent / "not-the-webroot"
    failed = site.run(*site.setup_args(), "--webroot", str(wrong), "--no-cron", check=False)
    assert failed.returncode != 0, failed.stdout
    assert "nginx still serves the previous one" in failed.stderr
    served = site.live_leaf()
    assert site.serves(served)
    assert "CN = localhost" in x509(served, "-issuer")  # the temporary self-signed certificate
    assert not site.cron.exists()


def test_missing_answers_fail_fast_when_not_interactive(tmp_path: Path, acme: Acme) -> None:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    out = subprocess.run(
        [str(SCRIPT), "--local", "--data-path", str(tmp_path / "certbot"), "--non-interactive"],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode != 0 and "pass it as a flag" in out.stderr


def test_shell_scripts_pass_shellcheck() -> None:
    shellcheck = Path(sys.executable).parent / "shellcheck"
    out = subprocess.run(
        [str(shellcheck), str(SCRIPT), str(ROOT / "scripts" / "install-odbc.sh")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="the docker shim needs root for its mount namespace")
def test_compose_mode_maps_the_container_paths(acme: Acme, tmp_path: Path) -> None:
    """The default mode, through `docker compose` as the script calls it. tests/support/docker_shim.py
    carries the calls out: certbot sees the certbot service's volumes at their container paths, read from
    the real Compose model, so /etc/letsencrypt, /var/www/certbot and the deploy hook's flag must line up."""
    deploy = tmp_path / "deploy"  # a deploy folder: the script writes .env beside itself
    deploy.mkdir()
    for name in ("setup-letsencrypt.sh", "docker-compose.prod.yml"):
        shutil.copy2(ROOT / name, deploy / name)
    (deploy / ".env").write_text(f"PUBLIC_URL=https://{DOMAIN}\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(f'#!/bin/sh\nexec {sys.executable} {ROOT / "tests" / "support" / "docker_shim.py"} "$@"\n')
    docker.chmod(0o755)

    data = deploy / "certbot"
    ports = nginx.Ports(
        http=acme.http_port, https=free_port(), health=free_port(), claude=free_port(), chatgpt=free_port()
    )
    conf = nginx.render(tmp_path / "nginx", domain=DOMAIN, ports=ports, letsencrypt=data / "conf", webroot=data / "www")
    shim_log = tmp_path / "docker-calls.log"
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "HOME": str(tmp_path),
        **acme.env(),
        "SHIM_LOG": str(shim_log),
        "SHIM_NGINX_START": shlex.join(conf.args()),
        "SHIM_NGINX_RELOAD": shlex.join([*conf.args(), "-s", "reload"]),
    }
    cron = tmp_path / "cron"
    try:
        out = subprocess.run(
            [
                str(deploy / "setup-letsencrypt.sh"),
                "--domain",
                DOMAIN,
                "--email",
                "ops@example.com",
                "--server",
                acme.directory,
                "--cron-file",
                str(cron),
            ],
            capture_output=True,
            text=True,
            timeout=180,
            env=env,
            stdin=subprocess.DEVNULL,
        )
        assert out.returncode == 0, out.stdout + out.stderr + shim_log.read_text()
        assert f"DOMAIN={DOMAIN}" in (deploy / ".env").read_text().splitlines()
        calls = shim_log.read_text()
        assert f"--profile certbot run --rm certbot certonly --webroot -w /var/www/certbot -d {DOMAIN}" in calls
        site = Site(acme, data, conf, ports.https, cron)
        first = site.live_leaf()
        assert site.serves(first) and "Pebble" in x509(first, "-issuer")

        # The cron entry, in Compose mode too: certbot renews inside the "container", its deploy hook
        # touches /etc/letsencrypt/.renewed, which the script sees on the host and reloads nginx for.
        (entry,) = [line for line in cron.read_text().splitlines() if not line.startswith("#")]
        command = shlex.split(entry.split(" root ", 1)[1].split(">>", 1)[0])
        assert "--local" not in command
        renewed = subprocess.run(
            [*command, "--force-renewal"],
            capture_output=True,
            text=True,
            timeout=180,
            env=env,
            stdin=subprocess.DEVNULL,
        )
        assert renewed.returncode == 0 and "nginx reloaded" in renewed.stdout, renewed.stdout + renewed.stderr
        assert "exec -T nginx nginx -s reload" in shim_log.read_text()
        assert site.live_leaf() != first and site.serves(site.live_leaf())
    finally:
        nginx.stop_pid_file(conf.pid_file)
