"""A PRODUCER span per relayed record, in the trace stored with the event."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from opentelemetry import trace

from services.relay.messages import OutgoingRecord
from services.telemetry.propagation import extract_headers, inject_headers
from services.telemetry.spans import ending, start_publish_span


@contextmanager
def traced_records(topic: str, records: Sequence[OutgoingRecord]) -> Iterator[list[OutgoingRecord]]:
    """Open a publish span per record and yield the records with that span's ``traceparent``.

    Each span is a child of the ``traceparent`` stored in the event's metadata,
    which ``to_record`` put into the record's headers. A record without one
    starts a new trace. The spans end when the block exits.
    """
    spans = [
        start_publish_span(
            topic,
            parent=extract_headers(record.headers),
            attributes={"messaging.message.id": _event_id(record)},
        )
        for record in records
    ]
    traced = [
        dataclasses.replace(
            record, headers=inject_headers(record.headers, trace.set_span_in_context(span))
        )
        for record, span in zip(records, spans, strict=True)
    ]
    with ending(spans):
        yield traced


def _event_id(record: OutgoingRecord) -> str:
    for key, value in record.headers:
        if key == "event-id":
            return value.decode("ascii", "replace")
    return ""
