"""The records a consumer group dead-lettered, kept with its offsets.

The processor stores them in the transaction that stores the offsets, so the
rows name exactly the records the group did not decide. A replay reads them to
dead-letter the same records, whatever made the live group reject them then
(for example a merchant registered only later).
"""

from __future__ import annotations

from collections.abc import Sequence

from services.common.db import Connection
from services.common.records import DeadLetter, RecordId


async def record_dead_letters(
    connection: Connection, group_id: str, letters: Sequence[DeadLetter]
) -> None:
    """Store the position, error type and reason of each of ``letters``."""
    if not letters:
        return
    await connection.executemany(
        """
        INSERT INTO dead_lettered_records (group_id, topic, partition, "offset", error_type, reason)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT DO NOTHING
        """,
        [
            (
                group_id,
                letter.record.topic,
                letter.record.partition,
                letter.record.offset,
                letter.error_type,
                letter.reason,
            )
            for letter in letters
        ],
    )


async def load_dead_lettered(
    connection: Connection, group_id: str, topic: str
) -> dict[RecordId, tuple[str, str]]:
    """Return the error type and reason of each record ``group_id`` dead-lettered on ``topic``."""
    rows = await connection.fetch(
        """
        SELECT topic, partition, "offset", error_type, reason FROM dead_lettered_records
        WHERE group_id = $1 AND topic = $2
        """,
        group_id,
        topic,
    )
    return {
        (row["topic"], row["partition"], row["offset"]): (row["error_type"], row["reason"])
        for row in rows
    }
