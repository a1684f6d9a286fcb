"""Log lines carry the trace context and never an email address or a name."""

from __future__ import annotations

import json
import logging

from opentelemetry.sdk.trace import TracerProvider

from services.common.logs import JsonFormatter, TextFormatter, TraceContextFilter


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    entry = logging.LogRecord("test", logging.INFO, __file__, 1, message, args, None)
    entry.__dict__.update(extra)
    return entry


def test_json_masks_email_in_message() -> None:
    line = JsonFormatter().format(record("customer %s not found", "Dana@Example.COM"))

    assert "Example.COM" not in line
    assert json.loads(line)["message"] == "customer [redacted] not found"


def test_json_drops_personal_fields() -> None:
    line = JsonFormatter().format(record("seen", first_name="Dana", last_name="Smit", order_id="7"))
    entry = json.loads(line)

    assert entry["first_name"] == "[redacted]"
    assert entry["last_name"] == "[redacted]"
    assert entry["order_id"] == "7"


def test_json_masks_email_in_exception() -> None:
    try:
        raise ValueError("duplicate key (customer_key)=(ann@example.com)")
    except ValueError:
        import sys

        entry = record("failed")
        entry.exc_info = sys.exc_info()
    line = JsonFormatter().format(entry)

    assert "ann@example.com" not in line
    assert "[redacted]" in json.loads(line)["exception"]


def test_text_masks_email_and_shows_trace() -> None:
    line = TextFormatter().format(record("mail to bob@example.org", trace_id="ab" * 16))

    assert "bob@example.org" not in line
    assert line.endswith(f"[trace {'ab' * 16}]")


def test_filter_adds_current_span_ids() -> None:
    tracer = TracerProvider().get_tracer("test")
    entry = record("inside")

    with tracer.start_as_current_span("work") as span:
        TraceContextFilter().filter(entry)
    context = span.get_span_context()

    assert entry.trace_id == format(context.trace_id, "032x")
    assert entry.span_id == format(context.span_id, "016x")


def test_filter_keeps_explicit_trace_id() -> None:
    tracer = TracerProvider().get_tracer("test")
    entry = record("for a record", trace_id="1" * 32, span_id="2" * 16)

    with tracer.start_as_current_span("batch"):
        TraceContextFilter().filter(entry)

    assert entry.trace_id == "1" * 32
    assert entry.span_id == "2" * 16


def test_filter_adds_nothing_outside_spans() -> None:
    entry = record("outside")

    TraceContextFilter().filter(entry)

    assert not hasattr(entry, "trace_id")
