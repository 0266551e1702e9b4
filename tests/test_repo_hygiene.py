"""Comments and docs stand on their own: a pure text scan of the repository's own files.

A comment gives its reason, and may point to a spec, an RFC or a file of this repository. It never points to
a tracker's issue numbers nor to notes kept outside the repository: a reader of the tree has neither. Every
repository path a comment or a doc cites (`docs/…`, `mssql_mcp/…`, `tests/…`, or a path inside the package
such as `oauth/provider.py`) names a file that exists.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "mssql_mcp"

# The project's own text: generated, installed and scratch trees are not ours to word.
SKIP_DIRS = frozenset(
    {".git", ".venv", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis", "node_modules"}
)
SKIP_PATHS = ("bench/.scratch", "test-artifacts", "data", "build")
TEXT_SUFFIXES = frozenset({".py", ".md", ".html", ".css", ".conf", ".sh", ".yml", ".yaml", ".toml", ".txt", ".cfg"})
TEXT_NAMES = frozenset({"Makefile", "Dockerfile", "Dockerfile.chatgpt", ".env.example", ".dockerignore", "run"})

# A tracker's numbers: "issue 7", "issues 3 and 4", "ticket #12", or a bare "#12" in prose or a comment.
ISSUE_WORD = re.compile(r"\b(?:issues?|tickets?)\s*#?\d+", re.IGNORECASE)
BARE_NUMBER = re.compile(r"(?:^|[\s(\[,])#\d{1,5}\b")
# Notes that lived beside the repository while it was built.
OUTSIDE_NOTES = re.compile(r"\b(?:FACTS|ARCHITECTURE)\.md\b|(?<![\w./-])shared/")
# A cited repository path: from the root, or from inside the package (as the package's own docs write them).
ROOT_PATH = re.compile(
    r"(?<![\w./-])((?:mssql_mcp|tests|bench|docs|scripts|nginx|certbot)/[\w./-]*\w\.(?:py|md|html|css|conf|sh|txt))\b"
)
PACKAGE_PATH = re.compile(r"(?<![\w./-])((?:oauth|db|faces|sqlgate|web)/[\w./-]*\w\.(?:py|md|html|css))\b")


def own_files() -> Iterator[Path]:
    for folder, dirs, files in os.walk(ROOT):
        here = Path(folder)
        dirs[:] = sorted(
            d
            for d in dirs
            if d not in SKIP_DIRS
            and not d.endswith(".egg-info")
            and (here / d).relative_to(ROOT).as_posix() not in SKIP_PATHS
        )
        for name in sorted(files):
            path = here / name
            if (path.suffix in TEXT_SUFFIXES or name in TEXT_NAMES) and path != Path(__file__):
                yield path


def lines(path: Path, *patterns: re.Pattern[str]) -> Iterator[tuple[str, int, str]]:
    """The file's lines, or none when no pattern occurs anywhere in it (most files: one search, not hundreds)."""
    text = path.read_text(encoding="utf-8")
    if any(p.search(text) for p in patterns):
        where = path.relative_to(ROOT).as_posix()
        for number, line in enumerate(text.splitlines(), 1):
            yield where, number, line


def test_the_scan_sees_the_tree() -> None:
    seen = {p.relative_to(ROOT).as_posix() for p in own_files()}
    assert {"README.md", "Makefile", "mssql_mcp/app.py", "docs/architecture.md", "nginx/conf.d/default.conf"} <= seen
    assert not any(s.startswith(("bench/.scratch/", ".venv/")) for s in seen)


def test_no_issue_numbers() -> None:
    found = []
    for path in own_files():
        bare = path.suffix not in {".css", ".html"}  # colours such as #333 are not issue numbers
        for where, number, line in lines(path, ISSUE_WORD, BARE_NUMBER):
            if ISSUE_WORD.search(line) or (bare and BARE_NUMBER.search(line)):
                found.append(f"{where}:{number}: {line.strip()}")
    assert not found, "say the reason instead of citing a tracker:\n" + "\n".join(found)


def test_no_notes_outside_the_repository() -> None:
    found = [
        f"{where}:{number}: {line.strip()}"
        for path in own_files()
        for where, number, line in lines(path, OUTSIDE_NOTES)
        if OUTSIDE_NOTES.search(line)
    ]
    assert not found, "cite the repository's docs, a spec, or give the reason:\n" + "\n".join(found)


def exists(cited: str, citing: Path) -> bool:
    bases = [ROOT, PACKAGE, ROOT / "tests", *citing.parents]
    return any((base / cited).exists() for base in bases)


def test_cited_paths_exist() -> None:
    missing = []
    for path in own_files():
        for where, number, line in lines(path, ROOT_PATH, PACKAGE_PATH):
            for pattern in (ROOT_PATH, PACKAGE_PATH):
                for match in pattern.finditer(line):
                    if not exists(match.group(1), path):
                        missing.append(f"{where}:{number}: {match.group(1)}")
    assert not missing, "these cited files do not exist:\n" + "\n".join(missing)


def test_the_patterns_catch_what_they_should() -> None:
    assert ISSUE_WORD.search("as issue 7 asks") and ISSUE_WORD.search("Issues #3") and BARE_NUMBER.search("(see #12)")
    assert not ISSUE_WORD.search("the issuer 7") and not BARE_NUMBER.search("127.0.0.11#0")
    assert OUTSIDE_NOTES.search("(see FACTS.md)") and OUTSIDE_NOTES.search("per shared/notes")
    assert not OUTSIDE_NOTES.search("docs/architecture.md") and not OUTSIDE_NOTES.search("/usr/shared/x")
    assert [m.group(1) for m in ROOT_PATH.finditer("see docs/security.md.")] == ["docs/security.md"]
    assert [m.group(1) for m in PACKAGE_PATH.finditer("(oauth/browser.py)")] == ["oauth/browser.py"]
    assert not exists("docs/nowhere.md", ROOT / "README.md")
