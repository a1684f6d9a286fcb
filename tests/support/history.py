"""Fresh databases and a varied order history applied through the real batch processor."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import asyncpg

from schemas.orders import OrderStatusChanged
from services.common.db import create_pool
from services.devstack.database import drop_database, recreate_database, with_database
from services.merchant_settings.rules_source import StoredSettingsRulesSource
from services.merchant_settings.store import change_settings
from services.rewarding.processor import BatchProcessor
from services.rewarding.records import DeadLetter, InboundRecord
from services.store import migrate
from services.store.merchants import Merchant, add_merchant
from tests.conftest import SERVER_URL
from tests.unit.factories import order_event

SETTINGS_CHANGED_AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    """Yield the URL of a new, migrated database; drop it afterwards."""
    url = with_database(SERVER_URL, f"loyalty_test_{uuid.uuid4().hex[:12]}")
    await recreate_database(url)
    try:
        await asyncio.to_thread(migrate.upgrade, url)
        yield url
    finally:
        await drop_database(url)


@asynccontextmanager
async def fresh_pool() -> AsyncIterator[asyncpg.Pool]:
    async with fresh_database() as url:
        pool = await create_pool(url, max_size=2)
        try:
            yield pool
        finally:
            await pool.close()


async def register(pool: asyncpg.Pool, merchant_id: str, shop_id: int) -> None:
    await add_merchant(pool, Merchant(merchant_id, "eu1", shop_id, "secret", "Shop", "EUR"))


def varied_history(merchant_id: str) -> list[OrderStatusChanged]:
    """Return order events covering every decision: award, duplicate, stale, removal, guest.

    Order ids include the merchant id, because the test factory derives event ids
    from the order id, and event ids are unique across the store.
    """

    def event(status: str, **kwargs: object) -> OrderStatusChanged:
        return order_event(status, merchant_id=merchant_id, **kwargs)  # type: ignore[arg-type]

    return [
        event("paid", order_id=f"{merchant_id}-1", customer_key="501", total="42.50"),
        event("paid", order_id=f"{merchant_id}-1", customer_key="501", total="42.50"),
        event("paid", order_id=f"{merchant_id}-2", customer_key="502", total="120.00", minutes=1),
        event("paid", order_id=f"{merchant_id}-3", customer_key="503", total="75.99", minutes=2),
        event(
            "cancelled", order_id=f"{merchant_id}-3", customer_key="503", total="75.99", minutes=30
        ),
        event(
            "not_paid", order_id=f"{merchant_id}-3", customer_key="503", total="75.99", minutes=10
        ),
        event("paid", order_id=f"{merchant_id}-4", customer_key="503", total="19.95", minutes=40),
        event(
            "paid",
            order_id=f"{merchant_id}-5",
            customer_key="dana@example.com",
            total="30.00",
            minutes=3,
        ),
        event(
            "not_paid", order_id=f"{merchant_id}-6", customer_key="505", total="55.00", minutes=4
        ),
        event("paid", order_id=f"{merchant_id}-7", customer_key=None, total="12.00", minutes=5),
        event(
            "paid",
            order_id=f"{merchant_id}-8",
            customer_key="501",
            total="9.99",
            minutes=50,
            shipping="0",
        ),
    ]


async def apply(
    pool: asyncpg.Pool, events: Sequence[OrderStatusChanged], group_id: str = "history"
) -> None:
    """Decide and store ``events`` as the rewarding consumer would, one batch of all."""

    async def no_dead_letters(letters: Sequence[DeadLetter]) -> None:
        raise AssertionError(f"unexpected dead letters: {letters}")

    processor = BatchProcessor(pool, group_id, StoredSettingsRulesSource(), no_dead_letters)
    records = [
        InboundRecord("orders", 0, offset, b"k", event.model_dump_json().encode())
        for offset, event in enumerate(events)
    ]
    await processor.process(records)


async def load_varied_history(pool: asyncpg.Pool, merchant_id: str, shop_id: int) -> None:
    """Register the merchant, apply half the history, change settings, apply the rest."""
    await register(pool, merchant_id, shop_id)
    history = varied_history(merchant_id)
    await apply(pool, history[:5], group_id=f"history-{merchant_id}-1")
    async with pool.acquire() as connection, connection.transaction():
        await change_settings(
            connection,
            merchant_id,
            {"points_per_unit": "2"},
            actor="ops@example.com",
            changed_at=SETTINGS_CHANGED_AT,
        )
    await apply(pool, history[5:], group_id=f"history-{merchant_id}-2")
