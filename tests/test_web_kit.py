"""The page kit on its own: one escaping, one set of headers whose CSP admits exactly the inline stylesheet,
and package data that names only files that exist (so an installed wheel has every template)."""

from __future__ import annotations

import base64
import hashlib
import re
import tomllib
from pathlib import Path

from markupsafe import Markup

from mssql_mcp.web import message_page, render, security_headers

ROOT = Path(__file__).resolve().parents[1]


def test_every_value_is_escaped_the_way_html_escape_does_it() -> None:
    body = message_page('<img src=x onerror="alert(1)">', "it's <b>bold</b> & more", status=400).body.decode()
    assert "<img" not in body and "<b>" not in body
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in body
    assert "it&#x27;s &lt;b&gt;bold&lt;/b&gt; &amp; more" in body
    # Only markup the server built itself passes as it is.
    assert "<b>ok</b>" in render("message.html", title="t", heading=Markup("<b>ok</b>"), text="x")


def test_the_csp_allows_the_one_inline_stylesheet_by_hash_and_no_script() -> None:
    response = message_page("Hello", "World", status=200)
    body = response.body.decode()
    (style,) = re.findall(r"<style>(.*?)</style>", body, flags=re.S)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    csp = response.headers["content-security-policy"]
    assert f"style-src 'sha256-{digest}'" in csp and "unsafe-inline" not in csp
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "<script" not in body
    assert all(response.headers[name] == value for name, value in security_headers().items())
    assert response.status_code == 200 and '<html lang="en">' in body and "<title>Hello · mssql-mcp</title>" in body


def test_package_data_names_only_files_that_exist() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    for package, patterns in config.items():
        base = ROOT / package.replace(".", "/")
        for pattern in patterns:
            assert list(base.glob(pattern)), f"{package}: {pattern} matches nothing"
    templates = {p.name for p in (ROOT / "mssql_mcp/web/templates").iterdir()}
    assert {"base.html", "login.html", "consent.html", "message.html", "record.html", "landing.html"} <= templates
    assert not (ROOT / "mssql_mcp/oauth/templates").exists()
