"""Trace context through Kafka headers and event metadata, and email masking in spans."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.telemetry.propagation import (
    distinct_contexts,
    extract_headers,
    extract_metadata,
    headers_from_metadata,
    inject_headers,
    trace_log_fields,
    trace_metadata,
)
from services.telemetry.redaction import RedactEmailsProcessor

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def span_id_of(context: object) -> int:
    return trace.get_current_span(context).get_span_context().span_id  # type: ignore[arg-type]


def test_inject_replaces_old_trace_headers() -> None:
    tracer = TracerProvider().get_tracer("test")
    old = [("event-type", b"X"), ("traceparent", TRACEPARENT.encode())]

    with tracer.start_as_current_span("publish") as span:
        headers = inject_headers(old)

    names = [key for key, _ in headers]
    assert names.count("traceparent") == 1
    assert ("event-type", b"X") in headers
    assert span_id_of(extract_headers(headers)) == span.get_span_context().span_id


def test_headers_round_trip_through_metadata() -> None:
    headers = [("schema-version", b"1"), ("traceparent", TRACEPARENT.encode())]

    metadata = trace_metadata(headers)

    assert metadata == {"traceparent": TRACEPARENT}
    assert headers_from_metadata(metadata) == [("traceparent", TRACEPARENT.encode())]
    assert span_id_of(extract_metadata(metadata)) == 0xB7AD6B7169203331


def test_record_without_trace_headers_has_no_context() -> None:
    assert trace_metadata([("schema-version", b"1")]) == {}
    assert trace_log_fields([]) == {}


def test_log_fields_name_the_record_trace() -> None:
    fields = trace_log_fields([("traceparent", TRACEPARENT.encode())])

    assert fields == {"trace_id": "0af7651916cd43dd8448eb211c80319c", "span_id": "b7ad6b7169203331"}


def test_distinct_contexts_skip_repeats() -> None:
    other = "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01"
    metadatas = [
        {"traceparent": TRACEPARENT},
        {},
        {"traceparent": TRACEPARENT},
        {"traceparent": other},
    ]

    contexts = distinct_contexts(metadatas)

    assert [span_id_of(c) for c in contexts] == [0xB7AD6B7169203331, 0x00F067AA0BA902B7]


def test_span_attributes_lose_emails() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(RedactEmailsProcessor())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    path = "/merchants/ls-eu1-1/customers/dana@example.com/points"

    provider.get_tracer("test").start_span("GET", attributes={"url.path": path}).end()

    (span,) = exporter.get_finished_spans()
    assert span.attributes is not None
    assert span.attributes["url.path"] == "/merchants/ls-eu1-1/customers/[redacted]/points"
