"""Rebalance listener that resumes each assigned partition at the offset stored in PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition

from services.store.offsets import stored_offsets
from services.telemetry.consumer import forget_lag

logger = logging.getLogger(__name__)

# A rebalance waits for the listener, so a database that hangs must not hold it.
STORED_OFFSETS_TIMEOUT_SECONDS = 5.0


class SeekToStoredOffsets(ConsumerRebalanceListener):  # type: ignore[misc]
    """On assignment, seek to the next offset stored with the effects.

    The Kafka commit only records the group's progress in the broker. PostgreSQL
    contains the offsets written in the same transaction as the events, so those win.
    A partition with no stored offset starts from its beginning.
    """

    def __init__(
        self,
        pool: Callable[[], asyncpg.Pool],
        group_id: str,
        consumer: Callable[[], AIOKafkaConsumer | None],
    ) -> None:
        self._pool = pool
        self._group_id = group_id
        self._consumer = consumer

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        forget_lag(self._group_id, revoked)
        logger.info(
            "partitions revoked",
            extra={"partitions": sorted(f"{p.topic}[{p.partition}]" for p in revoked)},
        )

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        consumer = self._consumer()
        if consumer is None or not assigned:
            return
        try:
            by_topic = await self._stored(assigned)
        except Exception:
            # Without the stored offsets the consumer resumes at the group's Kafka
            # commit, which is never ahead of PostgreSQL's offsets because it is
            # made after the database commit. The processor skips what it re-reads.
            logger.exception("reading the stored offsets failed; resuming at the Kafka commit")
            return
        positions: dict[str, int] = {}
        for partition in assigned:
            offset = by_topic[partition.topic].get(partition.partition)
            if offset is None:
                await consumer.seek_to_beginning(partition)
                positions[f"{partition.topic}[{partition.partition}]"] = 0
            else:
                consumer.seek(partition, offset)
                positions[f"{partition.topic}[{partition.partition}]"] = offset
        logger.info("partitions assigned, resuming at stored offsets", extra={"offsets": positions})

    async def _stored(self, assigned: set[TopicPartition]) -> dict[str, dict[int, int]]:
        by_topic: dict[str, dict[int, int]] = {}
        async with asyncio.timeout(STORED_OFFSETS_TIMEOUT_SECONDS):
            async with self._pool().acquire() as connection:
                for topic in {partition.topic for partition in assigned}:
                    by_topic[topic] = await stored_offsets(connection, self._group_id, topic)
        return by_topic
