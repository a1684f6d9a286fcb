"""The batch processor with refunds and the clamp policy, against the real database."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import pytest

from schemas.orders import OrderStatusChanged
from schemas.refunds import OrderRefunded
from services.merchant_settings.rules_source import StoredSettingsRulesSource
from services.merchant_settings.store import change_settings
from services.rewarding.processor import BatchProcessor
from services.rewarding.records import DeadLetter, InboundRecord
from services.store.merchants import Merchant, add_merchant
from services.store.projections import add_to_balances
from tests.unit.factories import order_event, refund_event

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
async def merchant_id(pool: asyncpg.Pool, unique: str) -> str:
    merchant = Merchant(f"p-{unique}", "us1", int(unique[:7], 16) + 23, "s", "Shop", "USD")
    await add_merchant(pool, merchant)
    return merchant.merchant_id


async def no_dead_letters(letters: list[DeadLetter]) -> None:
    raise AssertionError(f"unexpected dead letters: {letters}")


def records(unique: str, events: list[OrderStatusChanged | OrderRefunded]) -> list[InboundRecord]:
    return [
        InboundRecord(f"t-{unique}", 0, offset, b"k", event.model_dump_json().encode())
        for offset, event in enumerate(events)
    ]


async def balance_of(pool: asyncpg.Pool, merchant_id: str, customer_key: str) -> int:
    points: int = await pool.fetchval(
        "SELECT points FROM balances WHERE merchant_id = $1 AND customer_key = $2",
        merchant_id,
        customer_key,
    )
    return points


async def test_clamp_tracks_balance_within_batch(
    pool: asyncpg.Pool, merchant_id: str, unique: str
) -> None:
    customer = f"c-{unique}"
    async with pool.acquire() as connection, connection.transaction():
        await change_settings(
            connection,
            merchant_id,
            {"negative_balance_policy": "clamp"},
            actor="t",
            changed_at=NOW,
        )
        await add_to_balances(connection, {(merchant_id, customer): (-25, 0)})
    processor = BatchProcessor(pool, f"g-{unique}", StoredSettingsRulesSource(), no_dead_letters)
    batch = [
        order_event(
            "paid", total="30.00", order_id="A", merchant_id=merchant_id, customer_key=customer
        ),
        order_event(
            "paid", total="20.00", order_id="B", merchant_id=merchant_id, customer_key=customer
        ),
        order_event(
            "cancelled",
            minutes=5,
            total="30.00",
            order_id="A",
            merchant_id=merchant_id,
            customer_key=customer,
        ),
    ]

    outcome = await processor.process(records(unique, batch))

    # -25 + 30 + 20 = 25 before the cancel, so 25 of the 30 points are removed.
    assert outcome.points_earned == 50
    assert outcome.points_removed == 25
    assert outcome.points_written_off == 5
    assert await balance_of(pool, merchant_id, customer) == 0
    clamped = await pool.fetchval(
        "SELECT data FROM events WHERE merchant_id = $1 AND event_type = 'PointsRemovalClamped'",
        merchant_id,
    )
    assert clamped["balance_before"] == 25
    assert clamped["shortfall_points"] == 5


async def test_refund_record_removes_share(
    pool: asyncpg.Pool, merchant_id: str, unique: str
) -> None:
    customer = f"c-{unique}"
    processor = BatchProcessor(pool, f"g-{unique}", StoredSettingsRulesSource(), no_dead_letters)
    paid = order_event("paid", total="80.00", merchant_id=merchant_id, customer_key=customer)
    refund = refund_event("20.00", merchant_id=merchant_id)

    outcome = await processor.process(records(unique, [paid, refund, refund]))

    assert outcome.points_earned == 80
    assert outcome.points_removed == 20
    assert outcome.duplicates == 1
    assert await balance_of(pool, merchant_id, customer) == 60
    keys = await pool.fetch(
        "SELECT event_type, customer_key FROM events WHERE stream_id = $1 ORDER BY stream_version",
        paid.stream_id,
    )
    assert [(row["event_type"], row["customer_key"]) for row in keys] == [
        ("OrderStatusApplied", customer),
        ("PointsEarned", customer),
        ("OrderRefundApplied", customer),
        ("PointsRemoved", customer),
    ]


async def test_record_with_unknown_event_type_is_dead_lettered(
    pool: asyncpg.Pool, merchant_id: str, unique: str
) -> None:
    letters: list[DeadLetter] = []

    async def collect(found: list[DeadLetter]) -> None:
        letters.extend(found)

    processor = BatchProcessor(pool, f"g-{unique}", StoredSettingsRulesSource(), collect)
    value = b'{"event_type": "OrderShipped", "merchant_id": "x"}'

    await processor.process([InboundRecord(f"t-{unique}", 0, 0, b"k", value)])

    assert len(letters) == 1
    assert letters[0].error_type == "ValidationError"
    assert "'OrderStatusChanged', 'OrderRefunded'" in letters[0].reason
