"""Reading committed points events from the store after a checkpoint, and storing checkpoints.

``position`` is a bigserial, so a transaction can commit a lower position after a
higher one is already visible. The reader therefore only returns rows whose
``tx_id`` is below a horizon: the lowest id among the transactions that the
current snapshot reports in progress, or the snapshot's xmax when there are none.
Every transaction with a lower id has committed or rolled back, so no row can
still appear before the checkpoint. Rows come in ``(tx_id, position)`` order,
which is the order of the checkpoint, and ``balance_after`` is summed in the
same order.

Transaction ids are shared by every database of a PostgreSQL server, so the
horizon leaves out the in-progress transactions that ``pg_stat_activity``
shows in another database; otherwise a long transaction elsewhere on the
server would hold the relay back. A transaction that cannot be placed (it
ended meanwhile, or its session is not visible to this role) counts as this
database's, which only delays rows, never skips them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.common.db import Connection

POINTS_EVENT_TYPES = ("PointsEarned", "PointsRemoved")


@dataclass(frozen=True, order=True)
class Checkpoint:
    """The ``(tx_id, position)`` of the last row a relay has published."""

    tx_id: int
    position: int


START = Checkpoint(0, 0)
"""The checkpoint before the first row of the store."""


@dataclass(frozen=True)
class StoredRow:
    """One row of the ``events`` table; ``balance_after`` is set for points events only."""

    checkpoint: Checkpoint
    event_type: str
    data: dict[str, Any]
    metadata: dict[str, Any]
    recorded_at: datetime
    balance_after: int | None

    @property
    def is_points_event(self) -> bool:
        return self.event_type in POINTS_EVENT_TYPES


async def read_committed(connection: Connection, after: Checkpoint, limit: int) -> list[StoredRow]:
    """Return up to ``limit`` rows after ``after`` that no open transaction can precede."""
    rows = await connection.fetch(
        """
        WITH batch AS (
            SELECT position, tx_id, event_type, merchant_id, customer_key, data, metadata,
                   recorded_at
            FROM events
            WHERE (tx_id, position) > ($1::xid8, $2::bigint)
              AND event_type IN ('PointsEarned', 'PointsRemoved')
              AND tx_id < (
                  SELECT coalesce(min(running), pg_snapshot_xmax(pg_current_snapshot()))
                  FROM pg_snapshot_xip(pg_current_snapshot()) AS running
                  WHERE (running::text::bigint % 4294967296) NOT IN (
                      SELECT backend_xid::text::bigint
                      FROM pg_stat_activity
                      WHERE backend_xid IS NOT NULL
                        AND datname IS DISTINCT FROM current_database()
                  )
              )
            ORDER BY tx_id, position
            LIMIT $3
        )
        SELECT b.position, b.tx_id, b.event_type, b.data, b.metadata, b.recorded_at,
               CASE WHEN b.event_type = ANY($4::text[]) THEN (
                   SELECT sum(CASE e.event_type WHEN 'PointsEarned'
                                  THEN (e.data ->> 'points')::bigint
                                  ELSE -(e.data ->> 'points')::bigint END)
                   FROM events e
                   WHERE e.merchant_id = b.merchant_id
                     AND e.customer_key = b.customer_key
                     AND e.event_type = ANY($4::text[])
                     AND (e.tx_id, e.position) <= (b.tx_id, b.position)
               ) END AS balance_after
        FROM batch b
        ORDER BY b.tx_id, b.position
        """,
        after.tx_id,
        after.position,
        limit,
        list(POINTS_EVENT_TYPES),
    )
    return [
        StoredRow(
            checkpoint=Checkpoint(row["tx_id"], row["position"]),
            event_type=row["event_type"],
            data=row["data"],
            metadata=row["metadata"],
            recorded_at=row["recorded_at"],
            balance_after=row["balance_after"],
        )
        for row in rows
    ]


async def load_checkpoint(connection: Connection, relay_name: str) -> Checkpoint:
    """Return the relay's stored checkpoint, or START when it has published nothing yet."""
    row = await connection.fetchrow(
        "SELECT tx_id, position FROM relay_checkpoints WHERE relay_name = $1", relay_name
    )
    return Checkpoint(row["tx_id"], row["position"]) if row else START


async def save_checkpoint(connection: Connection, relay_name: str, checkpoint: Checkpoint) -> None:
    await connection.execute(
        """
        INSERT INTO relay_checkpoints (relay_name, tx_id, position) VALUES ($1, $2::xid8, $3)
        ON CONFLICT (relay_name) DO UPDATE
        SET tx_id = excluded.tx_id, position = excluded.position, updated_at = now()
        """,
        relay_name,
        checkpoint.tx_id,
        checkpoint.position,
    )
