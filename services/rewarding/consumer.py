"""The rewarding consumer as a FastStream application.

Batches come from a Kafka consumer group with manual acknowledgement: the Kafka
offset is committed only after the PostgreSQL transaction holding the batch's
effects and offsets has committed. PostgreSQL's offsets decide where a partition
resumes (see ``rebalance``); the Kafka commit only shows the group's progress.

A batch that fails transiently is fetched again: the consumer seeks each of its
partitions back to the batch's first record, waits a capped exponential backoff
and lets the next fetch return the same records. Records that were applied in
the meantime are skipped by their stored offsets.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

import asyncpg
from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from faststream import FastStream
from faststream.kafka import KafkaMessage

from services.common.batch_consumer import build_broker, subscribe_batches
from services.common.db import create_pool
from services.common.dead_letters import KafkaDeadLetterSink
from services.common.records import to_inbound
from services.common.settings import RewardingSettings
from services.merchant_settings.rules_source import StoredSettingsRulesSource
from services.rewarding.batch_telemetry import record_outcome, start_counters
from services.rewarding.failures import Backoff, is_transient
from services.rewarding.processor import BatchProcessor
from services.rewarding.rules_source import RulesSource
from services.telemetry.consumer import record_batch, record_lag, traced_batch

logger = logging.getLogger(__name__)

# Share of the shutdown timeout that an in-flight batch gets to finish before it
# is cancelled. The rest is for leaving the group and closing connections.
BATCH_SHARE_OF_SHUTDOWN = 0.7


class RewardingService:
    """Wires the broker, the database pool and the batch processor."""

    def __init__(
        self, settings: RewardingSettings, rules_source: RulesSource | None = None
    ) -> None:
        self.settings = settings
        self._rules_source = rules_source or StoredSettingsRulesSource()
        self._pool: asyncpg.Pool | None = None
        self._backoff = Backoff()
        self.broker = build_broker(
            settings,
            client_id="loyalty-rewarding",
            graceful_timeout=settings.shutdown_timeout_seconds * BATCH_SHARE_OF_SHUTDOWN,
            logger=logger,
        )
        self.subscriber = subscribe_batches(
            self.broker,
            settings,
            topic=settings.orders_topic,
            group_id=settings.rewarding_group_id,
            max_records=settings.batch_max_records,
            batch_timeout_ms=settings.batch_timeout_ms,
            pool=self._require_pool,
        )
        self.subscriber(self.handle)
        self.app = FastStream(self.broker, logger=logger)
        self.app.on_startup(self._open_pool)
        self.app.after_shutdown(self._close_pool)
        self.processor: BatchProcessor | None = None

    def _require_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the database pool is not open; start the service first")
        return self._pool

    async def _open_pool(self) -> None:
        self._pool = await create_pool(
            self.settings.database_url, max_size=self.settings.database_pool_size
        )
        self.processor = BatchProcessor(
            self._pool,
            self.settings.rewarding_group_id,
            self._rules_source,
            KafkaDeadLetterSink(self.broker, self.settings.orders_dlq_topic),
        )
        start_counters(self.settings.orders_topic)

    async def _close_pool(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def handle(self, records: Sequence[ConsumerRecord], message: KafkaMessage) -> None:
        """Apply one batch, then commit its Kafka offsets; on failure, rewind and wait."""
        assert self.processor is not None
        batch = [to_inbound(record) for record in records]
        topic = self.settings.orders_topic
        started = time.perf_counter()

        try:
            with traced_batch(topic, batch) as traced:
                outcome = await self.processor.process_concurrently(
                    traced, self.settings.batch_parallelism
                )
        except asyncio.CancelledError:
            # Shutdown timed out: the transaction rolled back and the next owner of
            # these partitions fetches them again from the stored offsets.
            logger.warning("batch of %d records abandoned at shutdown", len(batch))
            raise
        except Exception as error:  # every failure is retried; see the module docstring
            record_batch(topic, len(batch), time.perf_counter() - started, failed=True)
            self._rewind(records)
            delay = self._backoff.next_delay()
            kind = "transient" if is_transient(error) else "unexpected"
            logger.exception(
                "batch of %d records failed (%s error, attempt %d); fetching it again in %.1f s",
                len(batch),
                kind,
                self._backoff.failures,
                delay,
            )
            await asyncio.sleep(delay)
            await self._record_lag({})
            return

        self._backoff.reset()
        await self._commit_kafka(message)

        record_batch(topic, len(batch), time.perf_counter() - started)
        record_outcome(topic, outcome)
        await self._record_lag(outcome.next_offsets)
        logger.info(
            "batch applied",
            extra={
                "consumed": outcome.consumed,
                "applied": outcome.applied,
                "redelivered": outcome.redelivered,
                "duplicates": outcome.duplicates,
                "stale": outcome.stale,
                "dead_lettered": len(outcome.dead_letters),
                "events_appended": outcome.events_appended,
            },
        )

    async def _record_lag(self, next_offsets: dict[tuple[str, int], int]) -> None:
        consumer = self.subscriber.consumer
        if consumer is not None:
            await record_lag(consumer, self.settings.rewarding_group_id, next_offsets)

    async def _commit_kafka(self, message: KafkaMessage) -> None:
        # PostgreSQL already contains the offsets, so a failed Kafka commit (the
        # group is rebalancing, the broker is gone) loses nothing and is only logged.
        try:
            await message.ack()
        except KafkaError as error:
            logger.warning("Kafka offset commit failed, PostgreSQL has the offsets: %r", error)

    def _rewind(self, records: Sequence[ConsumerRecord]) -> None:
        """Seek each partition of ``records`` that is still assigned back to its first record.

        The positions come from the batch itself, so a rewind works while the
        database is down. A partition revoked meanwhile is left alone: its new
        owner resumes from the stored offsets.
        """
        consumer = self.subscriber.consumer
        if consumer is None:
            return
        first: dict[TopicPartition, int] = {}
        for record in records:
            partition = TopicPartition(record.topic, record.partition)
            first[partition] = min(first.get(partition, record.offset), record.offset)
        assigned = consumer.assignment()
        for partition, offset in first.items():
            if partition in assigned:
                consumer.seek(partition, offset)
