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
    relay's transactional id, so a consumer reading committed records sees a
    batch whole or not at all, and a second relay with the same id is fenced.
    """

    def __init__(self, settings: RelaySettings) -> None:
        self._topic = settings.points_topic
        self._transactional = settings.kafka_transactions
        options = producer_options(settings)
        if self._transactional:
            options["enable_idempotence"] = True
            options["transactional_id"] = settings.relay_name
        self._producer = AIOKafkaProducer(**options)

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def publish(self, records: Sequence[OutgoingRecord]) -> None:
        if not records:
            return
        if self._transactional:
            async with self._producer.transaction():
                await self._send_all(records)
        else:
            await self._send_all(records)

    async def _send_all(self, records: Sequence[OutgoingRecord]) -> None:
        # send() only queues; the partition's in-flight limit of one keeps the order.
        deliveries = [
            await self._producer.send(
                self._topic, value=record.value, key=record.key, headers=record.headers
            )
            for record in records
        ]
        await asyncio.gather(*deliveries)
