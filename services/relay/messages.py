"""Turning stored points events into ``loyalty.points.v1`` records."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from schemas.points_message import PointsMessage
from services.common.errors import LoyaltyError
from services.relay.reader import StoredRow

# Metadata keys of a stored event that travel on as Kafka headers (W3C Trace Context).
TRACE_HEADERS = ("traceparent", "tracestate")


class InvalidStoredEventError(LoyaltyError):
    """A points event in the store does not match the published schema."""


@dataclass(frozen=True)
class OutgoingRecord:
    """One Kafka record for the points topic."""

    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


def to_record(row: StoredRow) -> OutgoingRecord:
    """Return the Kafka record of a stored points event.

    Raises InvalidStoredEventError naming the position when the row does not
    validate, because publishing it would break the topic's schema and skipping
    it would lose the event.
    """
    try:
        message = PointsMessage.model_validate(
            {
                "position": row.checkpoint.position,
                "recorded_at": row.recorded_at,
                "balance_after": row.balance_after,
                "event": row.data,
            }
        )
    except ValidationError as error:
        raise InvalidStoredEventError(
            f"the {row.event_type} at position {row.checkpoint.position} does not match "
            f"schemas/points_message.py: {error}. Fix the stored row or the model; "
            "the relay does not skip events."
        ) from error
    headers = [
        ("event-type", message.event.event_type.encode()),
        ("event-id", str(message.event.event_id).encode()),
        ("schema-version", b"1"),
    ]
    for name in TRACE_HEADERS:
        value = row.metadata.get(name)
        if isinstance(value, str) and value:
            headers.append((name, value.encode()))
    return OutgoingRecord(message.partition_key, message.model_dump_json().encode(), headers)
