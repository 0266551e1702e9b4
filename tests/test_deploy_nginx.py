"""nginx/ in front of both faces, for real: Debian's nginx runs the project's config on loopback over TLS.

SSE streams through unbuffered (timed, against a buffered control that must fail), the security headers are
on every location, /chatgpt/ reaches the ChatGPT app, port 80 redirects except ACME challenges, and the apps
trust X-Forwarded-* only from the proxy.
"""

from __future__ import annotations

import http.client
import re
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import nginx
from tests.support.compose import model
from tests.support.deploy_stack import DOMAIN, Stack, can_bind, new_ports, render_for, sse_delays, stack
from tests.support.procs import ROOT

pytestmark = pytest.mark.slow

DEV = {"ALLOW_UNAUTH_METHODS": "true", "ALLOW_UNAUTH_TOOLS_CALL": "true", "LOG_LEVEL": "INFO"}


@pytest.fixture(scope="module")
def deployed(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with stack(tmp_path_factory.mktemp("nginx-stack"), {**DEV, "SQLITE_PATH": str(demo_db)}) as s:
        yield s


def request(
    port: int,
    method: str,
    path: str,
    *,
    ctx: ssl.SSLContext | None = None,
    headers: dict[str, str] | None = None,
    source: str | None = None,
) -> http.client.HTTPResponse:
    conn: http.client.HTTPConnection
    address = (source, 0) if source else None
    if ctx is None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=address)
    else:
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10, source_address=address)
    conn.request(method, path, headers=headers or {})
    resp = conn.getresponse()
    resp.read()
    conn.close()
    return resp


def test_rendered_config_passes_nginx_t(deployed: Stack) -> None:
    checked = nginx.check_config(deployed.conf)
    assert checked.returncode == 0, checked.stderr
    assert "syntax is ok" in checked.stderr


# -- SSE -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["", "/chatgpt"], ids=["claude", "chatgpt"])
def test_sse_events_arrive_as_they_are_written(deployed: Stack, prefix: str) -> None:
    delays = sse_delays(deployed.ports.https, deployed.tls_context(), prefix, limit=2.0)
    assert len(delays) == 3
    print(f"SSE event delays through nginx ({prefix or '/'}): {[round(d * 1000, 1) for d in delays]} ms")


def test_buffered_control_fails_the_same_timing_check(deployed: Stack, tmp_path: Path) -> None:
    """The timing check catches buffering: with proxy_buffering on (and the apps' X-Accel-Buffering: no
    ignored, as a CDN or an older proxy would), the same stream's first event never arrives in time."""
    ports = new_ports(deployed.ports.claude, deployed.ports.chatgpt)
    (tmp_path / "letsencrypt").symlink_to(deployed.conf.prefix.parent / "letsencrypt")
    buffered = render_for(
        tmp_path, ports, [("proxy_buffering off;", "proxy_buffering on; proxy_ignore_headers X-Accel-Buffering;")]
    )
    with nginx.running_nginx(buffered, ports.https):
        assert request(ports.https, "GET", "/health", ctx=deployed.tls_context()).status == 200  # otherwise fine
        with pytest.raises(AssertionError, match="did not arrive"):
            sse_delays(ports.https, deployed.tls_context(), limit=1.0)


# -- headers and routing -------------------------------------------------------------------------

HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "strict-origin-when-cross-origin",
}
HSTS = "max-age=31536000; includeSubDomains"

# Each location of nginx/conf.d/default.conf with requests that land in it: (location, port kind, method, path).
PROBES = [
    ("/.well-known/acme-challenge/", "http", "GET", "/.well-known/acme-challenge/missing-token"),
    ("/", "http", "GET", "/mcp?x=1"),
    ("/chatgpt/", "https", "GET", "/chatgpt/health"),
    ("/chatgpt/", "https", "POST", "/chatgpt/mcp"),
    (r"~ ^/\.well-known/[^/]+/chatgpt(/|$)", "https", "GET", "/.well-known/oauth-protected-resource/chatgpt/mcp"),
    ("/", "https", "GET", "/health"),
    ("/", "https", "POST", "/mcp"),
    ("/", "https", "HEAD", "/sse"),
    ("/", "https", "GET", "/no-such-page"),
]


def test_every_location_is_probed() -> None:
    site = (ROOT / "nginx" / "conf.d" / "default.conf").read_text()
    assert sorted(set(nginx.locations(site))) == sorted({p[0] for p in PROBES})


@pytest.mark.parametrize(("location", "kind", "method", "path"), PROBES)
def test_security_headers_on_every_location(deployed: Stack, location: str, kind: str, method: str, path: str) -> None:
    if kind == "https":
        resp = request(deployed.ports.https, method, path, ctx=deployed.tls_context())
        assert resp.headers["strict-transport-security"] == HSTS
        assert resp.headers["x-accel-buffering"] == "no"
    else:
        resp = request(deployed.ports.http, method, path)
    for name, value in HEADERS.items():
        assert resp.headers[name] == value, (name, resp.status, dict(resp.headers))
    assert "nginx/" not in resp.headers.get("server", "")  # server_tokens off


def test_chatgpt_paths_reach_the_chatgpt_app(deployed: Stack) -> None:
    ctx = deployed.tls_context()
    # A unique query per request, so each access-log line read back is this request's own.
    health = request(deployed.ports.https, "GET", "/chatgpt/health?probe=1", ctx=ctx)
    assert health.status == 200
    assert deployed.upstream_of("GET /chatgpt/health?probe=1") == deployed.chatgpt.port
    metadata = "/.well-known/oauth-protected-resource/chatgpt/mcp?probe=2"
    assert request(deployed.ports.https, "GET", metadata, ctx=ctx).status == 200
    assert deployed.upstream_of(f"GET {metadata}") == deployed.chatgpt.port
    request(deployed.ports.https, "GET", "/health?probe=3", ctx=ctx)
    assert deployed.upstream_of("GET /health?probe=3") == deployed.claude.port


def test_port_80_redirects_everything_but_acme_challenges(deployed: Stack) -> None:
    resp = request(deployed.ports.http, "GET", "/mcp?x=1")
    assert resp.status == 301
    assert resp.headers["location"] == f"https://{DOMAIN}/mcp?x=1"

    token = "Zm9vYmFyLXRva2VuLTEyMw"
    challenge = deployed.webroot / ".well-known" / "acme-challenge"
    challenge.mkdir(parents=True, exist_ok=True)
    (challenge / token).write_text(f"{token}.thumbprint")
    conn = http.client.HTTPConnection("127.0.0.1", deployed.ports.http, timeout=10)
    conn.request("GET", f"/.well-known/acme-challenge/{token}")
    served = conn.getresponse()
    assert (served.status, served.read().decode()) == (200, f"{token}.thumbprint")
    conn.close()
    # A missing token is a plain 404, not a redirect: the ACME server must see the truth on port 80.
    assert request(deployed.ports.http, "GET", "/.well-known/acme-challenge/nope").status == 404


def test_compose_healthcheck_of_nginx_passes(deployed: Stack, tmp_path: Path) -> None:
    """docker-compose.prod.yml's own healthcheck command for nginx (wget, as in the alpine image), pointed
    at the rendered config's loopback health port."""
    (tmp_path / ".env").write_text("DOMAIN=mcp.example.com\n")
    kind, *test = model(tmp_path, "docker-compose.prod.yml")["services"]["nginx"]["healthcheck"]["test"]
    assert kind == "CMD" and any("127.0.0.1:8080/" in part for part in test)
    if shutil.which(test[0]) is None:
        pytest.skip(f"{test[0]} is not installed here")
    command = [part.replace("127.0.0.1:8080/", f"127.0.0.1:{deployed.ports.health}/") for part in test]
    assert subprocess.run(command, capture_output=True, timeout=30).returncode == 0
    assert request(deployed.ports.health, "GET", "/nginx-health").status == 200


# -- proxy trust ---------------------------------------------------------------------------------


def _redirect_scheme(resp: http.client.HTTPResponse) -> str:
    # Starlette answers /messages with a 307 to /messages/ built from the scheme it believes: a direct
    # reflection of whether X-Forwarded-Proto was trusted.
    assert resp.status == 307, resp.status
    return resp.headers["location"].split("://")[0]


def test_forwarded_headers_are_trusted_only_from_the_proxy(deployed: Stack) -> None:
    ctx = deployed.tls_context()
    # Through nginx (from 127.0.0.1, the trusted proxy): https, even if the client claims otherwise.
    through = request(deployed.ports.https, "GET", "/messages", ctx=ctx, headers={"X-Forwarded-Proto": "http"})
    assert _redirect_scheme(through) == "https"
    through = request(deployed.ports.https, "GET", "/chatgpt/messages", ctx=ctx)
    assert _redirect_scheme(through) == "https"
    # Straight to the app from the proxy's address, the header is honoured (the control for the next check).
    forged = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
    assert _redirect_scheme(request(deployed.claude.port, "GET", "/messages", headers=forged)) == "https"
    if not can_bind("127.0.0.2"):
        pytest.skip("cannot bind 127.0.0.2 as a second client address on this machine")
    # From any other address the same forged header is ignored.
    direct = request(deployed.claude.port, "GET", "/messages", headers=forged, source="127.0.0.2")
    assert _redirect_scheme(direct) == "http"


# -- TLS -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3], ids=["1.2", "1.3"])
def test_tls_12_and_13_are_accepted(deployed: Stack, version: ssl.TLSVersion) -> None:
    ctx = deployed.tls_context()
    ctx.minimum_version = ctx.maximum_version = version
    with socket.create_connection(("127.0.0.1", deployed.ports.https), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=DOMAIN) as tls:
            assert tls.version() == {"TLSv1_2": "TLSv1.2", "TLSv1_3": "TLSv1.3"}[version.name]
            cipher = tls.cipher()
            assert cipher is not None
            if version is ssl.TLSVersion.TLSv1_2:
                assert cipher[0].startswith("ECDHE-") and ("GCM" in cipher[0] or "CHACHA20" in cipher[0]), cipher


def _s_client_tls11(port: int) -> subprocess.CompletedProcess[str]:
    # SECLEVEL=0: OpenSSL 3 refuses TLS 1.1 at its default level, so the client is told it may speak it.
    return subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"],
        input="",
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_tls_11_is_refused(deployed: Stack, tmp_path: Path) -> None:
    refused = _s_client_tls11(deployed.ports.https)
    assert refused.returncode != 0, refused.stdout
    assert "alert protocol version" in refused.stderr and "Cipher is (NONE)" in refused.stdout, refused.stderr

    # Control: the same client does get TLS 1.1 from an nginx configured to allow it, so the refusal above
    # comes from our ssl_protocols, not from the client or the OpenSSL build.
    site = (ROOT / "nginx" / "conf.d" / "default.conf").read_text()
    ciphers = re.search(r"ssl_ciphers [^;]+;", site)
    assert ciphers
    ports = new_ports(deployed.ports.claude, deployed.ports.chatgpt)
    (tmp_path / "letsencrypt").symlink_to(deployed.conf.prefix.parent / "letsencrypt")
    lax = render_for(
        tmp_path,
        ports,
        [
            ("ssl_protocols TLSv1.2 TLSv1.3;", "ssl_protocols TLSv1.1 TLSv1.2 TLSv1.3;"),
            (ciphers.group(0), "ssl_ciphers DEFAULT:@SECLEVEL=0;"),
        ],
    )
    with nginx.running_nginx(lax, ports.https):
        allowed = _s_client_tls11(ports.https)
    assert allowed.returncode == 0, allowed.stderr
    assert "Protocol  : TLSv1.1" in allowed.stdout and "Cipher is (NONE)" not in allowed.stdout, allowed.stdout


def _route_paths(face: str, demo_db: Path, tmp: Path) -> list[str]:
    from mssql_mcp.app import create_app
    from mssql_mcp.settings import load_settings

    env = {**DEV, "SQLITE_PATH": str(demo_db), "OAUTH_STORE_PATH": str(tmp / f"{face}.sqlite")}
    app = create_app(load_settings(environ=env, env_file=None), face)
    paths = [str(getattr(route, "path", "")) for route in app.routes]
    # "/health" and "/" also answer at a prefixed face's own root, for direct access to its port; behind
    # nginx the root belongs to the Claude face, so only the prefixed copies are routes to check.
    root_aliases = {"/health", "/"} if face != "claude" else {"/health"}
    return [re.sub(r"\{[^}]+\}", "x", p) for p in paths if p and p not in root_aliases]


def test_every_route_of_each_face_reaches_that_face(deployed: Stack, demo_db: Path, tmp_path: Path) -> None:
    """Ask the running nginx, for each route the apps declare, which app it proxies to: a route added to a
    face later is checked too (the ChatGPT face's root-level /.well-known/.../chatgpt metadata included)."""
    ctx = deployed.tls_context()
    for face, port in (("claude", deployed.claude.port), ("chatgpt", deployed.chatgpt.port)):
        for n, path in enumerate(_route_paths(face, demo_db, tmp_path)):
            probe = f"{path}?route-probe={face}-{n}"  # unique, so the access-log line read back is this one
            request(deployed.ports.https, "HEAD", probe, ctx=ctx)  # HEAD: GET /sse would be a stream
            assert deployed.upstream_of(f"HEAD {probe}") == port, (face, path)


# Environment of the nginx image (its Dockerfile's ENV plus what every container gets); Compose adds the rest.
NGINX_IMAGE_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOSTNAME": "abc123",
    "HOME": "/root",
    "NGINX_VERSION": "1.28.0",
    "PKG_RELEASE": "1",
    "DYNPKG_RELEASE": "1",
    "NJS_VERSION": "0.9.0",
    "NJS_RELEASE": "1",
}


@pytest.mark.skipif(shutil.which("envsubst") is None, reason="envsubst (Debian's gettext-base) is not installed")
def test_template_survives_the_image_envsubst(tmp_path: Path) -> None:
    """The nginx image renders templates with `envsubst '${A} ${B} …'` over every variable defined in the
    container: only our four may change; nginx's own $host, $request_uri … must come through untouched."""
    (tmp_path / ".env").write_text("DOMAIN=mcp.example.com\n")
    compose_env = model(tmp_path, "docker-compose.prod.yml")["services"]["nginx"]["environment"]
    env = {**NGINX_IMAGE_ENV, **compose_env}
    template = (ROOT / "nginx" / "conf.d" / "default.conf").read_text()
    shell_format = " ".join("${" + name + "}" for name in env)  # what the image's 20-envsubst-on-templates.sh passes
    rendered = subprocess.run(
        ["envsubst", shell_format], input=template, capture_output=True, text=True, env=env, timeout=30, check=True
    ).stdout
    expected = template
    for name in ("DOMAIN", "CLAUDE_UPSTREAM", "CHATGPT_UPSTREAM", "RESOLVER"):
        expected = expected.replace("${" + name + "}", compose_env[name])
    assert rendered == expected
    assert (
        "set $claude_app mcp-claude:8008;" in rendered
        and "resolver 127.0.0.11 " in rendered
        and "live/mcp.example.com/fullchain.pem" in rendered
    )
