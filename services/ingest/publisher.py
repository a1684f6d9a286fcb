"""Publishing order events to Kafka; ``publish`` returns only after the broker acknowledged."""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from schemas.orders import OrderStatusChanged
from schemas.refunds import OrderRefunded
from services.common.errors import ServiceUnavailableError
from services.common.kafka import producer_options
from services.common.settings import IngestSettings
from services.telemetry.propagation import inject_headers
from services.telemetry.spans import publish_span

logger = logging.getLogger(__name__)


class OrderEventPublisher:
    """A Kafka producer that connects lazily, so the service starts while the broker is down."""

    def __init__(self, settings: IngestSettings) -> None:
        self._settings = settings
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def _connected(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is not None:
                return self._producer
            producer = AIOKafkaProducer(**producer_options(self._settings))
            try:
                await asyncio.wait_for(producer.start(), self._settings.publish_timeout_seconds)
            except (KafkaError, OSError, TimeoutError) as error:
                await producer.stop()
                raise ServiceUnavailableError(
                    f"Kafka at {self._settings.kafka_bootstrap_servers} is unreachable: {error!r}"
                ) from error
            logger.info("connected to Kafka at %s", self._settings.kafka_bootstrap_servers)
            self._producer = producer
            return producer

    async def publish(self, event: OrderStatusChanged | OrderRefunded) -> None:
        """Write ``event`` and return once the broker acknowledged it.

        The record's ``traceparent`` header continues the current trace.
        """
        producer = await self._connected()
        topic = self._settings.orders_topic
        with publish_span(topic, attributes={"messaging.message.id": str(event.event_id)}):
            headers = inject_headers(
                [("event-type", event.event_type.encode()), ("schema-version", b"1")]
            )
            try:
                await asyncio.wait_for(
                    producer.send_and_wait(
                        topic,
                        value=event.model_dump_json().encode(),
                        key=event.partition_key,
                        headers=headers,
                    ),
                    self._settings.publish_timeout_seconds,
                )
            except (KafkaError, OSError, TimeoutError) as error:
                raise ServiceUnavailableError(f"publishing to {topic} failed: {error!r}") from error

    async def is_ready(self) -> bool:
        """Return whether the broker responds to a metadata request."""
        try:
            producer = await self._connected()
            await asyncio.wait_for(producer.client.fetch_all_metadata(), 2.0)
        except (ServiceUnavailableError, KafkaError, OSError, TimeoutError):
            return False
        return True

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
