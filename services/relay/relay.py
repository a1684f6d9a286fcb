"""The relay loop: read committed points events after the checkpoint, publish, advance.

The checkpoint moves only after the broker acknowledged every record of the
batch, so a crash republishes at most the last batch (consumers deduplicate by
event id) and never skips one. A session advisory lock keeps a second relay
with the same name idle until the first stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib

import asyncpg

from services.common.db import Connection
from services.relay.backlog import BacklogGauge
from services.relay.messages import to_record
from services.relay.publisher import PointsPublisher
from services.relay.reader import Checkpoint, load_checkpoint, read_committed, save_checkpoint
from services.relay.settings import RelaySettings
from services.relay.tracing import traced_records

logger = logging.getLogger(__name__)

# Delays between attempts after a failed batch, in seconds.
RETRY_DELAYS_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)


class Relay:
    """Publishes the store's points events to the points topic, one batch at a time."""

    def __init__(
        self, settings: RelaySettings, pool: asyncpg.Pool, publisher: PointsPublisher
    ) -> None:
        self._settings = settings
        self._pool = pool
        self._publisher = publisher
        self.published = 0
        self._backlog = BacklogGauge(settings.relay_name)

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until ``stop`` is set, retrying with backoff after failures."""
        failures = 0
        while not stop.is_set():
            try:
                async with self._pool.acquire() as connection:
                    await self._run_with_lock(connection, stop)
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception:
                failures += 1
                delay = RETRY_DELAYS_SECONDS[min(failures, len(RETRY_DELAYS_SECONDS)) - 1]
                logger.exception(
                    "relay %s failed; retrying from the stored checkpoint in %.1f s",
                    self._settings.relay_name,
                    delay,
                )
                await _wait(stop, delay)

    async def _run_with_lock(self, connection: Connection, stop: asyncio.Event) -> None:
        lock_key = zlib.crc32(f"relay:{self._settings.relay_name}".encode())
        while not await connection.fetchval("SELECT pg_try_advisory_lock($1)", lock_key):
            if await _wait(stop, 1.0):
                return
        try:
            checkpoint = await load_checkpoint(connection, self._settings.relay_name)
            logger.info(
                "relay %s acquired the lock, resuming after position %d (tx %d)",
                self._settings.relay_name,
                checkpoint.position,
                checkpoint.tx_id,
            )
            while not stop.is_set():
                advanced = await self.relay_batch(connection, checkpoint)
                await self._backlog.update(connection, advanced)
                if advanced == checkpoint:
                    await _wait(stop, self._settings.relay_poll_interval_seconds)
                checkpoint = advanced
        finally:
            await connection.execute("SELECT pg_advisory_unlock($1)", lock_key)

    async def relay_batch(self, connection: Connection, after: Checkpoint) -> Checkpoint:
        """Publish the next batch after ``after`` and return the checkpoint stored for it."""
        rows = await read_committed(connection, after, self._settings.relay_batch_size)
        if not rows:
            return after

        records = [to_record(row) for row in rows if row.is_points_event]
        with traced_records(self._settings.points_topic, records) as traced:
            await self._publisher.publish(traced)

        checkpoint = rows[-1].checkpoint
        await save_checkpoint(connection, self._settings.relay_name, checkpoint)
        self.published += len(records)
        if records:
            logger.info(
                "published points events",
                extra={
                    "count": len(records),
                    "rows_read": len(rows),
                    "first_position": rows[0].checkpoint.position,
                    "last_position": checkpoint.position,
                    "topic": self._settings.points_topic,
                },
            )
        return checkpoint


async def _wait(stop: asyncio.Event, seconds: float) -> bool:
    """Wait ``seconds`` or until ``stop`` is set; return whether it is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()
