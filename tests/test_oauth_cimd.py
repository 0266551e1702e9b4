"""Client ID Metadata Documents (MCP 2025-11-25): a client_id that is an https URL, fetched and checked.

A real https server on loopback serves the documents (a throwaway self-signed certificate, trusted by the
MCP server through SSL_CERT_FILE); the SDK's client uses its `client_metadata_url` instead of registering.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest

from tests.support.mcp_client import connect
from tests.support.oauth_flow import (
    DEFAULT_ACCOUNT,
    REDIRECT_URI,
    oauth_client,
    pkce_pair,
    running_oauth_server,
)
from tests.support.procs import free_port, stop_pid

pytestmark = pytest.mark.anyio

HTTPS_SERVER = textwrap.dedent("""
    import functools, http.server, ssl, sys
    port, root, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=root)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    httpd.serve_forever()
""")


@dataclass
class DocServer:
    base: str
    root: Path
    cert: Path

    def publish(self, name: str, **overrides: object) -> str:
        url = f"{self.base}/{name}"
        doc = {
            "client_id": url,
            "client_name": "CIMD test client",
            "redirect_uris": [REDIRECT_URI],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
            **overrides,
        }
        (self.root / name).write_text(json.dumps(doc))
        return url


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocServer]:
    tmp = tmp_path_factory.mktemp("cimd")
    cert, key, root = tmp / "cert.pem", tmp / "key.pem", tmp / "www"
    root.mkdir()
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    port = free_port()
    log = tmp / "https.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", HTTPS_SERVER, str(port), str(root), str(cert), str(key)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        (root / "probe").write_text("ok")
        wait_for_tls(f"https://localhost:{port}/probe", cert, proc, log)
        yield DocServer(f"https://localhost:{port}", root, cert)
    finally:
        stop_pid(proc)


def wait_for_tls(url: str, cert: Path, proc: subprocess.Popen[bytes], log: Path) -> None:
    context = ssl.create_default_context(cafile=str(cert))
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"https server exited: {log.read_text()}")
        try:
            with urllib.request.urlopen(url, context=context, timeout=2) as resp:
                assert resp.status == 200
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@pytest.fixture
def env(docs: DocServer) -> dict[str, str]:
    return {"CLIENT_ID_METADATA_DOCUMENTS": "true", "SSL_CERT_FILE": str(docs.cert)}


async def test_sdk_client_signs_in_with_a_metadata_document(
    demo_db: Path, tmp_path: Path, docs: DocServer, env: dict[str, str]
) -> None:
    url = docs.publish("client.json")
    with running_oauth_server(demo_db, tmp_path, env=env) as server:
        async with httpx2.AsyncClient(timeout=10) as http:
            meta = (await http.get(f"{server.base_url}/.well-known/oauth-authorization-server")).json()
        assert meta["client_id_metadata_document_supported"] is True
        auth, storage, filler = oauth_client(f"{server.base_url}/mcp", DEFAULT_ACCOUNT, client_metadata_url=url)
        async with connect(server.base_url, auth=auth) as client:
            assert (await client.list_tools()).tools
        assert storage.client_info is not None and storage.client_info.client_id == url
        assert "CIMD test client" in filler.pages[0]  # the login page names the document's client
        log = server.log()
        assert "msg=client_registered" not in log and f"client={url}" in log


@pytest.mark.parametrize(
    ("name", "overrides", "loopback"),
    [
        ("wrong-id.json", {"client_id": "https://elsewhere.example/client.json"}, "true"),
        ("bad-redirect.json", {"redirect_uris": ["https://evil.example/cb"]}, "true"),
        ("secret.json", {"token_endpoint_auth_method": "client_secret_post"}, "true"),
        ("fine.json", {}, "false"),  # loopback host refused when loopback is not allowed (no SSRF to internals)
        ("missing.json", None, "true"),  # 404
    ],
)
async def test_bad_documents_are_refused(
    demo_db: Path,
    tmp_path: Path,
    docs: DocServer,
    env: dict[str, str],
    name: str,
    overrides: dict[str, object] | None,
    loopback: str,
) -> None:
    url = docs.publish(name, **overrides) if overrides is not None else f"{docs.base}/{name}"
    _, challenge = pkce_pair()
    with running_oauth_server(demo_db, tmp_path, env={**env, "ALLOW_LOOPBACK_REDIRECTS": loopback}) as server:
        async with httpx2.AsyncClient(timeout=10, follow_redirects=False) as http:
            resp = await http.get(
                f"{server.base_url}/authorize",
                params={
                    "response_type": "code",
                    "client_id": url,
                    "redirect_uri": REDIRECT_URI,
                    "state": "s",
                    "code_challenge": challenge,
                    "code_challenge_method": "S256",
                },
            )
        assert resp.status_code == 400 and "not found" in resp.json()["error_description"]
        assert "msg=client_document_refused" in server.log()


async def test_off_by_default(demo_db: Path, tmp_path: Path, docs: DocServer) -> None:
    url = docs.publish("client.json")
    with running_oauth_server(demo_db, tmp_path, env={"SSL_CERT_FILE": str(docs.cert)}) as server:
        async with httpx2.AsyncClient(timeout=10) as http:
            meta = (await http.get(f"{server.base_url}/.well-known/oauth-authorization-server")).json()
            resp = await http.get(
                f"{server.base_url}/authorize",
                params={
                    "response_type": "code",
                    "client_id": url,
                    "redirect_uri": REDIRECT_URI,
                    "state": "s",
                    "code_challenge": pkce_pair()[1],
                    "code_challenge_method": "S256",
                },
            )
        assert "client_id_metadata_document_supported" not in meta
        assert resp.status_code == 400
