"""Log lines cannot be forged or blown up: every field is escaped onto one line and cut to a short form."""

from __future__ import annotations

import logging
import re

import pytest

from mssql_mcp.logs import FIELD_CHARS, LONG_FIELDS, LogfmtFormatter, event

PAIR = re.compile(r'([A-Za-z0-9_]+)=("(?:[^"\\]|\\.)*"|[^ "]*)(?: |$)')


def parse(text: str) -> list[tuple[str, str]]:
    """A logfmt reader: the line must be nothing but key=value pairs, values plain or quoted."""
    pairs = [(m.group(1), m.group(2)) for m in PAIR.finditer(text)]
    assert " ".join(f"{k}={v}" for k, v in pairs) == text, text
    return pairs


FORGED = "x\nts=2026-01-01T00:00:00.000Z level=INFO logger=mssql_mcp.auth msg=login_ok user=admin"


def line(caplog: pytest.LogCaptureFixture, **fields: object) -> str:
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="t"):
        event(logging.getLogger("t"), "login_failed", **fields)
    (record,) = caplog.records
    return LogfmtFormatter().format(record)


@pytest.mark.parametrize(
    "breaker", ["\n", "\r", "\r\n", "\u2028", "\u2029", "\u0085", "\x0b", "\x0c", "\x1b", "\x00", "\u202e", "\ud800"]
)
def test_no_character_can_start_a_new_line_or_hide_one(caplog: pytest.LogCaptureFixture, breaker: str) -> None:
    text = line(caplog, user=FORGED.replace("\n", breaker), ip="127.0.0.1")
    assert len(text.splitlines()) == 1  # str.splitlines knows every Unicode line boundary
    assert all(c.isprintable() for c in text)
    pairs = parse(text)
    assert [k for k, _ in pairs] == ["ts", "level", "logger", "msg", "user", "ip"]
    assert dict(pairs)["msg"] == "login_failed" and dict(pairs)["ip"] == "127.0.0.1"


def test_quotes_and_backslashes_cannot_close_a_field(caplog: pytest.LogCaptureFixture) -> None:
    text = line(caplog, user='a" msg=login_ok user="admin\\', ip="1.2.3.4")
    assert [k for k, _ in parse(text)] == ["ts", "level", "logger", "msg", "user", "ip"]
    assert 'user="a\\" msg=login_ok user=\\"admin\\\\" ip=1.2.3.4' in text


def test_plain_values_stay_unquoted(caplog: pytest.LogCaptureFixture) -> None:
    text = line(caplog, user="alice", ip="10.0.0.1", wait_s=1.25, n=3)
    assert text.endswith("msg=login_failed user=alice ip=10.0.0.1 wait_s=1.2 n=3")


def test_every_field_is_cut_short(caplog: pytest.LogCaptureFixture) -> None:
    text = line(caplog, user="u" * 100_000, client="c" * 50, sql="s" * 100_000)
    assert f'user="{"u" * FIELD_CHARS}…[+{100_000 - FIELD_CHARS} chars]"' in text
    assert "client=" + "c" * 50 + " " in text
    assert "s" * LONG_FIELDS["sql"] in text and "s" * (LONG_FIELDS["sql"] + 1) not in text
    assert len(text) < FIELD_CHARS + LONG_FIELDS["sql"] + 400


def test_a_plain_message_is_escaped_too(caplog: pytest.LogCaptureFixture) -> None:
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="t"):
        logging.getLogger("t").warning("driver said: %s", "bad\r\nts=x level=INFO msg=login_ok")
    text = LogfmtFormatter().format(caplog.records[0])
    assert len(text.splitlines()) == 1 and [k for k, _ in parse(text)] == ["ts", "level", "logger", "msg"]
