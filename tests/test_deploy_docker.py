"""The Dockerfiles, checked without a Docker engine.

hadolint lints them. Then each file is read the way the builder reads it: its COPY lines lay out the image's
/app in a temp folder (after .dockerignore), and its CMD is run there with its ENV, so the files the image
would hold must be enough to start the app; its HEALTHCHECK command must pass against that server and fail
once it is gone.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.compose import model
from tests.support.procs import ROOT, free_port, stop_pid, wait_http

HADOLINT = Path(sys.executable).parent / "hadolint"
FILES = {"Dockerfile": ("server_oauth.py", "/health"), "Dockerfile.chatgpt": ("server_chatgpt.py", "/chatgpt/health")}


@dataclass
class Stage:
    base: str
    name: str
    env: dict[str, str] = field(default_factory=dict)
    copies: list[tuple[list[str], str]] = field(default_factory=list)
    lines: list[tuple[str, str]] = field(default_factory=list)


def parse(path: Path) -> list[Stage]:
    """Instructions per stage, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", path.read_text())
    stages: list[Stage] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        op, _, rest = line.partition(" ")
        op = op.upper()
        if op == "FROM":
            parts = rest.split()
            stages.append(Stage(parts[0], parts[2] if len(parts) > 2 else ""))
            continue
        stage = stages[-1]
        stage.lines.append((op, rest))
        if op == "ENV":
            stage.env.update(dict(re.findall(r"(\w+)=(\S+)", rest)))
        elif op == "COPY":
            *sources, dest = rest.split()
            stage.copies.append((sources, dest))
    return stages


def image(path: Path) -> tuple[dict[str, str], list[tuple[list[str], str]], dict[str, str]]:
    """ENV, COPYs and the other instructions of the final stage, with what it inherits from its base."""
    stages = parse(path)
    final = stages[-1]
    env: dict[str, str] = {}
    copies: list[tuple[list[str], str]] = []
    ops: dict[str, str] = {}
    for stage in stages:
        if stage is final or stage.name == final.base:
            env.update(stage.env)
            copies += stage.copies
            ops.update({op: rest for op, rest in stage.lines})
    return env, copies, ops


def ignored(rel: str, rules: list[str]) -> bool:
    """.dockerignore semantics as far as ours needs them: the last matching rule wins; '!' re-includes."""
    verdict = False
    for rule in rules:
        negate = rule.startswith("!")
        pattern = rule.lstrip("!").rstrip("/")
        if (
            fnmatch.fnmatch(rel, pattern)
            or rel.startswith(pattern + "/")
            or (pattern.startswith("**/") and fnmatch.fnmatch(rel.rsplit("/", 1)[-1], pattern[3:]))
        ):
            verdict = not negate
    return verdict


def dockerignore() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_hadolint_is_clean() -> None:
    out = subprocess.run(
        [str(HADOLINT), "--failure-threshold", "style", *FILES], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_hadolint_catches_a_root_user(tmp_path: Path) -> None:
    """Control: the same lint fails a Dockerfile that switches to a non-numeric user."""
    bad = tmp_path / "Dockerfile"
    bad.write_text((ROOT / "Dockerfile").read_text().replace("USER 10001:10001", "USER root"))
    out = subprocess.run(
        [str(HADOLINT), "--failure-threshold", "style", str(bad)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode != 0 and "DL3002" in out.stdout


def test_both_files_share_one_base_stage() -> None:
    def base(name: str) -> str:
        text = (ROOT / name).read_text()
        return text[text.index("# ---- base:") : text.index("# ---- end of base ----")]

    assert base("Dockerfile") == base("Dockerfile.chatgpt")
    assert parse(ROOT / "Dockerfile")[0].base == "python:3.11-slim-bookworm"


@pytest.mark.parametrize("name", FILES)
def test_image_rules(name: str) -> None:
    env, copies, ops = image(ROOT / name)
    user = ops["USER"].split(":")
    assert all(part.isdigit() and int(part) > 0 for part in user), ops["USER"]  # numeric, not root
    assert "HEALTHCHECK" in ops and FILES[name][1] in ops["HEALTHCHECK"]
    assert "scripts/install-odbc.sh" in ops["RUN"] or any("install-odbc" in s for src, _ in copies for s in src)
    secretish = re.compile(r"PASSWORD|SECRET|TOKEN|KEY|PWD", re.I)
    assert not [k for k in env if secretish.search(k)], env  # nothing secret baked into a layer
    assert json.loads(ops["CMD"]) == ["python", FILES[name][0]]


def test_the_odbc_script_is_shared_with_bootstrap() -> None:
    assert "scripts/install-odbc.sh" in (ROOT / "scripts" / "bootstrap.sh").read_text()
    for name in FILES:
        assert "scripts/install-odbc.sh" in (ROOT / name).read_text()


def test_dockerignore_keeps_secrets_and_clutter_out() -> None:
    rules = dockerignore()
    for path in (
        ".env",
        ".env.local",
        ".git/config",
        "tests/conftest.py",
        "data/oauth.sqlite",
        ".venv/bin/python",
        "certbot/conf/live/x/privkey.pem",
        "mssql_mcp/__pycache__/app.cpython-311.pyc",
    ):
        assert ignored(path, rules), path
    for name in FILES:
        _, copies, _ = image(ROOT / name)
        for sources, _ in copies:
            for src in sources:
                assert not ignored(src.rstrip("/"), rules), f"{name} copies {src}, which .dockerignore drops"


def lay_out(name: str, app: Path) -> None:
    """/app as the builder would fill it: each COPY source (minus .dockerignore'd files) into its destination."""
    rules = dockerignore()
    _, copies, _ = image(ROOT / name)
    for sources, dest in copies:
        for src in sources:
            origin = ROOT / src
            files = [origin] if origin.is_file() else [p for p in origin.rglob("*") if p.is_file()]
            for f in files:
                rel = f.relative_to(ROOT).as_posix()
                if ignored(rel, rules):
                    continue
                target = app / dest / (f.name if origin.is_file() else f.relative_to(origin))
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(f, target)


# How a container is started: `docker run` of each Dockerfile, and each app service of both Compose files
# (their command, environment and healthcheck as `docker-compose config` resolves them).
RUNS = {
    "docker-run-claude": ("Dockerfile", None),
    "docker-run-chatgpt": ("Dockerfile.chatgpt", None),
    "dev-claude": ("docker-compose.yml", "mcp-claude"),
    "dev-chatgpt": ("docker-compose.yml", "mcp-chatgpt"),
    "prod-claude": ("docker-compose.prod.yml", "mcp-claude"),
    "prod-chatgpt": ("docker-compose.prod.yml", "mcp-chatgpt"),
}


def _container(run: str, tmp: Path, port: int) -> tuple[str, list[str], dict[str, str], list[str]]:
    """(Dockerfile, command, environment, healthcheck command) of one way of starting a container."""
    source, service = RUNS[run]
    svc: dict[str, Any] = {}
    if service is not None:
        project = tmp / "project"
        project.mkdir()
        (project / ".env").write_text("DOMAIN=mcp.example.com\n")
        svc = model(project, source)["services"][service]
    dockerfile = svc["build"]["dockerfile"] if svc else source
    image_env, _, ops = image(ROOT / dockerfile)
    command = svc.get("command") or json.loads(ops["CMD"])
    if "healthcheck" in svc and "test" in svc["healthcheck"]:
        kind, *health = svc["healthcheck"]["test"]
        assert kind == "CMD"
        published = f":{svc['environment']['PORT']}/"  # the check must probe the port the service listens on
        assert any(published in part for part in health), health
        health = [part.replace(published, f":{port}/") for part in health]
    else:
        health = json.loads(ops["HEALTHCHECK"].split(" CMD ", 1)[1])
    # The container's environment, except that a test binds loopback and a free port; sign-in stays on.
    env = {
        "PATH": os.environ["PATH"],
        **image_env,
        **svc.get("environment", {}),
        "HOST": "127.0.0.1",
        "PORT": str(port),
    }
    python = [sys.executable if part == "python" else part for part in command]
    return dockerfile, python, env, [sys.executable if part == "python" else part for part in health]


@pytest.mark.slow
@pytest.mark.parametrize("run", list(RUNS))
def test_container_starts_from_the_image_layout_and_its_healthcheck_tracks_it(
    run: str, tmp_path: Path, demo_db: Path
) -> None:
    port = free_port()
    dockerfile, command, env, health = _container(run, tmp_path, port)
    app = tmp_path / "app"
    lay_out(dockerfile, app)
    assert not (app / "tests").exists() and (app / "mssql_mcp" / "app.py").is_file()
    (app / "data").mkdir()
    shutil.copy(demo_db, app / "data" / "demo.sqlite")  # what the named volume holds after the first start
    # The layout's own package is the one imported (not the checkout's editable install).
    where = subprocess.run(
        [sys.executable, "-c", "import mssql_mcp; print(mssql_mcp.__file__)"],
        cwd=app,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert where.stdout.strip() == str(app / "mssql_mcp" / "__init__.py")
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, cwd=app, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/health", proc, log)
        check = subprocess.run(health, env=env, capture_output=True, text=True, timeout=10)
        assert check.returncode == 0, check.stderr
        assert (app / "data" / "oauth.sqlite").exists()  # the OAuth store is created inside the data volume
    finally:
        stop_pid(proc)
    check = subprocess.run(health, env=env, capture_output=True, text=True, timeout=10)
    assert check.returncode != 0  # the healthcheck really checks


def _closure(names: set[str]) -> set[str]:
    """The distributions `names` pull in, transitively, as installed here (extras not taken)."""
    from importlib.metadata import PackageNotFoundError, requires

    seen: set[str] = set()
    todo = [canonical(n) for n in names]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            reqs = requires(name) or []
        except PackageNotFoundError:
            continue
        todo += [canonical(re.split(r"[\s;\[<>=!~(]", r, maxsplit=1)[0]) for r in reqs if "extra ==" not in r]
    return seen


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_image_installs_every_package_the_code_imports() -> None:
    """The CMD test above runs in the dev virtualenv; this closes the gap: each third-party import under
    mssql_mcp/ comes from requirements.txt or scripts/install-odbc.sh (what the image installs), not from a
    test-only package that happens to be installed here."""
    import ast
    from importlib.metadata import packages_distributions

    pins = {
        line.split("==")[0]
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    odbc_pin = re.search(r'default_pin="([^=]+)==', (ROOT / "scripts" / "install-odbc.sh").read_text())
    assert odbc_pin
    installed = _closure(pins | {odbc_pin.group(1)})
    owners = packages_distributions()
    missing: dict[str, list[str]] = {}
    for path in (ROOT / "mssql_mcp").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            modules = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module]
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                else []
            )
            for module in modules:
                top = module.split(".")[0]
                if top in sys.stdlib_module_names or top == "mssql_mcp":
                    continue
                dists = {canonical(d) for d in owners.get(top, [top])}
                if not dists & installed:
                    missing.setdefault(top, []).append(str(path.relative_to(ROOT)))
    assert not missing, f"imported but not installed by the image: {missing}"
