"""Kafka clients: producer options, topic creation."""

from __future__ import annotations

import logging
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from services.common.errors import ServiceUnavailableError
from services.common.settings import CommonSettings

logger = logging.getLogger(__name__)


def producer_options(settings: CommonSettings) -> dict[str, Any]:
    """Return AIOKafkaProducer keyword arguments for durable, ordered writes."""
    return {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "acks": "all",
        "enable_idempotence": settings.kafka_idempotence,
        "request_timeout_ms": settings.kafka_request_timeout_ms,
        "linger_ms": 5,
    }


def required_topics(settings: CommonSettings) -> dict[str, int]:
    """Return every topic the pipeline uses, with its partition count."""
    return {
        settings.orders_topic: settings.orders_topic_partitions,
        settings.orders_dlq_topic: 1,
        settings.points_topic: settings.points_topic_partitions,
        settings.points_dlq_topic: 1,
    }


async def create_topics(settings: CommonSettings) -> list[str]:
    """Create the missing topics of ``required_topics`` and return the names created."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        request_timeout_ms=settings.kafka_request_timeout_ms,
    )
    try:
        await admin.start()
    except KafkaError as error:
        raise ServiceUnavailableError(
            f"Kafka at {settings.kafka_bootstrap_servers} is not reachable ({error}). "
            "Start the broker ('make up') or set LOYALTY_KAFKA_BOOTSTRAP_SERVERS."
        ) from error
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(name, partitions, settings.topic_replication_factor)
            for name, partitions in required_topics(settings).items()
            if name not in existing
        ]
        if not missing:
            return []
        try:
            await admin.create_topics(missing)
        except TopicAlreadyExistsError:
            logger.info("another process created the topics first")
        created = [topic.name for topic in missing]
        logger.info("created topics %s", ", ".join(created))
        return created
    finally:
        await admin.close()
