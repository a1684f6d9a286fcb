"""Re-consuming the orders topic from the beginning with a new consumer group.

Records go through the rewarding consumer's ``BatchProcessor``, so the target
database gets exactly what the live consumer writes. The caller chooses the
rules source: ``RecordedRulesSource`` decides each record with the settings
version the live consumer used. The offsets live in the
target database: a group with none there starts every partition at its
beginning (``SeekToStoredOffsets``), and an interrupted replay resumes.

Caught up means: this consumer is assigned every partition of the topic, and for
each the next offset stored in the target has reached the high watermark of the
latest fetch response (``AIOKafkaConsumer.highwater``). The broker's
``end_offsets`` is not used, because Tansu reports it wrongly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from services.common.errors import ConfigurationError, LoyaltyError, ServiceUnavailableError
from services.common.rebalance import SeekToStoredOffsets
from services.common.records import DeadLetter, RecordId, to_inbound
from services.common.settings import RewardingSettings
from services.rewarding.processor import BatchProcessor
from services.rewarding.rules_source import RulesSource
from services.store.offsets import stored_offsets

logger = logging.getLogger(__name__)

# How long one fetch waits for records before the caught-up check runs again.
FETCH_TIMEOUT_MS = 500


class ReplayTimeoutError(LoyaltyError):
    """The replay did not catch up in time; running it again with the same group resumes it."""


class ReplayListener(Protocol):
    """Receives progress: records consumed so far out of the known end of the topic."""

    def progress(self, consumed: int, end: int | None) -> None: ...


@dataclass
class ReplayOutcome:
    """Counts of the records a replay consumed and the events it appended."""

    records: int = 0
    redelivered: int = 0
    events_appended: int = 0
    dead_letters: list[DeadLetter] = field(default_factory=list)
    next_offsets: dict[int, int] = field(default_factory=dict)


class DeadLetterList:
    """Keeps the replay's dead letters for the report instead of publishing them.

    The live consumer dead-lettered the same records when it first read them.
    """

    def __init__(self, outcome: ReplayOutcome) -> None:
        self._outcome = outcome

    async def __call__(self, letters: Sequence[DeadLetter]) -> None:
        self._outcome.dead_letters.extend(letters)


async def caught_up(
    consumer: AIOKafkaConsumer, pool: asyncpg.Pool, group_id: str, topic: str
) -> tuple[bool, dict[int, int], dict[int, int]]:
    """Return whether every partition's stored offset reached its high watermark.

    Also returns the stored next offsets and the known high watermarks.
    """
    partitions = consumer.partitions_for_topic(topic) or set()
    assigned = {tp.partition for tp in consumer.assignment() if tp.topic == topic}
    async with pool.acquire() as connection:
        stored = await stored_offsets(connection, group_id, topic)
    highwaters: dict[int, int] = {}
    for number in sorted(assigned):
        highwater = consumer.highwater(TopicPartition(topic, number))
        if highwater is not None:
            highwaters[number] = highwater
    done = (
        bool(partitions)
        and assigned == partitions
        and all(number in highwaters for number in partitions)
        and all(stored.get(number, 0) >= highwaters[number] for number in partitions)
    )
    return done, stored, highwaters


def _unreachable(settings: RewardingSettings, error: KafkaError) -> ServiceUnavailableError:
    return ServiceUnavailableError(
        f"Kafka at {settings.kafka_bootstrap_servers} is unreachable ({error!r}); start "
        "the broker or set LOYALTY_KAFKA_BOOTSTRAP_SERVERS"
    )


async def require_topic(settings: RewardingSettings) -> None:
    """Raise unless the broker is reachable and has the orders topic.

    Checked before the consumer subscribes, because a broker may create a
    subscribed topic that is missing.
    """
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        request_timeout_ms=settings.kafka_request_timeout_ms,
    )
    try:
        await admin.start()
        topics = set(await admin.list_topics())
    except KafkaError as error:
        raise _unreachable(settings, error) from error
    finally:
        await admin.close()
    if settings.orders_topic not in topics:
        raise ConfigurationError(
            f"topic {settings.orders_topic} does not exist on "
            f"{settings.kafka_bootstrap_servers}; set LOYALTY_ORDERS_TOPIC to the orders topic"
        )


async def start_consumer(settings: RewardingSettings, pool: asyncpg.Pool) -> AIOKafkaConsumer:
    """Return a started consumer of the orders topic that resumes at the offsets in ``pool``."""
    group_id, topic = settings.rewarding_group_id, settings.orders_topic
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=group_id,
        client_id="loyalty-replay",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=settings.batch_max_records,
        session_timeout_ms=settings.kafka_session_timeout_ms,
        heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
        request_timeout_ms=settings.kafka_request_timeout_ms,
    )
    await require_topic(settings)
    try:
        await consumer.start()
    except KafkaError as error:
        await consumer.stop()
        raise _unreachable(settings, error) from error
    consumer.subscribe(
        [topic], listener=SeekToStoredOffsets(lambda: pool, group_id, lambda: consumer)
    )
    return consumer


async def consume_until_caught_up(
    settings: RewardingSettings,
    pool: asyncpg.Pool,
    rules_source: RulesSource,
    rejections: Mapping[RecordId, tuple[str, str]],
    listener: ReplayListener,
    timeout_seconds: float,
) -> ReplayOutcome:
    """Apply the topic's records to ``settings.database_url`` until caught up.

    The records in ``rejections`` are dead-lettered with their error type and reason.
    """
    outcome = ReplayOutcome()
    group_id, topic = settings.rewarding_group_id, settings.orders_topic
    processor = BatchProcessor(
        pool, group_id, rules_source, DeadLetterList(outcome), rejections=rejections
    )
    consumer = await start_consumer(settings, pool)
    deadline = time.monotonic() + timeout_seconds
    try:
        while True:
            batch = await consumer.getmany(
                timeout_ms=FETCH_TIMEOUT_MS, max_records=settings.batch_max_records
            )
            records = [to_inbound(record) for part in batch.values() for record in part]
            if records:
                result = await processor.process(records)
                outcome.records += len(records)
                outcome.redelivered += result.redelivered
                outcome.events_appended += result.events_appended

            done, stored, highwaters = await caught_up(consumer, pool, group_id, topic)
            outcome.next_offsets = stored
            listener.progress(
                sum(stored.values()), sum(highwaters.values()) if highwaters else None
            )
            if done:
                return outcome
            if time.monotonic() > deadline:
                raise ReplayTimeoutError(
                    f"replay of {topic} did not catch up within {timeout_seconds:.0f} s "
                    f"(stored next offsets {stored}, high watermarks {highwaters}); run it "
                    "again with the same --group-id and --database-url to continue"
                )
    finally:
        await consumer.stop()
