"""Reading and appending order streams in the ``events`` table."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from pydantic import BaseModel, TypeAdapter

from services.common.db import Connection
from services.rewarding.events import RECORDED_EVENT_TYPES, RecordedEvent
from services.telemetry.propagation import distinct_contexts
from services.telemetry.spans import shared_write_spans


@dataclass(frozen=True)
class NewEvent:
    """An event to append at ``stream_version`` of ``stream_id``."""

    stream_id: str
    stream_version: int
    merchant_id: str
    customer_key: str | None
    event: BaseModel
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def event_id(self) -> uuid.UUID:
        event_id = getattr(self.event, "event_id", None)
        if not isinstance(event_id, uuid.UUID):
            raise TypeError(f"{type(self.event).__name__} has no UUID event_id")
        return event_id

    @property
    def event_type(self) -> str:
        return str(getattr(self.event, "event_type", type(self.event).__name__))


class ConcurrencyError(Exception):
    """Another writer appended to a stream first; reload the stream and decide again."""


_ADAPTERS: dict[str, TypeAdapter[Any]] = {
    name: TypeAdapter(model) for name, model in RECORDED_EVENT_TYPES.items()
}


def decode_event(event_type: str, data: dict[str, Any]) -> RecordedEvent:
    """Return the recorded event of ``event_type`` stored as ``data``."""
    adapter = _ADAPTERS.get(event_type)
    if adapter is None:
        raise ValueError(f"unknown event type {event_type!r} in the event store")
    event: RecordedEvent = adapter.validate_python(data)
    return event


async def load_streams(
    connection: Connection, stream_ids: Iterable[str]
) -> dict[str, list[RecordedEvent]]:
    """Return the events of each stream in ``stream_ids``, in version order."""
    rows = await connection.fetch(
        """
        SELECT stream_id, event_type, data
        FROM events
        WHERE stream_id = ANY($1::text[])
        ORDER BY stream_id, stream_version
        """,
        list(stream_ids),
    )
    streams: dict[str, list[RecordedEvent]] = defaultdict(list)
    for row in rows:
        streams[row["stream_id"]].append(decode_event(row["event_type"], row["data"]))
    return streams


async def append(connection: Connection, events: Sequence[NewEvent]) -> list[int]:
    """Append ``events`` and return their global positions, in the same order.

    Raises ConcurrencyError when a stream version is taken, which means another
    writer decided on the same order concurrently. The write gets a span in the
    trace of each ``traceparent`` found in the events' metadata.
    """
    if not events:
        return []
    with shared_write_spans(
        "INSERT events",
        distinct_contexts(event.metadata for event in events),
        attributes={
            "db.system.name": "postgresql",
            "db.operation.name": "INSERT",
            "db.collection.name": "events",
            "db.operation.batch.size": len(events),
        },
    ):
        return await _insert(connection, events)


async def _insert(connection: Connection, events: Sequence[NewEvent]) -> list[int]:
    try:
        rows = await connection.fetch(
            """
            INSERT INTO events
                (stream_id, stream_version, event_id, event_type, merchant_id, customer_key, data,
                 metadata)
            SELECT stream_id, stream_version, event_id, event_type, merchant_id, customer_key,
                   data::jsonb, metadata::jsonb
            FROM unnest(
                $1::text[], $2::int[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[],
                $8::text[]
            ) AS new (stream_id, stream_version, event_id, event_type, merchant_id, customer_key,
                      data, metadata)
            RETURNING position
            """,
            [event.stream_id for event in events],
            [event.stream_version for event in events],
            [event.event_id for event in events],
            [event.event_type for event in events],
            [event.merchant_id for event in events],
            [event.customer_key for event in events],
            [event.event.model_dump_json() for event in events],
            [json.dumps(event.metadata) if event.metadata else "{}" for event in events],
        )
    except asyncpg.UniqueViolationError as error:
        raise ConcurrencyError(str(error)) from error
    return [row["position"] for row in rows]


async def event_metadata(connection: Connection, event_id: uuid.UUID) -> dict[str, str]:
    """Return the metadata stored with event ``event_id``, or an empty dict when it is absent."""
    metadata = await connection.fetchval(
        "SELECT metadata FROM events WHERE event_id = $1", event_id
    )
    return dict(metadata or {})
