"""Records of dead letters re-driven to their original topic."""

from __future__ import annotations

from dataclasses import dataclass

from services.common.db import Connection

# (topic, partition, offset) of the record that was dead-lettered.
OriginalPosition = tuple[str, int, int]


@dataclass(frozen=True)
class Replay:
    original: OriginalPosition
    dlq_topic: str
    dlq_partition: int
    dlq_offset: int
    error_type: str


async def replayed_positions(connection: Connection, topic: str) -> set[OriginalPosition]:
    """Return the original positions of the letters from ``topic`` already replayed."""
    rows = await connection.fetch(
        """
        SELECT original_topic, original_partition, original_offset
        FROM dead_letter_replays WHERE original_topic = $1
        """,
        topic,
    )
    return {(row[0], row[1], row[2]) for row in rows}


async def record_replay(connection: Connection, replay: Replay) -> bool:
    """Store ``replay``; return False when its original record was replayed before."""
    inserted = await connection.fetchval(
        """
        INSERT INTO dead_letter_replays (
            original_topic, original_partition, original_offset,
            dlq_topic, dlq_partition, dlq_offset, error_type
        ) VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT DO NOTHING
        RETURNING true
        """,
        *replay.original,
        replay.dlq_topic,
        replay.dlq_partition,
        replay.dlq_offset,
        replay.error_type,
    )
    return bool(inserted)
