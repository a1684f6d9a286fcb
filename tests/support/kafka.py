"""Reading topics in tests without a consumer group."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition


async def read_topic(
    bootstrap_servers: str,
    topic: str,
    *,
    until_count: int | None = None,
    until: Callable[[list[ConsumerRecord]], bool] | None = None,
    timeout: float = 5.0,
    settle: float = 0.3,
) -> list[ConsumerRecord]:
    """Return the records of ``topic`` from the beginning.

    Reads until ``until_count`` records arrived or ``until(records)`` is true, then
    polls ``settle`` seconds more; or reads until ``timeout`` seconds passed. The
    broker's end offsets are not trusted, because Tansu reports them wrongly.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        assigned = [TopicPartition(topic, number) for number in sorted(partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        records: list[ConsumerRecord] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = (until_count is not None and len(records) >= until_count) or (
                until is not None and until(records)
            )
            if done:
                deadline = min(deadline, time.monotonic() + settle)
                until_count, until = None, None
            batch = await consumer.getmany(timeout_ms=100)
            for partition_records in batch.values():
                records.extend(partition_records)
        return records
    finally:
        await consumer.stop()


async def wait_until(predicate, timeout: float = 20.0, interval: float = 0.1):  # type: ignore[no-untyped-def]
    """Await ``predicate()`` until it returns a truthy value; raise TimeoutError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = await predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)
