"""Packaging promises: pins agree, entrypoints exist, `python -m` is an alias of the console script."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pins(path: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[name.strip().lower()] = version.strip()
    return pins


def test_requirements_pin_every_runtime_dependency_consistently() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = _pins(ROOT / "requirements.txt")
    for spec in project["dependencies"]:
        name = spec.split("=")[0].split(">")[0].split("<")[0].split("[")[0].strip().lower()
        assert name in pins, f"{name} is in pyproject.toml but not pinned in requirements.txt"
        if "==" in spec:  # exact pins must be the same version in both files
            assert spec.split("==")[1] == pins[name], name
    assert pins["mcp"] == "2.3.0"


def test_requirements_match_what_is_installed() -> None:
    from importlib.metadata import version

    for name, pinned in _pins(ROOT / "requirements.txt").items():
        assert version(name) == pinned, f"{name}: installed {version(name)}, pinned {pinned}"


def test_python_dash_m_and_console_script_agree() -> None:
    via_module = subprocess.run([sys.executable, "-m", "mssql_mcp", "--help"], capture_output=True, text=True)
    script = Path(sys.executable).with_name("mssql-mcp")
    via_script = subprocess.run([str(script), "--help"], capture_output=True, text=True)
    assert via_module.returncode == via_script.returncode == 0
    assert via_module.stdout == via_script.stdout
    for command in ("serve", "demo", "users", "doctor", "config"):
        assert command in via_module.stdout


def test_entrypoints_are_thin() -> None:
    for name in ("server_oauth.py", "server_chatgpt.py"):
        assert len((ROOT / name).read_text().splitlines()) < 15
