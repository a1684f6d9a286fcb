"""Logging set-up: one JSON object per line, or plain text for a terminal.

Every line carries the trace and span ids of the current span, and never an
email address or a person's name: fields named after personal data are
dropped and anything shaped like an email address is masked.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace

# Attributes every LogRecord has; anything else was passed through ``extra=``.
# uvicorn adds color_message, a copy of the message with terminal colour codes.
_STANDARD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}

# Fields passed through ``extra=`` whose values are personal data, written as [redacted].
PERSONAL_FIELDS = frozenset(
    {"email", "first_name", "last_name", "full_name", "customer_name", "recipient"}
)
EMAIL_PATTERN = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+")
REDACTED = "[redacted]"


def redact(text: str) -> str:
    """Return ``text`` with every email address replaced by ``[redacted]``."""
    return EMAIL_PATTERN.sub(REDACTED, text)


class TraceContextFilter(logging.Filter):
    """Adds ``trace_id`` and ``span_id`` of the current span, unless the call passed its own."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = trace.get_current_span().get_span_context()
        if context.is_valid and not hasattr(record, "trace_id"):
            record.trace_id = format(context.trace_id, "032x")
            record.span_id = format(context.span_id, "016x")
        return True


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object, with ``extra`` fields at the top level."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRIBUTES:
                entry[key] = REDACTED if key in PERSONAL_FIELDS else value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, default=str))


class TextFormatter(logging.Formatter):
    """Format a record as one line of text for a terminal, with its trace id when there is one."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        trace_id = getattr(record, "trace_id", None)
        if trace_id:
            line = f"{line} [trace {trace_id}]"
        return redact(line)


def configure_logging(level: str = "INFO", log_format: str = "json") -> None:
    """Send the root logger's records to stderr in ``log_format``; call once at start."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(TraceContextFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
