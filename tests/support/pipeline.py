"""Helpers for fault tests: publishing order events, reading what the consumer stored."""

from __future__ import annotations

from collections import Counter

import asyncpg
from aiokafka import AIOKafkaProducer

from schemas.orders import OrderStatusChanged
from services.common.settings import CommonSettings, RewardingSettings
from services.devstack.tansu import TANSU_CLIENT_ENVIRONMENT
from services.store.merchants import Merchant, add_merchant
from tests.unit.factories import order_event


async def register_merchant(pool: asyncpg.Pool, merchant_id: str, shop_id: int) -> str:
    await add_merchant(
        pool,
        Merchant(
            merchant_id=merchant_id,
            cluster_id="eu1",
            shop_id=shop_id,
            webhook_secret=f"secret-{merchant_id}",
            display_name=merchant_id,
            base_currency="EUR",
        ),
    )
    return merchant_id


def paid_orders(merchant_id: str, count: int, *, first: int = 1) -> list[OrderStatusChanged]:
    """Return ``count`` paid orders of ``merchant_id`` for customers 1 to 7.

    Order ids start with the merchant id, because event ids derive from them.
    """
    return [
        order_event(
            "paid",
            order_id=f"{merchant_id}-{number}",
            merchant_id=merchant_id,
            total=f"{10 + number}.50",
            customer_key=str(number % 7 + 1),
        )
        for number in range(first, first + count)
    ]


async def publish(
    settings: CommonSettings,
    values: list[tuple[bytes | None, bytes]],
    *,
    partition: int | None = None,
) -> list[tuple[int, int]]:
    """Write (key, value) records to the orders topic; return their (partition, offset)."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
    await producer.start()
    try:
        positions = []
        for key, value in values:
            metadata = await producer.send_and_wait(
                settings.orders_topic, value=value, key=key, partition=partition
            )
            positions.append((metadata.partition, metadata.offset))
        return positions
    finally:
        await producer.stop()


async def publish_events(
    settings: CommonSettings, events: list[OrderStatusChanged], *, partition: int | None = None
) -> list[tuple[int, int]]:
    return await publish(
        settings,
        [(event.partition_key, event.model_dump_json().encode()) for event in events],
        partition=partition,
    )


async def ledger_entries(pool: asyncpg.Pool, merchant_id: str) -> Counter[tuple[str, str, int]]:
    """Return how often each (order id, event type, points) was recorded for ``merchant_id``."""
    rows = await pool.fetch(
        """
        SELECT data ->> 'order_id' AS order_id, event_type, (data ->> 'points')::int AS points
        FROM events
        WHERE merchant_id = $1 AND event_type IN ('PointsEarned', 'PointsRemoved')
        """,
        merchant_id,
    )
    return Counter((row["order_id"], row["event_type"], row["points"]) for row in rows)


def expected_entries(events: list[OrderStatusChanged]) -> Counter[tuple[str, str, int]]:
    """Return the ledger entries of ``events``, each a distinct paid order."""
    return Counter(
        (event.order_id, "PointsEarned", int(event.amounts.total_incl)) for event in events
    )


async def stored_offsets_total(pool: asyncpg.Pool, group_id: str, topic: str) -> int:
    value = await pool.fetchval(
        "SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets "
        "WHERE group_id = $1 AND topic = $2",
        group_id,
        topic,
    )
    return int(value)


def rewarding_settings(
    settings: CommonSettings, group_id: str, **changes: object
) -> RewardingSettings:
    return RewardingSettings(**{**settings.model_dump(), "rewarding_group_id": group_id, **changes})


def rewarding_environment(settings: RewardingSettings) -> dict[str, str]:
    """Return the LOYALTY_* variables that start ``python -m services.rewarding`` with ``settings``."""
    return {
        **TANSU_CLIENT_ENVIRONMENT,
        "LOYALTY_DATABASE_URL": settings.database_url,
        "LOYALTY_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "LOYALTY_ORDERS_TOPIC": settings.orders_topic,
        "LOYALTY_POINTS_TOPIC": settings.points_topic,
        "LOYALTY_REWARDING_GROUP_ID": settings.rewarding_group_id,
        "LOYALTY_BATCH_MAX_RECORDS": str(settings.batch_max_records),
        "LOYALTY_BATCH_PARALLELISM": str(settings.batch_parallelism),
        "LOYALTY_SHUTDOWN_TIMEOUT_SECONDS": str(settings.shutdown_timeout_seconds),
        "LOYALTY_LOG_FORMAT": "text",
        # Several consumers run at once, so none serves /metrics on the default port.
        "LOYALTY_METRICS_PORT": "0",
    }
