"""Reading a whole topic from the beginning, without a consumer group.

The broker's end offsets are not trusted (Tansu reports them wrongly), so the
reader stops once no record arrived for ``idle_seconds``.
"""

from __future__ import annotations

import time

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from services.common.errors import ServiceUnavailableError


async def read_topic(
    bootstrap_servers: str,
    topic: str,
    *,
    idle_seconds: float = 1.0,
    max_seconds: float = 60.0,
) -> list[ConsumerRecord]:
    """Return every record of ``topic`` in partition and offset order."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, enable_auto_commit=False, group_id=None
    )
    try:
        await consumer.start()
    except Exception as error:
        await consumer.stop()
        raise ServiceUnavailableError(
            f"Kafka at {bootstrap_servers} is not reachable ({error!r}); "
            "start the broker or set LOYALTY_KAFKA_BOOTSTRAP_SERVERS"
        ) from error
    try:
        numbers = consumer.partitions_for_topic(topic)
        if not numbers:
            await consumer._client.force_metadata_update()
            numbers = consumer.partitions_for_topic(topic) or set()
        partitions = [TopicPartition(topic, number) for number in sorted(numbers)]
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        records: list[ConsumerRecord] = []
        deadline = time.monotonic() + max_seconds
        last_record_at = time.monotonic()
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=100)
            for partition_records in batch.values():
                records.extend(partition_records)
            if batch:
                last_record_at = time.monotonic()
            elif time.monotonic() - last_record_at > idle_seconds:
                break
        records.sort(key=lambda record: (record.partition, record.offset))
        return records
    finally:
        await consumer.stop()
