"""A real OpenID Provider on loopback for the sign-in tests: npm `oidc-provider`, pinned, driven by
tests/support/oidc_provider.mjs with a configuration the tests write.

The package is installed once with `npm install --prefix` into the test cache (as MCP Inspector is:
tests/support/inspector.py), so a run after the first does not touch the network. When Node, npm or the
install is missing, `install()` raises `ProviderUnavailable` with the reason and the tests skip with it.
`running_provider(...)` starts it on a free port, waits for its discovery document, and stops it by PID.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.inspector import _locked, _node_major, cache_root
from tests.support.procs import free_port, stop_pid, wait_http

PACKAGE = "oidc-provider"
VERSION = "9.13.3"  # pinned exactly: the wrapper uses its configuration keys and interaction API
SCRIPT = Path(__file__).with_name("oidc_provider.mjs")
INSTALL_TIMEOUT = 300.0
CLIENT_ID = "mssql-mcp-test"
CLIENT_SECRET = "test-client-secret-not-secret"
MACHINE_ID = "mssql-mcp-test-machine"  # with `resource_server`: a client_credentials client minting access tokens
MACHINE_SECRET = "test-machine-secret-not-secret"


class ProviderUnavailable(RuntimeError):
    """oidc-provider cannot run here; the message says why."""


def _installed(prefix: Path) -> bool:
    try:
        manifest = json.loads((prefix / "node_modules" / PACKAGE / "package.json").read_text())
    except (OSError, ValueError):
        return False
    return bool(manifest.get("version") == VERSION)


def install(prefix: Path | None = None) -> Path:
    """The pinned oidc-provider, installed into the test cache on first use; returns the install prefix."""
    prefix = prefix or cache_root() / f"oidc-provider-{VERSION}"
    try:
        major = _node_major()
    except RuntimeError as exc:
        raise ProviderUnavailable(str(exc)) from None
    if major < 20:
        raise ProviderUnavailable(f"Node {major} is too old for oidc-provider {VERSION} (need >= 20.19)")
    with _locked(prefix.parent / f".oidc-provider-{VERSION}.lock"):
        if not _installed(prefix):
            npm = shutil.which("npm")
            if npm is None:
                raise ProviderUnavailable("npm is not on PATH, so oidc-provider cannot be installed")
            prefix.mkdir(parents=True, exist_ok=True)
            cmd = [npm, "install", "--prefix", str(prefix), "--save-exact", "--no-audit", "--no-fund"]
            cmd += ["--loglevel=error", f"{PACKAGE}@{VERSION}"]
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False)
            if done.returncode != 0 or not _installed(prefix):
                tail = (done.stderr or done.stdout).strip().splitlines()[:4]
                raise ProviderUnavailable(f"`npm install {PACKAGE}@{VERSION}` failed: " + " | ".join(tail))
    return prefix


@dataclass
class OidcProvider:
    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def admin(self, action: str, body: bytes = b"", **params: str) -> dict[str, Any]:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        request = urllib.request.Request(f"{self.issuer}/_admin/{action}?{query}", data=body, method="POST")
        with urllib.request.urlopen(request, timeout=10) as resp:
            return dict(json.loads(resp.read()))

    def disable(self, account: str) -> None:
        self.admin("disable", account=account)

    def set_claims(self, account: str, claims: Mapping[str, Any]) -> None:
        self.admin("claims", json.dumps(dict(claims)).encode(), account=account)

    def rotate_keys(self) -> list[str]:
        return list(self.admin("rotate")["kids"])

    def tamper(self, mode: str) -> None:
        self.admin("tamper", mode=mode)

    def mint(self, claims: Mapping[str, Any], *, key: str = "current", typ: str = "at+jwt") -> str:
        """A JWT access token with exactly these claims, signed by the current key or (key="unknown") not."""
        body = json.dumps(dict(claims)).encode()
        return str(self.admin("mint", body, key=key, typ=urllib.parse.quote(typ, safe=""))["token"])

    def client_credentials(self, resource: str, scope: str) -> str:
        """An access token for `resource` with `scope`, from the token endpoint (client_credentials grant)."""
        form = urllib.parse.urlencode({"grant_type": "client_credentials", "resource": resource, "scope": scope})
        request = urllib.request.Request(f"{self.issuer}/token", data=form.encode(), method="POST")
        basic = base64.b64encode(f"{MACHINE_ID}:{MACHINE_SECRET}".encode()).decode()
        request.add_header("authorization", f"Basic {basic}")
        request.add_header("content-type", "application/x-www-form-urlencoded")
        with urllib.request.urlopen(request, timeout=10) as resp:
            return str(json.loads(resp.read())["access_token"])

    def revoke(self, token: str) -> None:
        form = urllib.parse.urlencode({"token": token, "token_type_hint": "access_token"})
        request = urllib.request.Request(f"{self.issuer}/token/revocation", data=form.encode(), method="POST")
        basic = base64.b64encode(f"{MACHINE_ID}:{MACHINE_SECRET}".encode()).decode()
        request.add_header("authorization", f"Basic {basic}")
        with urllib.request.urlopen(request, timeout=10) as resp:
            resp.read()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        stop_pid(self.proc)


@contextlib.contextmanager
def running_provider(
    tmp: Path,
    accounts: Mapping[str, Mapping[str, Any]],
    redirect_uris: list[str],
    *,
    ttl: Mapping[str, int] | None = None,
    port: int | None = None,
    resource_server: Mapping[str, Any] | None = None,
) -> Iterator[OidcProvider]:
    """oidc-provider with one confidential client (CLIENT_ID/CLIENT_SECRET) and these accounts (id -> claims).

    `resource_server` ({"scope": "mcp other", "format": "jwt"|"opaque", "accessTokenTTL": s}) also issues
    access tokens for resources (RFC 8707) to MACHINE_ID by client_credentials, and answers introspection."""
    try:
        prefix = install()
    except ProviderUnavailable as exc:
        import pytest

        pytest.skip(str(exc))
    port = port or free_port()
    config: dict[str, Any] = {
        "port": port,
        "accounts": accounts,
        "ttl": dict(ttl or {}),
        "clients": [
            {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uris": redirect_uris,
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "client_secret_basic",
            }
        ],
    }
    if resource_server is not None:
        config["resourceServer"] = dict(resource_server)
        config["clients"].append(
            {
                "client_id": MACHINE_ID,
                "client_secret": MACHINE_SECRET,
                "redirect_uris": [],
                "grant_types": ["client_credentials"],
                "response_types": [],
                "scope": str(resource_server["scope"]),
                "token_endpoint_auth_method": "client_secret_basic",
            }
        )
    tmp.mkdir(parents=True, exist_ok=True)
    config_path = tmp / f"oidc-provider-{port}.json"
    config_path.write_text(json.dumps(config))
    modules = prefix / "node_modules"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "OIDC_PROVIDER_ENTRY": str(modules / PACKAGE / "lib" / "index.js"),
        "OIDC_JOSE_ENTRY": str(modules / "jose" / "dist" / "webapi" / "index.js"),
        "NODE_ENV": "test",
    }
    log_path = tmp / f"oidc-provider-{port}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            ["node", str(SCRIPT), str(config_path)], stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp
        )
    running = OidcProvider(proc, port, log_path)
    try:
        wait_http(f"{running.issuer}/.well-known/openid-configuration", proc, log_path)
        yield running
    finally:
        running.stop()


def main(argv: list[str]) -> int:
    """`python -m tests.support.oidc_provider --check|--install` (scripts/bootstrap.sh): --check exits 0 when
    the pinned version is installed; --install installs it, printing npm's complaint on failure."""
    if argv[1:] == ["--check"]:
        return 0 if _installed(cache_root() / f"oidc-provider-{VERSION}") else 1
    if argv[1:] == ["--install"]:
        try:
            print(f"oidc-provider {VERSION} in {install()}")
        except ProviderUnavailable as exc:
            print(exc, file=sys.stderr)
            return 1
        return 0
    print("usage: python -m tests.support.oidc_provider --check|--install", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
