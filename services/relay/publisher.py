"""A Kafka producer for the relay, transactional when the broker supports it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer

from services.common.kafka import producer_options
from services.relay.messages import OutgoingRecord
from services.relay.settings import RelaySettings


class PointsPublisher:
    """Writes batches of records to the points topic and returns once the broker acknowledged.

    With ``kafka_transactions`` on, each batch is one Kafka transaction under the
    relay's transactional id. A consumer reading committed records then receives
    a batch whole or not at all, and the broker fences a second relay with the
    same id.
    """

    def __init__(self, settings: RelaySettings) -> None:
        self._topic = settings.points_topic
        self._transactional = settings.kafka_transactions
        self._options = producer_options(settings)
        if self._transactional:
            self._options["enable_idempotence"] = True
            self._options["transactional_id"] = settings.relay_name
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        """Connect to the broker unless connected; a failed start can be retried."""
        if self._producer is not None:
            return
        producer = AIOKafkaProducer(**self._options)
        try:
            await producer.start()
        except BaseException:
            await producer.stop()
            raise
        self._producer = producer

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def publish(self, records: Sequence[OutgoingRecord]) -> None:
        if not records:
            return
        await self.start()
        assert self._producer is not None
        if self._transactional:
            async with self._producer.transaction():
                await self._send_all(self._producer, records)
        else:
            await self._send_all(self._producer, records)

    async def _send_all(
        self, producer: AIOKafkaProducer, records: Sequence[OutgoingRecord]
    ) -> None:
        # send() only queues; the partition's in-flight limit of one keeps the order.
        deliveries = [
            await producer.send(
                self._topic, value=record.value, key=record.key, headers=record.headers
            )
            for record in records
        ]
        await asyncio.gather(*deliveries)
