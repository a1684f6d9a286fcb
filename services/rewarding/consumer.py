"""The rewarding consumer as a FastStream application.

Batches come from a Kafka consumer group with manual acknowledgement: the Kafka
offset is committed only after the PostgreSQL transaction holding the batch's
effects and offsets has committed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

import asyncpg
from aiokafka import ConsumerRecord, TopicPartition
from faststream import AckPolicy, FastStream
from faststream.kafka import KafkaBroker, KafkaMessage

from services.common.db import create_pool
from services.common.dead_letters import KafkaDeadLetterSink
from services.common.records import to_inbound
from services.common.settings import RewardingSettings
from services.merchant_settings.rules_source import StoredSettingsRulesSource
from services.rewarding.batch_telemetry import record_outcome, start_counters
from services.rewarding.processor import BatchProcessor
from services.rewarding.rebalance import SeekToStoredOffsets
from services.rewarding.rules_source import RulesSource
from services.store.offsets import stored_offsets
from services.telemetry.consumer import record_batch, record_lag, traced_batch

logger = logging.getLogger(__name__)

# Delay before a failed batch is fetched again from the stored offsets.
RETRY_DELAY_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)


async def _raw_records(message: KafkaMessage) -> Any:
    # The processor parses and validates each record itself, so that one bad
    # record is dead-lettered instead of failing the batch.
    return message.raw_message


class RewardingService:
    """Wires the broker, the database pool and the batch processor."""

    def __init__(
        self, settings: RewardingSettings, rules_source: RulesSource | None = None
    ) -> None:
        self.settings = settings
        self._rules_source = rules_source or StoredSettingsRulesSource()
        self._pool: asyncpg.Pool | None = None
        self._failures = 0
        self.broker = KafkaBroker(
            settings.kafka_bootstrap_servers,
            acks="all",
            enable_idempotence=settings.kafka_idempotence,
            request_timeout_ms=settings.kafka_request_timeout_ms,
            graceful_timeout=settings.shutdown_timeout_seconds,
            client_id="loyalty-rewarding",
            # FastStream's own logger prints coloured text; this one goes to the JSON handler.
            logger=logger,
        )
        self.subscriber = self.broker.subscriber(
            settings.orders_topic,
            group_id=settings.rewarding_group_id,
            batch=True,
            max_records=settings.batch_max_records,
            batch_timeout_ms=settings.batch_timeout_ms,
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
            session_timeout_ms=settings.kafka_session_timeout_ms,
            heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
            listener=SeekToStoredOffsets(
                self._require_pool, settings.rewarding_group_id, lambda: self.subscriber.consumer
            ),
            decoder=_raw_records,
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
        """Apply one batch, then commit its Kafka offsets."""
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
            raise
        except Exception:
            record_batch(topic, len(batch), time.perf_counter() - started, failed=True)
            self._failures += 1
            delay = RETRY_DELAY_SECONDS[min(self._failures, len(RETRY_DELAY_SECONDS)) - 1]
            logger.exception(
                "batch of %d records failed; retrying from the stored offsets in %.1f s",
                len(batch),
                delay,
            )
            await asyncio.sleep(delay)
            await self._rewind({(r.topic, r.partition) for r in batch})
            await self._record_lag({})
            return
        self._failures = 0
        await message.ack()
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

    async def _rewind(self, partitions: set[tuple[str, int]]) -> None:
        """Seek ``partitions`` back to their stored offsets so the batch is fetched again."""
        consumer = self.subscriber.consumer
        if consumer is None:
            return
        async with self._require_pool().acquire() as connection:
            for topic in {topic for topic, _ in partitions}:
                stored = await stored_offsets(connection, self.settings.rewarding_group_id, topic)
                for name, number in partitions:
                    if name != topic:
                        continue
                    partition = TopicPartition(topic, number)
                    if partition not in consumer.assignment():
                        continue
                    if number in stored:
                        consumer.seek(partition, stored[number])
                    else:
                        await consumer.seek_to_beginning(partition)
