"""The outbox backlog: points events in the store after a relay's checkpoint."""

from __future__ import annotations

import time

from services.common.db import Connection
from services.relay.reader import Checkpoint
from services.telemetry.instruments import instruments


async def count_backlog(connection: Connection, after: Checkpoint) -> int:
    """Return how many committed points events come after ``after``."""
    count = await connection.fetchval(
        """
        SELECT count(*) FROM events
        WHERE (tx_id, position) > ($1::xid8, $2::bigint)
          AND event_type IN ('PointsEarned', 'PointsRemoved')
        """,
        after.tx_id,
        after.position,
    )
    return int(count)


class BacklogGauge:
    """Sets ``loyalty.outbox.backlog`` at most once per ``interval_seconds``.

    The relay polls several times a second, and a count per poll would double
    its queries while it is idle.
    """

    def __init__(self, relay_name: str, interval_seconds: float = 1.0) -> None:
        self._attributes = {"relay": relay_name}
        self._interval_seconds = interval_seconds
        self._measured_at: float | None = None

    async def update(self, connection: Connection, after: Checkpoint) -> None:
        now = time.monotonic()
        if self._measured_at is not None and now - self._measured_at < self._interval_seconds:
            return
        self._measured_at = now
        backlog = await count_backlog(connection, after)
        instruments().outbox_backlog.set(backlog, self._attributes)
