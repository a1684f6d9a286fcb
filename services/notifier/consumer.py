"""The notifier as a FastStream application: the points consumer and the email sender.

Batches come from a Kafka consumer group with manual acknowledgement: the Kafka
offset is committed only after the PostgreSQL transaction holding the batch's
jobs and offsets has committed. The sender runs beside the consumer in the same
process and event loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

import asyncpg
from aiokafka import ConsumerRecord, TopicPartition
from faststream import FastStream
from faststream.kafka import KafkaMessage

from services.common.batch_consumer import build_broker, subscribe_batches
from services.common.db import create_pool
from services.common.dead_letters import KafkaDeadLetterSink
from services.common.records import to_inbound
from services.notifier.processor import NotifierProcessor
from services.notifier.sender import EmailSender, Transport
from services.notifier.settings import NotifierSettings
from services.notifier.telemetry import start_email_counters
from services.notifier.transport import SmtpTransport
from services.rewarding.failures import Backoff
from services.store.offsets import stored_offsets
from services.telemetry.consumer import record_batch, record_consumed, record_lag, traced_batch

logger = logging.getLogger(__name__)


class NotifierService:
    """Wires the broker, the database pool, the batch processor and the sender."""

    def __init__(self, settings: NotifierSettings, transport: Transport | None = None) -> None:
        self.settings = settings
        self._transport = transport or SmtpTransport(settings)
        self._pool: asyncpg.Pool | None = None
        self._backoff = Backoff()
        self._stop_sender = asyncio.Event()
        self._sender_task: asyncio.Task[None] | None = None
        self.processor: NotifierProcessor | None = None
        self.sender: EmailSender | None = None
        self.broker = build_broker(
            settings,
            client_id="loyalty-notifier",
            graceful_timeout=settings.shutdown_timeout_seconds,
            logger=logger,
        )
        self.subscriber = subscribe_batches(
            self.broker,
            settings,
            topic=settings.points_topic,
            group_id=settings.notifier_group_id,
            max_records=settings.batch_max_records,
            batch_timeout_ms=settings.batch_timeout_ms,
            pool=self._require_pool,
        )
        self.subscriber(self.handle)
        self.app = FastStream(self.broker, logger=logger)
        self.app.on_startup(self._open)
        self.app.after_startup(self._start_sender)
        self.app.on_shutdown(self._stop_sending)
        self.app.after_shutdown(self._close_pool)

    def _require_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the database pool is not open; start the service first")
        return self._pool

    async def _open(self) -> None:
        # The consumer and every sender worker hold a connection at the same time.
        size = max(self.settings.database_pool_size, self.settings.email_send_concurrency + 2)
        self._pool = await create_pool(self.settings.database_url, max_size=size)
        self.sender = EmailSender(self.settings, self._pool, self._transport)
        self.processor = NotifierProcessor(
            self._pool,
            self.settings.notifier_group_id,
            KafkaDeadLetterSink(self.broker, self.settings.points_dlq_topic),
            on_jobs_created=self.sender.wake,
        )
        record_consumed(self.settings.points_topic, 0, 0, [])
        start_email_counters()

    async def _start_sender(self) -> None:
        assert self.sender is not None
        self._stop_sender.clear()
        self._sender_task = asyncio.create_task(self.sender.run(self._stop_sender))

    async def _stop_sending(self) -> None:
        self._stop_sender.set()
        if self._sender_task is not None:
            try:
                await asyncio.wait_for(self._sender_task, self.settings.shutdown_timeout_seconds)
            except TimeoutError:
                logger.warning("email sender did not stop in time; its jobs stay pending")
            self._sender_task = None

    async def _close_pool(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def handle(self, records: Sequence[ConsumerRecord], message: KafkaMessage) -> None:
        """Record the jobs of one batch, then commit its Kafka offsets."""
        assert self.processor is not None
        batch = [to_inbound(record) for record in records]
        topic = self.settings.points_topic
        started = time.perf_counter()

        try:
            with traced_batch(topic, batch) as traced:
                outcome = await self.processor.process(traced)
        except asyncio.CancelledError:
            raise
        except Exception:
            record_batch(topic, len(batch), time.perf_counter() - started, failed=True)
            delay = self._backoff.next_delay()
            logger.exception(
                "batch of %d points records failed; retrying from the stored offsets in %.1f s",
                len(batch),
                delay,
            )
            await asyncio.sleep(delay)
            await self._rewind({(r.topic, r.partition) for r in batch})
            await self._record_lag({})
            return

        self._backoff.reset()
        await message.ack()

        record_batch(topic, len(batch), time.perf_counter() - started)
        record_consumed(topic, outcome.consumed, outcome.redelivered, outcome.dead_letters)
        await self._record_lag({})
        logger.info(
            "points batch applied",
            extra={
                "consumed": outcome.consumed,
                "redelivered": outcome.redelivered,
                "jobs_created": outcome.jobs_created,
                "duplicates": outcome.duplicates,
                "jobs_cancelled": outcome.jobs_cancelled,
                "jobs_reduced": outcome.jobs_reduced,
                "skipped": outcome.skipped,
                "dead_lettered": len(outcome.dead_letters),
            },
        )

    async def _record_lag(self, next_offsets: dict[tuple[str, int], int]) -> None:
        consumer = self.subscriber.consumer
        if consumer is not None:
            await record_lag(consumer, self.settings.notifier_group_id, next_offsets)

    async def _rewind(self, partitions: set[tuple[str, int]]) -> None:
        """Seek ``partitions`` back to their stored offsets so the batch is fetched again."""
        consumer = self.subscriber.consumer
        if consumer is None:
            return
        async with self._require_pool().acquire() as connection:
            stored = await stored_offsets(
                connection, self.settings.notifier_group_id, self.settings.points_topic
            )
        for topic, number in partitions:
            partition = TopicPartition(topic, number)
            if partition not in consumer.assignment():
                continue
            if number in stored:
                consumer.seek(partition, stored[number])
            else:
                await consumer.seek_to_beginning(partition)
