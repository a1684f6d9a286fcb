"""The outbox backlog counts the points events after a relay's checkpoint."""

from __future__ import annotations

import asyncpg
import pytest

from services.relay.backlog import count_backlog
from services.relay.reader import POINTS_EVENT_TYPES, START, Checkpoint
from tests.integration.points.conftest import Shop

pytestmark = pytest.mark.integration


async def test_backlog_counts_points_events(merchant: Shop, own_pool: asyncpg.Pool) -> None:
    await merchant.order("1", "paid", "10.00", customer="501")
    await merchant.order("2", "paid", "20.00", customer="502")
    await merchant.order("2", "cancelled", "20.00", customer="502", minutes=5)

    async with own_pool.acquire() as connection:
        rows = await connection.fetch(
            "SELECT tx_id, position, event_type FROM events ORDER BY tx_id, position"
        )
        checkpoints = [Checkpoint(row["tx_id"], row["position"]) for row in rows]
        before = await count_backlog(connection, START)
        after_each = [await count_backlog(connection, point) for point in checkpoints]

    is_points = [row["event_type"] in POINTS_EVENT_TYPES for row in rows]
    assert sum(is_points) == 3
    assert before == 3
    assert after_each == [sum(is_points[index + 1 :]) for index in range(len(rows))]
    assert after_each[-1] == 0
