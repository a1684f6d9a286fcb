"""Checks of the chaos run: poison records in, stored offsets and ledgers out."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import asyncpg
from aiokafka import AIOKafkaProducer, ConsumerRecord

from services.common.settings import CommonSettings
from services.devstack.chaos.model import Entry


async def send_poison(settings: CommonSettings, count: int) -> set[tuple[int, int]]:
    """Write ``count`` undecodable records straight to the orders topic; return their positions."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
    await producer.start()
    positions: set[tuple[int, int]] = set()
    try:
        for number in range(count):
            metadata = await producer.send_and_wait(
                settings.orders_topic, value=b"{not json " + str(number).encode(), key=b"poison"
            )
            positions.add((metadata.partition, metadata.offset))
    finally:
        await producer.stop()
    return positions


async def wait_drained(
    database_url: str, group_id: str, records: list[ConsumerRecord], wait_seconds: float
) -> bool:
    """Wait until the stored offsets cover every record of the topic."""
    ends: dict[int, int] = {}
    for record in records:
        ends[record.partition] = max(ends.get(record.partition, 0), record.offset + 1)
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        try:
            connection = await asyncpg.connect(database_url)
            try:
                rows = await connection.fetch(
                    "SELECT partition, next_offset FROM consumer_offsets WHERE group_id = $1",
                    group_id,
                )
            finally:
                await connection.close()
        except (OSError, asyncpg.PostgresError):
            rows = []
        stored = {row["partition"]: row["next_offset"] for row in rows}
        if all(stored.get(partition, 0) >= end for partition, end in ends.items()):
            return True
        await asyncio.sleep(0.5)
    return False


async def actual_ledgers(
    database_url: str,
) -> tuple[dict[tuple[str, str], Counter[Entry]], dict[str, int]]:
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            """
            SELECT merchant_id, customer_key, event_type, data::jsonb ->> 'order_id' AS order_id,
                   (data::jsonb ->> 'points')::int AS points
            FROM events WHERE event_type IN ('PointsEarned', 'PointsRemoved')
            """
        )
        balance_rows = await connection.fetch("SELECT customer_key, points FROM balances")
    finally:
        await connection.close()
    ledgers: dict[tuple[str, str], Counter[Entry]] = {}
    for row in rows:
        sign = -1 if row["event_type"] == "PointsRemoved" else 1
        entry = (row["order_id"], row["event_type"], sign * abs(row["points"]))
        ledgers.setdefault((row["merchant_id"], row["customer_key"]), Counter())[entry] += 1
    balances = {row["customer_key"]: int(row["points"]) for row in balance_rows}
    return ledgers, balances
