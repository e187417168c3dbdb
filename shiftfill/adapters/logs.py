"""Log output: plain text or one JSON object per line, with the request id of the request.

Business code logs with the standard ``logging`` module and names what a line is
about in ``extra=`` (``event``, ``shift_id``, ``caregiver_id``, counts). The
formatter here turns a record into a line; the request id comes from a context
variable that the web layer sets for the request being served.
"""

from __future__ import annotations

import contextvars
import json
import logging
from datetime import UTC, datetime
from typing import IO, Any

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "shiftfill_request_id", default=None
)

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "request_id",
}


class RequestIdFilter(logging.Filter):
    """Stamp each record with the id of the request it was logged under, if any."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``event``, ``message``, ``logger``,
    ``request_id`` when serving a request, and every ``extra=`` field of the record."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "event": getattr(record, "event", None) or "log",
            "message": record.getMessage(),
            "logger": record.name,
        }
        rid = getattr(record, "request_id", None) or request_id.get()
        if rid:
            line["request_id"] = rid
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in line:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def make_handler(log_format: str, stream: IO[str] | None = None) -> logging.Handler:
    """A handler writing ``text`` or ``json`` lines to ``stream`` (default: stderr)."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    handler.addFilter(RequestIdFilter())
    return handler
