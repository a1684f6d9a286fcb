"""The SMTP send span, in the trace of the award, and the email counters."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind

from services.common.db import Connection
from services.notifier.settings import NotifierSettings
from services.store.event_store import event_metadata
from services.telemetry.instruments import instruments
from services.telemetry.propagation import extract_metadata
from services.telemetry.spans import tracer

# ``error_type`` values of loyalty.emails.failed.
REJECTED = "PermanentDeliveryError"
ATTEMPTS_EXHAUSTED = "TemporaryDeliveryError"


async def award_trace(connection: Connection, award_event_id: uuid.UUID) -> Context:
    """Return the trace context stored with the award event that an email job was made for.

    Email jobs have no trace context of their own, so the send continues the
    trace of the webhook that earned the points.
    """
    return extract_metadata(await event_metadata(connection, award_event_id))


@contextmanager
def smtp_send_span(
    settings: NotifierSettings, award_event_id: uuid.UUID, attempt: int, parent: Context
) -> Iterator[Span]:
    """Open the current CLIENT span of one SMTP delivery attempt, without the recipient."""
    with tracer().start_as_current_span(
        "smtp send",
        context=parent,
        kind=SpanKind.CLIENT,
        attributes={
            "server.address": settings.smtp_host,
            "server.port": settings.smtp_port,
            "loyalty.event_id": str(award_event_id),
            "loyalty.email.attempt": attempt,
        },
    ) as span:
        yield span


def start_email_counters() -> None:
    """Expose the email counters at zero, so dashboards show 0 before the first email."""
    metrics = instruments()
    metrics.emails_sent.add(0)
    metrics.emails_retried.add(0)
    for error_type in (REJECTED, ATTEMPTS_EXHAUSTED):
        metrics.emails_failed.add(0, {"error_type": error_type})
