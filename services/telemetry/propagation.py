"""W3C trace context in Kafka headers and in the metadata stored beside each event."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

# Only the trace context travels, because baggage could carry personal data from upstream.
_PROPAGATOR = TraceContextTextMapPropagator()
TRACE_HEADERS = frozenset(_PROPAGATOR.fields)


def inject_headers(
    headers: Iterable[tuple[str, bytes]] = (), context: Context | None = None
) -> list[tuple[str, bytes]]:
    """Return ``headers`` with ``traceparent`` (and ``tracestate``) of ``context``.

    Without ``context`` the current span's context is injected. Trace headers
    already in ``headers`` are replaced.
    """
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=context)
    other_headers = [(key, value) for key, value in headers if key not in TRACE_HEADERS]
    return other_headers + [(key, value.encode()) for key, value in carrier.items()]


def trace_metadata(headers: Iterable[tuple[str, bytes]]) -> dict[str, str]:
    """Return the trace headers of a Kafka record as text, to store as event metadata."""
    return {key: value.decode("ascii", "replace") for key, value in headers if key in TRACE_HEADERS}


def extract_headers(headers: Iterable[tuple[str, bytes]]) -> Context:
    """Return the trace context carried by Kafka record headers (empty when there is none)."""
    return extract_metadata(trace_metadata(headers))


def extract_metadata(metadata: Mapping[str, str]) -> Context:
    """Return the trace context stored in an event's metadata (empty when there is none)."""
    return _PROPAGATOR.extract({key: metadata[key] for key in TRACE_HEADERS if key in metadata})


def headers_from_metadata(metadata: Mapping[str, str]) -> list[tuple[str, bytes]]:
    """Return Kafka headers that carry on the trace context stored in an event's metadata."""
    return [(key, metadata[key].encode()) for key in sorted(TRACE_HEADERS) if key in metadata]


def distinct_contexts(metadatas: Iterable[Mapping[str, str]]) -> list[Context]:
    """Return the trace context of each distinct ``traceparent`` in ``metadatas``, in order."""
    seen: dict[str, Context] = {}
    for metadata in metadatas:
        traceparent = metadata.get("traceparent")
        if traceparent and traceparent not in seen:
            seen[traceparent] = extract_metadata(metadata)
    return list(seen.values())


def trace_log_fields(headers: Iterable[tuple[str, bytes]]) -> dict[str, str]:
    """Return ``trace_id`` and ``span_id`` of the context in ``headers``, for a log line."""
    context = trace.get_current_span(extract_headers(headers)).get_span_context()
    if not context.is_valid:
        return {}
    return {
        "trace_id": format(context.trace_id, "032x"),
        "span_id": format(context.span_id, "016x"),
    }
