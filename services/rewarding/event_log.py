"""One log line per order event handled, with its trace and the ids of the events it caused."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TypeAlias

from schemas.orders import OrderStatusChanged
from schemas.refunds import OrderRefunded
from services.common.records import InboundRecord
from services.rewarding.events import OrderEventIgnored, RecordedEvent
from services.telemetry.propagation import trace_log_fields

logger = logging.getLogger(__name__)

Handled: TypeAlias = tuple[
    InboundRecord, OrderStatusChanged | OrderRefunded, Sequence[RecordedEvent]
]
"""A consumed record, the order event in it and the events decided for it."""


def result_of(decided: Sequence[RecordedEvent]) -> str:
    """Return ``duplicate``, ``stale``, ``ignored`` or ``applied`` for a decision."""
    if not decided:
        return "duplicate"
    for event in decided:
        if isinstance(event, OrderEventIgnored):
            return "stale" if event.reason.startswith("stale") else "ignored"
    return "applied"


def log_handled(handled: Sequence[Handled]) -> None:
    """Log each committed decision, without customer data (no email, no name)."""
    for record, event, decided in handled:
        logger.info(
            "order event handled",
            extra={
                **trace_log_fields(record.headers),
                "event_id": str(event.event_id),
                "merchant_id": event.merchant_id,
                "order_id": event.order_id,
                "event_type": event.event_type,
                "payment_status": (
                    event.payment_status if isinstance(event, OrderStatusChanged) else None
                ),
                "result": result_of(decided),
                "recorded_event_ids": [str(e.event_id) for e in decided],
                "recorded_event_types": [e.event_type for e in decided],
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
            },
        )
