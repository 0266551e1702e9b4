"""Structured logging: one `key=value` line per event (logfmt), so logs are both readable and greppable.

Call `event(logger, "name", key=value, ...)`; `configure_logging(level)` installs the formatter once.
Values are quoted when they contain spaces or quotes; nothing here ever formats a Secret's value.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

_FIELDS = "_fields"


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        parts = [f"ts={ts}", f"level={record.levelname}", f"logger={record.name}", f"msg={_quote(record.getMessage())}"]
        fields: dict[str, Any] = getattr(record, _FIELDS, {})
        parts.extend(f"{k}={_quote(v)}" for k, v in fields.items() if v is not None)
        if record.exc_info:
            parts.append(f"exc={_quote(self.formatException(record.exc_info))}")
        return " ".join(parts)


def _quote(value: Any) -> str:
    text = value if isinstance(value, str) else (f"{value:.1f}" if isinstance(value, float) else str(value))
    if text and not any(c in text for c in ' ="\n\t'):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def event(logger: logging.Logger, name: str, *, level: int = logging.INFO, **fields: Any) -> None:
    if logger.isEnabledFor(level):
        logger.log(level, name, extra={_FIELDS: fields})


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
