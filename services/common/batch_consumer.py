"""The FastStream broker and batch subscriber that every consumer service of the pipeline uses.

Batches are acknowledged by hand (``AckPolicy.MANUAL``) after the PostgreSQL
transaction holding their effects commits; FastStream's default would commit the
Kafka offsets before the handler runs and lose the batch on a crash. Records
reach the handler undecoded, so that the processor can dead-letter one bad
record instead of failing the batch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import asyncpg
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.kafka.subscriber.usecase import BatchSubscriber

from services.common.rebalance import SeekToStoredOffsets
from services.common.settings import CommonSettings


def build_broker(
    settings: CommonSettings, *, client_id: str, graceful_timeout: float, logger: logging.Logger
) -> KafkaBroker:
    """Return a broker whose own log lines go to ``logger`` (and so to the JSON handler)."""
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        acks="all",
        enable_idempotence=settings.kafka_idempotence,
        request_timeout_ms=settings.kafka_request_timeout_ms,
        graceful_timeout=graceful_timeout,
        client_id=client_id,
        logger=logger,
    )


async def raw_records(message: KafkaMessage) -> Any:
    """FastStream decoder that hands the batch's ConsumerRecords over as they are."""
    return message.raw_message


def subscribe_batches(
    broker: KafkaBroker,
    settings: CommonSettings,
    *,
    topic: str,
    group_id: str,
    max_records: int,
    batch_timeout_ms: int,
    pool: Callable[[], asyncpg.Pool],
) -> BatchSubscriber:
    """Return a batch subscriber in ``group_id`` that resumes at the offsets in PostgreSQL."""
    subscriber: BatchSubscriber

    def current_consumer() -> Any:
        return subscriber.consumer

    subscriber = broker.subscriber(
        topic,
        group_id=group_id,
        batch=True,
        max_records=max_records,
        batch_timeout_ms=batch_timeout_ms,
        ack_policy=AckPolicy.MANUAL,
        auto_offset_reset="earliest",
        session_timeout_ms=settings.kafka_session_timeout_ms,
        heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
        listener=SeekToStoredOffsets(pool, group_id, current_consumer),
        decoder=raw_records,
    )
    return subscriber
