"""MCP Inspector's CLI as an independent client: a pinned install cached outside the repo, and one-shot runs.

The Inspector (npm `@modelcontextprotocol/inspector`) is installed once with `npm install --prefix` into
`~/.cache/mssql-mcp-test/inspector-<version>` (or under $MSSQL_MCP_TEST_CACHE / $XDG_CACHE_HOME), so a test run
after the first does not touch the network. When Node, npm or the install is missing, `install()` raises
`InspectorUnavailable` with the reason, and the tests skip printing it.

Version 2.x declares `engines: node >= 22.19`, but its CLI runs on Debian's Node 20 (checked for the pinned
version: tools/list, tools/call, SSE and the OAuth flow), so the engine warning is not an error here.

Exit codes of `mcp-inspector --cli` (its EXIT_CODES): 0 ok, 1 error, 3 needs auth, 4 unreachable, 5 tool error.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "@modelcontextprotocol/inspector"
VERSION = "2.12.0"  # pinned exactly: its flags, output envelope and exit codes are what the tests assert

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_AUTH_REQUIRED = 3
EXIT_UNREACHABLE = 4
EXIT_TOOL_ERROR = 5

INSTALL_TIMEOUT = 300.0
MIN_NODE_MAJOR = 20


class InspectorUnavailable(RuntimeError):
    """The Inspector cannot run here; the message says why (a test skips with it)."""


def cache_root() -> Path:
    explicit = os.environ.get("MSSQL_MCP_TEST_CACHE")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "mssql-mcp-test"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive file lock, so two test processes never install into the same folder at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _node_major() -> int:
    node = shutil.which("node")
    if node is None:
        raise InspectorUnavailable("node is not on PATH (MCP Inspector needs Node >= 20)")
    out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30, check=False)
    try:
        return int(out.stdout.strip().lstrip("v").split(".")[0])
    except ValueError as exc:
        raise InspectorUnavailable(f"cannot read the Node version from {out.stdout!r}") from exc


def _installed_version(prefix: Path) -> str | None:
    manifest = prefix / "node_modules" / PACKAGE / "package.json"
    try:
        version = json.loads(manifest.read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None
    return str(version)


def install(prefix: Path | None = None) -> Inspector:
    """The pinned Inspector, installed into the cache on first use; later calls only check the folder."""
    prefix = prefix or cache_root() / f"inspector-{VERSION}"
    binary = prefix / "node_modules" / ".bin" / "mcp-inspector"
    major = _node_major()
    if major < MIN_NODE_MAJOR:
        raise InspectorUnavailable(f"Node {major} is too old for MCP Inspector {VERSION} (need >= {MIN_NODE_MAJOR})")
    with _locked(prefix.parent / f".inspector-{VERSION}.lock"):
        if _installed_version(prefix) != VERSION or not os.access(binary, os.X_OK):
            npm = shutil.which("npm")
            if npm is None:
                raise InspectorUnavailable("npm is not on PATH, so MCP Inspector cannot be installed")
            prefix.mkdir(parents=True, exist_ok=True)
            # --ignore-scripts: the package's only install script is a no-op outside its own source checkout.
            cmd = [
                npm,
                "install",
                "--prefix",
                str(prefix),
                "--save-exact",
                "--no-audit",
                "--no-fund",
                "--ignore-scripts",
                "--loglevel=error",
                f"{PACKAGE}@{VERSION}",
            ]
            try:
                done = subprocess.run(cmd, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False)
            except subprocess.TimeoutExpired as exc:
                what = f"`npm install {PACKAGE}@{VERSION}`"
                raise InspectorUnavailable(f"{what} took over {INSTALL_TIMEOUT:.0f} s") from exc
            if done.returncode != 0 or _installed_version(prefix) != VERSION:
                lines = (done.stderr or done.stdout).strip().splitlines()
                # npm puts the code and the cause first; the stack and log path that follow say little.
                head = [ln for ln in lines if not ln.strip().startswith(("npm error     at", "npm error A complete"))]
                raise InspectorUnavailable(
                    f"`npm install {PACKAGE}@{VERSION}` failed (exit {done.returncode}): " + " | ".join(head[:4])
                )
    return Inspector(binary)


@dataclass(frozen=True)
class InspectorRun:
    argv: Sequence[str]
    returncode: int
    stdout: str
    stderr: str

    def result(self) -> Any:
        """The `result` of the one JSON object `--format json` prints on stdout."""
        assert self.stdout.strip(), f"no output; exit {self.returncode}; stderr: {self.stderr}"
        return json.loads(self.stdout)["result"]

    def error(self) -> dict[str, Any]:
        """The error envelope `{"error": {"code", "message", ...}}` that `-q` leaves on stderr."""
        for line in reversed(self.stderr.strip().splitlines()):
            with contextlib.suppress(ValueError):
                value = json.loads(line)
                error = value.get("error") if isinstance(value, dict) else None
                if isinstance(error, dict):
                    return error
        raise AssertionError(f"no JSON error envelope on stderr (exit {self.returncode}): {self.stderr!r}")

    def describe(self) -> str:
        return (
            f"{' '.join(self.argv)}\nexit {self.returncode}\nstdout: {self.stdout[:2000]}\nstderr: {self.stderr[:4000]}"
        )


@dataclass(frozen=True)
class Inspector:
    binary: Path

    def env(self, home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """A clean environment: a throwaway HOME (its catalog, client config and OAuth state live there),
        no desktop or browser of the caller, and secrets in a file rather than a system keyring."""
        home.mkdir(parents=True, exist_ok=True)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "LANG": "C.UTF-8",
            "NO_COLOR": "1",
            "MCP_INSPECTOR_SECRET_STORE": "file",
            "MCP_AUTO_OPEN_ENABLED": "false",
        }
        env.update(extra or {})
        return env

    def run(
        self,
        url: str,
        method: str,
        *,
        home: Path,
        tool: str | None = None,
        args: Mapping[str, str] | None = None,
        transport: str | None = None,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        timeout: float = 60.0,
    ) -> InspectorRun:
        """`mcp-inspector --cli URL --method METHOD --format json -q [...]`, once, in its own process."""
        argv = [str(self.binary), "--cli", url, "--method", method, "--format", "json", "-q"]
        if transport:
            argv += ["--transport", transport]
        if tool:
            argv += ["--tool-name", tool]
        if args:
            argv += ["--tool-arg", *(f"{k}={v}" for k, v in args.items())]
        argv += list(extra_args)
        done = subprocess.run(
            argv,
            env=self.env(home, env),
            cwd=home,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return InspectorRun(argv, done.returncode, done.stdout, done.stderr)


def browser_env(home: Path, username: str, password: str, log: Path, *, decision: str = "approve") -> dict[str, str]:
    """Environment that makes the Inspector open its authorize URL in tests/support/inspector_browser.py.

    xdg-open (no desktop here) runs `$BROWSER URL`; a small wrapper keeps paths with spaces intact. It always
    exits 0: on a non-zero exit xdg-open tries $BROWSER again, which would sign in a second time.
    """
    wrapper = home / "browser.sh"
    home.mkdir(parents=True, exist_ok=True)
    wrapper.write_text(
        "#!/bin/sh\n"
        f"cd {shlex.quote(str(ROOT))} || exit 0\n"
        f'{shlex.quote(sys.executable)} -m tests.support.inspector_browser "$1"\n'
        "exit 0\n"
    )
    wrapper.chmod(0o700)
    return {
        "MCP_AUTO_OPEN_ENABLED": "true",  # open the browser although stdin and stderr are not terminals
        "BROWSER": str(wrapper),
        "INSPECTOR_BROWSER_USER": username,
        "INSPECTOR_BROWSER_PASSWORD": password,
        "INSPECTOR_BROWSER_DECISION": decision,
        "INSPECTOR_BROWSER_LOG": str(log),
    }


def browser_log(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def _browser_alive(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"tests.support.inspector_browser" in cmdline  # and not a recycled PID


def stop_browsers(log: Path, grace: float = 10.0) -> None:
    """Let the browser scripts in `log` finish (the Inspector may exit first: it is not their parent),
    then stop, by PID, any still running after `grace` seconds."""
    pids = [r["pid"] for r in browser_log(log) if isinstance(r.get("pid"), int)]
    deadline = time.monotonic() + grace
    while any(_browser_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in pids:
        if _browser_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)


def stored_access_token(home: Path, server_url: str) -> str:
    """The access token the Inspector saved for `server_url` in its file secret store under `home`.

    Format of 2.12.0 (MCP_INSPECTOR_SECRET_STORE=file, no passphrase): ~/.mcp-inspector/secrets.json holds
    {"secrets": {"oauth+<namespace>+<url-encoded server URL>:tokens:<issuer>": "<OAuth token JSON>"}}.
    """
    data = json.loads((home / ".mcp-inspector" / "secrets.json").read_text())
    marker = f"+{quote(server_url, safe='')}:tokens:"
    found = [v for k, v in data["secrets"].items() if marker in k]
    assert len(found) == 1, f"expected one token for {server_url} in {sorted(data['secrets'])}"
    return str(json.loads(found[0])["access_token"])
