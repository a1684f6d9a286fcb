"""Consumer offsets kept in PostgreSQL, in the same transaction as their effects."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from services.common.db import Connection
from services.common.records import InboundRecord

TopicPartitionKey = tuple[str, int]


async def lock_offsets(
    connection: Connection, group_id: str, partitions: Iterable[TopicPartitionKey]
) -> dict[TopicPartitionKey, int]:
    """Lock and return the next offset to consume of each partition, 0 when none is stored.

    The row locks serialize two consumers that briefly own the same partition
    during a rebalance: the second reads the first's offsets once it commits.
    """
    keys = sorted(set(partitions))
    topics = [topic for topic, _ in keys]
    numbers = [number for _, number in keys]
    await connection.execute(
        """
        INSERT INTO consumer_offsets (group_id, topic, partition, next_offset)
        SELECT $1, topic, partition, 0 FROM unnest($2::text[], $3::int[]) AS p(topic, partition)
        ON CONFLICT DO NOTHING
        """,
        group_id,
        topics,
        numbers,
    )
    rows = await connection.fetch(
        """
        SELECT topic, partition, next_offset FROM consumer_offsets
        WHERE group_id = $1 AND (topic, partition) IN (
            SELECT * FROM unnest($2::text[], $3::int[])
        )
        ORDER BY topic, partition
        FOR UPDATE
        """,
        group_id,
        topics,
        numbers,
    )
    return {(row["topic"], row["partition"]): row["next_offset"] for row in rows}


async def save_offsets(
    connection: Connection, group_id: str, next_offsets: Mapping[TopicPartitionKey, int]
) -> None:
    """Store the next offset to consume of each partition."""
    await connection.executemany(
        """
        UPDATE consumer_offsets SET next_offset = $4
        WHERE group_id = $1 AND topic = $2 AND partition = $3
        """,
        [(group_id, topic, number, offset) for (topic, number), offset in next_offsets.items()],
    )


async def stored_offsets(connection: Connection, group_id: str, topic: str) -> dict[int, int]:
    """Return the stored next offset of each partition of ``topic`` for ``group_id``."""
    rows = await connection.fetch(
        "SELECT partition, next_offset FROM consumer_offsets WHERE group_id = $1 AND topic = $2",
        group_id,
        topic,
    )
    return {row["partition"]: row["next_offset"] for row in rows}


def offsets_after(
    records: Iterable[InboundRecord], stored: Mapping[TopicPartitionKey, int]
) -> dict[TopicPartitionKey, int]:
    """Return the next offset of each partition after consuming ``records``.

    A partition never moves back behind its ``stored`` offset.
    """
    next_offsets = dict(stored)
    for record in records:
        key = (record.topic, record.partition)
        next_offsets[key] = max(next_offsets.get(key, 0), record.offset + 1)
    return next_offsets
