"""The helpers a publisher of stored events and a mail consumer call continue one trace."""

from __future__ import annotations

from itertools import pairwise

from opentelemetry.trace import SpanKind

from services.telemetry.instruments import instruments
from services.telemetry.propagation import extract_metadata, inject_headers, trace_metadata
from services.telemetry.spans import client_span, process_span, publish_span, tracer
from tests.support.telemetry import CapturedTelemetry

POINTS_TOPIC = "loyalty.points.v1.chain-test"


def test_stored_event_trace_reaches_smtp_send(telemetry: CapturedTelemetry) -> None:
    sent_before = telemetry.value("loyalty.emails.sent")

    with tracer().start_as_current_span("orders process") as record_span:
        metadata = trace_metadata(inject_headers())

    with publish_span(POINTS_TOPIC, parent=extract_metadata(metadata)) as publish:
        headers = inject_headers([("event-type", b"PointsEarned")])
    with process_span(POINTS_TOPIC, headers) as process, client_span("smtp send") as send:
        instruments().emails_sent.add(1)

    trace_id = record_span.get_span_context().trace_id
    spans = {
        span.context.span_id: span
        for span in telemetry.finished_spans()
        if span.context.trace_id == trace_id
    }
    chain = [record_span, publish, process, send]
    for parent, child in pairwise(chain):
        finished = spans[child.get_span_context().span_id]
        assert finished.parent is not None
        assert finished.parent.span_id == parent.get_span_context().span_id
    assert spans[publish.get_span_context().span_id].kind == SpanKind.PRODUCER
    assert spans[process.get_span_context().span_id].kind == SpanKind.CONSUMER
    assert spans[send.get_span_context().span_id].kind == SpanKind.CLIENT
    assert telemetry.value("loyalty.emails.sent") == sent_before + 1
