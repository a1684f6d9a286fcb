"""Spans of the messaging hops: publish, process, batch process and writes shared by traces.

Names and attributes follow the OpenTelemetry messaging conventions:
``<topic> publish`` and ``<topic> process``, with ``messaging.system`` and
``messaging.destination.name``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.util.types import AttributeValue

from services.telemetry.propagation import extract_headers

TRACER_NAME = "loyalty-ledger"

Attributes = Mapping[str, AttributeValue]


def tracer() -> Tracer:
    """Return the pipeline's tracer on the global tracer provider."""
    return trace.get_tracer(TRACER_NAME)


def _kafka_attributes(topic: str, operation: str) -> dict[str, AttributeValue]:
    return {
        "messaging.system": "kafka",
        "messaging.destination.name": topic,
        "messaging.operation.type": operation,
    }


@contextmanager
def publish_span(
    topic: str, *, parent: Context | None = None, attributes: Attributes | None = None
) -> Iterator[Span]:
    """Open the current PRODUCER span of a publication to ``topic``.

    ``parent`` defaults to the current context; the relay passes the context
    stored in an event's metadata. Inject the headers inside the block.
    """
    with tracer().start_as_current_span(
        f"{topic} publish",
        context=parent,
        kind=SpanKind.PRODUCER,
        attributes={**_kafka_attributes(topic, "send"), **(attributes or {})},
    ) as span:
        yield span


def start_publish_span(
    topic: str, *, parent: Context | None, attributes: Attributes | None = None
) -> Span:
    """Start a PRODUCER span for one record of a batch publication. The caller ends it."""
    return tracer().start_span(
        f"{topic} publish",
        context=parent,
        kind=SpanKind.PRODUCER,
        attributes={**_kafka_attributes(topic, "send"), **(attributes or {})},
    )


@contextmanager
def ending(spans: Sequence[Span]) -> Iterator[None]:
    """End ``spans`` when the block exits, marking each failed when the block raises."""
    try:
        yield
    except BaseException as error:
        for span in spans:
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
        raise
    finally:
        for span in spans:
            span.end()


def start_process_span(
    topic: str,
    headers: Iterable[tuple[str, bytes]],
    *,
    links: Sequence[Link] = (),
    attributes: Attributes | None = None,
) -> Span:
    """Start a CONSUMER span for one record, as a child of the context in its headers.

    A record without trace headers starts a new trace. The caller ends the span.
    """
    return tracer().start_span(
        f"{topic} process",
        context=extract_headers(headers),
        kind=SpanKind.CONSUMER,
        links=links,
        attributes={**_kafka_attributes(topic, "process"), **(attributes or {})},
    )


@contextmanager
def process_span(
    topic: str, headers: Iterable[tuple[str, bytes]], *, attributes: Attributes | None = None
) -> Iterator[Span]:
    """Open the current CONSUMER span of one record, continuing the trace in its headers."""
    span = start_process_span(topic, headers, attributes=attributes)
    with trace.use_span(span, end_on_exit=True):
        yield span


@contextmanager
def batch_span(topic: str, batch_headers: Sequence[Iterable[tuple[str, bytes]]]) -> Iterator[Span]:
    """Open the current CONSUMER span of a batch, in its own trace, linked to every record.

    A batch mixes records of many traces, so it has no parent; each record's
    context becomes a link instead.
    """
    links = []
    for headers in batch_headers:
        context = trace.get_current_span(extract_headers(headers)).get_span_context()
        if context.is_valid:
            links.append(Link(context))
    attributes = {
        **_kafka_attributes(topic, "process"),
        "messaging.batch.message_count": len(batch_headers),
    }
    with tracer().start_as_current_span(
        f"{topic} process",
        context=Context(),
        kind=SpanKind.CONSUMER,
        links=links,
        attributes=attributes,
    ) as span:
        yield span


@contextmanager
def shared_write_spans(
    name: str, parents: Sequence[Context], *, attributes: Attributes | None = None
) -> Iterator[list[Span]]:
    """Open one CLIENT span per parent for a single write that serves many traces.

    One statement that stores the effects of records from several traces
    appears in each of those traces, with the same start and end. With no
    parents, one span opens under the current context.
    """
    contexts: Sequence[Context | None] = parents or [None]
    spans = [
        tracer().start_span(name, context=context, kind=SpanKind.CLIENT, attributes=attributes)
        for context in contexts
    ]
    with ending(spans):
        yield spans


@contextmanager
def client_span(name: str, *, attributes: Attributes | None = None) -> Iterator[Span]:
    """Open the current CLIENT span of a call to another system, such as an SMTP send."""
    with tracer().start_as_current_span(name, kind=SpanKind.CLIENT, attributes=attributes) as span:
        yield span
