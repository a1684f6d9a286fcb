"""Merchant settings: event-sourced changes and their effect on the decider."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import asyncpg
import pytest
from pydantic import ValidationError

from services.merchant_settings.model import DEFAULT_SETTINGS
from services.merchant_settings.rules_source import StoredSettingsRulesSource
from services.merchant_settings.store import change_settings, load_settings
from services.rewarding.processor import BatchProcessor
from services.rewarding.records import DeadLetter, InboundRecord
from services.store.merchants import Merchant, add_merchant
from tests.unit.factories import order_event

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
async def merchant_id(pool: asyncpg.Pool, unique: str) -> str:
    merchant = Merchant(f"m-{unique}", "us1", int(unique[:7], 16) + 11, "s", "Shop", "USD")
    await add_merchant(pool, merchant)
    return merchant.merchant_id


async def test_defaults_without_changes(pool: asyncpg.Pool, merchant_id: str) -> None:
    async with pool.acquire() as connection:
        settings = await load_settings(connection, [merchant_id])

    assert settings[merchant_id] == DEFAULT_SETTINGS


async def test_change_records_event_and_bumps_version(pool: asyncpg.Pool, merchant_id: str) -> None:
    async with pool.acquire() as connection, connection.transaction():
        updated = await change_settings(
            connection,
            merchant_id,
            {"points_per_unit": "2"},
            actor="ops@example.com",
            changed_at=NOW,
        )

    assert updated.version == 2
    assert updated.points_per_unit == Decimal(2)
    row = await pool.fetchrow(
        "SELECT event_type, data FROM events WHERE stream_id = $1", f"settings:{merchant_id}"
    )
    assert row["event_type"] == "SettingsChanged"
    assert row["data"]["actor"] == "ops@example.com"
    assert row["data"]["changes"] == {"points_per_unit": "2"}


async def test_overlapping_statuses_rejected(pool: asyncpg.Pool, merchant_id: str) -> None:
    async with pool.acquire() as connection, connection.transaction():
        with pytest.raises(ValidationError, match="must not overlap; both contain paid"):
            await change_settings(
                connection, merchant_id, {"cancel_statuses": ["paid"]}, actor="t", changed_at=NOW
            )


async def test_award_records_rule_version(
    pool: asyncpg.Pool, merchant_id: str, unique: str
) -> None:
    async with pool.acquire() as connection, connection.transaction():
        await change_settings(
            connection, merchant_id, {"points_per_unit": "3"}, actor="t", changed_at=NOW
        )

    async def no_dead_letters(letters: list[DeadLetter]) -> None:
        raise AssertionError(f"unexpected dead letters: {letters}")

    processor = BatchProcessor(pool, f"g-{unique}", StoredSettingsRulesSource(), no_dead_letters)
    event = order_event("paid", total="10.00", merchant_id=merchant_id, customer_key=f"c-{unique}")
    record = InboundRecord(f"t-{unique}", 0, 0, b"k", event.model_dump_json().encode())

    outcome = await processor.process([record])

    assert outcome.points_earned == 30
    data = await pool.fetchval(
        "SELECT data FROM events WHERE merchant_id = $1 AND event_type = 'PointsEarned'",
        merchant_id,
    )
    assert data["rule_version"] == 2
    assert data["rate"] == "3"
