"""Run Debian's nginx with the project's own configuration, rendered for loopback ports and temp paths.

`render()` starts from nginx/nginx.conf and nginx/conf.d/default.conf exactly as docker-compose.prod.yml mounts
them, performs the nginx image's envsubst (DOMAIN and the two upstreams), and swaps only what differs on a test
machine: listen ports, file paths and the worker user. Each swap must match, so a config change that a test
would silently stop covering fails here instead.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.procs import ROOT, stop_pid

NGINX = "/usr/sbin/nginx"


@dataclass(frozen=True)
class Ports:
    http: int
    https: int
    health: int
    claude: int
    chatgpt: int


@dataclass(frozen=True)
class Rendered:
    prefix: Path
    conf: Path
    site: Path
    access_log: Path
    error_log: Path
    pid_file: Path

    def args(self) -> list[str]:
        return [NGINX, "-p", str(self.prefix), "-c", str(self.conf)]


def _swap(text: str, old: str, new: str, *, regex: bool = False) -> str:
    pattern = old if regex else re.escape(old)
    out, n = re.subn(pattern, new.replace("\\", "\\\\"), text)
    assert n, f"nginx config no longer contains {old!r}: update tests/support/nginx.py"
    return out


def render(
    prefix: Path,
    *,
    domain: str,
    ports: Ports,
    letsencrypt: Path,
    webroot: Path,
    site_edits: Sequence[tuple[str, str]] = (),
    upstreams: tuple[str, str] | None = None,
    resolver: str = "127.0.0.11",
) -> Rendered:
    """Write the rendered config under `prefix`. `site_edits` (old, new) are extra swaps for control configs.

    The upstreams default to 127.0.0.1 and the apps' ports (an address: nginx resolves nothing); pass
    `upstreams` as names (host:port) and `resolver` as a loopback DNS server's address to balance over
    several replicas the way Compose's DNS does."""
    for sub in ("logs", "conf.d", "tmp"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    r = Rendered(
        prefix,
        prefix / "nginx.conf",
        prefix / "conf.d" / "default.conf",
        prefix / "logs" / "access.log",
        prefix / "logs" / "error.log",
        prefix / "nginx.pid",
    )

    main = (ROOT / "nginx" / "nginx.conf").read_text()
    # Workers must read the temp webroot (mode 0700 under pytest's tmp): as root, run them as root.
    main = _swap(main, "user nginx;", "user root;" if os.geteuid() == 0 else "")
    main = _swap(main, "/var/log/nginx/error.log", str(r.error_log))
    main = _swap(main, "/var/run/nginx.pid", str(r.pid_file))
    main = _swap(main, "/var/log/nginx/access.log", str(r.access_log))
    main = _swap(main, "listen 127.0.0.1:8080;", f"listen 127.0.0.1:{ports.health};")
    main = _swap(main, "/etc/nginx/conf.d/*.conf", str(prefix / "conf.d" / "*.conf"))
    kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    temp = "".join(f"    {d}_temp_path {prefix / 'tmp' / d};\n" for d in kinds)
    main = _swap(main, "http {\n", "http {\n" + temp)
    r.conf.write_text(main)

    site = (ROOT / "nginx" / "conf.d" / "default.conf").read_text()
    claude, chatgpt = upstreams or (f"127.0.0.1:{ports.claude}", f"127.0.0.1:{ports.chatgpt}")
    for var, value in (
        ("DOMAIN", domain),
        ("CLAUDE_UPSTREAM", claude),
        ("CHATGPT_UPSTREAM", chatgpt),
        ("RESOLVER", resolver),
    ):
        site = _swap(site, "${" + var + "}", value)
    assert "${" not in site, "unrendered template variable"
    site = _swap(site, r"listen 80;", f"listen 127.0.0.1:{ports.http};")
    site = _swap(site, "listen 443 ssl http2;", f"listen 127.0.0.1:{ports.https} ssl http2;")
    site = _swap(site, "/etc/letsencrypt/", f"{letsencrypt}/")
    site = _swap(site, "root /var/www/certbot;", f"root {webroot};")
    for old, new in site_edits:
        site = _swap(site, old, new)
    r.site.write_text(site)
    return r


def check_config(r: Rendered) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*r.args(), "-t"], capture_output=True, text=True, timeout=30)


def wait_port(port: int, proc: subprocess.Popen[bytes] | None, log: Path, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"nginx exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.03)
    raise RuntimeError(f"nginx did not listen on {port}:\n{log.read_text(errors='replace')}")


@contextmanager
def running_nginx(r: Rendered, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """nginx in the foreground (`daemon off`), as a child process stopped by its PID."""
    stderr = r.prefix / "logs" / "stderr.log"
    with open(stderr, "wb") as out:
        proc = subprocess.Popen([*r.args(), "-g", "daemon off;"], stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_port(port, proc, stderr)
        yield proc
    finally:
        stop_pid(proc)


def stop_pid_file(pid_file: Path, timeout: float = 10.0) -> None:
    """Stop a daemonised nginx (started by setup-letsencrypt.sh) by the PID in its pid file."""
    if not pid_file.exists():
        return
    pid = int(pid_file.read_text().strip())
    try:
        os.kill(pid, 15)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(pid, 9)


def locations(site_text: str) -> list[str]:
    """The `location` selectors of a site config, in order (used to prove every location is probed)."""
    return [m.group(1).strip() for m in re.finditer(r"^\s*location\s+([^{]+)\{", site_text, re.M)]
