"""Structured logging: one `key=value` line per event (logfmt), so logs are both readable and greppable.

Call `event(logger, "name", key=value, ...)`; `configure_logging(level)` installs the formatter once.
Nothing here ever formats a Secret's value.

A log line cannot be forged from outside. Every value, the message included, is written on one line:
line breaks (\\r, \\n, U+0085, U+2028, U+2029), every other control or format character (bidi overrides
among them) and any non-printing character are escaped as \\xNN / \\uNNNN, so a username such as
"x\\nmsg=login_ok user=admin" stays inside its own quoted field. Values are also cut to a short form
(`FIELD_CHARS`, or a larger budget for the few fields that legitimately carry text, such as `sql`), so
one request cannot make a line, or the log, arbitrarily large.
"""

from __future__ import annotations

import functools
import logging
import re
import sys
import time
from typing import Any

_FIELDS = "_fields"

FIELD_CHARS = 200  # most fields: names, addresses, ids, reasons
MESSAGE_CHARS = 2000  # the message of a plain log call (may embed a driver's text)
LONG_FIELDS = {"sql": 4000, "exc": 20_000}  # AUDIT_SQL=full; a traceback (our own code's)
_NEEDS_QUOTES = re.compile(r'[ ="\\]')  # characters a bare logfmt value cannot hold
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


class LogfmtFormatter(logging.Formatter):
    _second: tuple[int, str] = (-1, "")  # the last second formatted, and its text: one strftime a second

    def format(self, record: logging.LogRecord) -> str:
        second = int(record.created)
        if second != self._second[0]:
            self._second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
        ts = f"{self._second[1]}.{int(record.msecs):03d}Z"
        message = _quote(record.getMessage(), MESSAGE_CHARS)
        parts = [f"ts={ts}", f"level={record.levelname}", f"logger={_quote(record.name)}", f"msg={message}"]
        fields: dict[str, Any] = getattr(record, _FIELDS, {})
        parts.extend(
            f"{_key(k)}={_quote(v, LONG_FIELDS.get(k, FIELD_CHARS))}" for k, v in fields.items() if v is not None
        )
        if record.exc_info:
            parts.append(f"exc={_quote(self.formatException(record.exc_info), LONG_FIELDS['exc'])}")
        return " ".join(parts)


def cut(text: str, limit: int) -> str:
    """`text` if short enough, else its first `limit` characters and how many more there were."""
    return text if len(text) <= limit else f"{text[:limit]}…[+{len(text) - limit} chars]"


def _quote(value: Any, limit: int = FIELD_CHARS) -> str:
    text = value if isinstance(value, str) else (f"{value:.1f}" if isinstance(value, float) else str(value))
    text = cut(text, limit)
    if text and text.isprintable() and _NEEDS_QUOTES.search(text) is None:
        return text
    return '"' + "".join(_escape(c) for c in text) + '"'


def _escape(c: str) -> str:
    if c in _ESCAPES:
        return _ESCAPES[c]
    if c == " " or c.isprintable():
        return c
    # Not printable: C0/C1 controls, DEL, U+2028/U+2029, format characters (bidi overrides), lone
    # surrogates, unassigned code points and non-ASCII spaces. Written as Python-style escapes.
    n = ord(c)
    return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}"


@functools.lru_cache(maxsize=512)  # keys are a small, fixed set from our own code; this runs per field per line
def _key(name: str) -> str:
    # Keys come from our code; kept to a safe alphabet anyway, so a key can never break a line either.
    return "".join(c if c.isalnum() or c == "_" else "_" for c in name)[:64] or "_"


def event(logger: logging.Logger, name: str, *, level: int = logging.INFO, **fields: Any) -> None:
    if logger.isEnabledFor(level):
        # As logger.log(level, name, extra=...) does, less its walk up the stack for the caller's file and
        # line (findCaller), which no line of ours shows: this runs once per tool call (the audit line).
        logger.handle(logger.makeRecord(logger.name, level, "", 0, name, (), None, extra={_FIELDS: fields}))


def configure_logging(level: str) -> None:
    root = logging.getLogger()
    root.setLevel(level)
    if not any(isinstance(h.formatter, LogfmtFormatter) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(LogfmtFormatter())
        root.handlers = [handler]
    # uvicorn's access log would repeat every request line; our tool-call lines are the useful ones.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").setLevel(max(logging.WARNING, root.level))
    # The SDK's transport logs "Terminating session: None" at INFO once per stateless request: noise, and
    # a formatted, flushed line per call on the hot path. Its warnings and errors still come through.
    logging.getLogger("mcp.server.streamable_http").setLevel(max(logging.WARNING, root.level))
