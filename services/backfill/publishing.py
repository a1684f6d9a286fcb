"""Publishing backfilled orders: events as the ingest publishes them, rejects to the DLQ."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from schemas.orders import OrderStatusChanged
from services.backfill.settings import BackfillSettings
from services.common.errors import ServiceUnavailableError
from services.common.kafka import producer_options
from services.common.settings import IngestSettings
from services.ingest.publisher import OrderEventPublisher


@dataclass(frozen=True)
class RejectedOrder:
    """A platform order that failed validation, with the reason."""

    merchant_id: str
    page: int
    order: Any
    reason: str

    @property
    def order_id(self) -> str:
        return str(self.order.get("id")) if isinstance(self.order, dict) else "?"


class BackfillPublisher:
    """Publishes with the ingest's publisher, so key, headers and payload are the same."""

    def __init__(self, settings: BackfillSettings) -> None:
        self._settings = settings
        self._events = OrderEventPublisher(IngestSettings(**settings.model_dump()))
        self._dead_letters: AIOKafkaProducer | None = None

    async def publish(self, events: Sequence[OrderStatusChanged]) -> None:
        """Publish ``events`` and return once the broker acknowledged every one."""
        await asyncio.gather(*(self._events.publish(event) for event in events))

    async def reject(self, rejected: Sequence[RejectedOrder]) -> None:
        """Publish each rejected order's JSON to ``<orders topic>.dlq`` with the reason."""
        if not rejected:
            return
        producer = await self._dead_letter_producer()
        for item in rejected:
            headers = {
                "dlq-error-type": "InvalidOrder",
                "dlq-reason": item.reason,
                "dlq-source": "backfill",
                "merchant-id": item.merchant_id,
                "backfill-page": str(item.page),
            }
            try:
                await producer.send_and_wait(
                    self._settings.orders_dlq_topic,
                    value=json.dumps({"order": item.order}, default=str).encode(),
                    key=f"{item.merchant_id}:{item.order_id}".encode(),
                    headers=[(key, value.encode()) for key, value in headers.items()],
                )
            except KafkaError as error:
                raise ServiceUnavailableError(
                    f"publishing to {self._settings.orders_dlq_topic} failed: {error!r}"
                ) from error

    async def _dead_letter_producer(self) -> AIOKafkaProducer:
        if self._dead_letters is None:
            producer = AIOKafkaProducer(**producer_options(self._settings))
            try:
                await producer.start()
            except KafkaError as error:
                await producer.stop()
                raise ServiceUnavailableError(
                    f"Kafka at {self._settings.kafka_bootstrap_servers} is unreachable: {error!r}"
                ) from error
            self._dead_letters = producer
        return self._dead_letters

    async def close(self) -> None:
        await self._events.close()
        if self._dead_letters is not None:
            await self._dead_letters.stop()
            self._dead_letters = None
