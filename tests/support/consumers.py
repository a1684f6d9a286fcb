"""Rewarding consumers as subprocesses, and a lock that holds a batch in flight."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg

from services.common.settings import RewardingSettings
from services.devstack.chaos.processes import ServiceProcess
from tests.support.pipeline import rewarding_environment


def consumer_process(settings: RewardingSettings, name: str, logs: Path) -> ServiceProcess:
    return ServiceProcess(name, "services.rewarding", rewarding_environment(settings), logs)


@contextlib.asynccontextmanager
async def offsets_locked(
    database_url: str, group_id: str, topic: str, partitions: int
) -> AsyncIterator[None]:
    """Hold the stored-offset rows of ``group_id`` locked, so a batch blocks inside its transaction."""
    connection = await asyncpg.connect(database_url)
    try:
        transaction = connection.transaction()
        await transaction.start()
        await connection.execute(
            """
            INSERT INTO consumer_offsets (group_id, topic, partition, next_offset)
            SELECT $1, $2, p, 0 FROM generate_series(0, $3 - 1) AS p
            ON CONFLICT DO NOTHING
            """,
            group_id,
            topic,
            partitions,
        )
        await connection.execute(
            "SELECT 1 FROM consumer_offsets WHERE group_id = $1 FOR UPDATE", group_id
        )
        yield
        await transaction.rollback()
    finally:
        await connection.close()


async def lock_waiters(pool: asyncpg.Pool) -> int:
    """Return how many backends of the test database wait for a row lock."""
    count = await pool.fetchval(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    return int(count)
