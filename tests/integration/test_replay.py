"""Replaying the orders topic into fresh databases gives the same ledger.

Compared per order stream: the sequence of (event id, event type, data) by
stream version; and each balance's points. Positions, recorded_at, metadata
and the interleaving of streams across partitions may differ, because they
record when and in which order a database received the events.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from schemas.orders import OrderStatusChanged
from services.common.db import create_pool
from services.common.errors import ConfigurationError, ServiceUnavailableError
from services.common.settings import CommonSettings, IngestSettings, RewardingSettings
from services.devstack.database import database_name, with_database
from services.ingest.publisher import OrderEventPublisher
from services.merchant_settings.store import change_settings
from services.replay.run import ReplayResult, replay
from services.replay.target import TargetNotEmptyError
from services.rewarding.consumer import RewardingService
from tests.support.history import fresh_database, register
from tests.support.kafka import wait_until
from tests.unit.factories import order_event

pytestmark = pytest.mark.integration


class Quiet:
    def __init__(self) -> None:
        self.calls: list[tuple[int, int | None]] = []

    def progress(self, consumed: int, end: int | None) -> None:
        self.calls.append((consumed, end))


def topic_events(unique: str) -> list[OrderStatusChanged]:
    """Return order events with duplicates, late arrivals, cancellations and guests."""
    events: list[OrderStatusChanged] = []
    for merchant in (f"a-{unique}", f"b-{unique}"):
        for number in range(12):
            order_id = f"{merchant}-{number}"
            customer = None if number == 11 else f"c{number % 4}"
            paid = order_event(
                "paid",
                order_id=order_id,
                merchant_id=merchant,
                customer_key=customer,
                minutes=10 + number,
                total=f"{20 + number}.50",
            )
            events.append(paid)
            if number % 3 == 0:
                events.append(paid)
            if number % 4 == 1:
                events.append(
                    order_event(
                        "not_paid",
                        order_id=order_id,
                        merchant_id=merchant,
                        customer_key=customer,
                        minutes=number,
                        total=f"{20 + number}.50",
                    )
                )
            if number % 5 == 2:
                events.append(
                    order_event(
                        "cancelled",
                        order_id=order_id,
                        merchant_id=merchant,
                        customer_key=customer,
                        minutes=60 + number,
                        total=f"{20 + number}.50",
                    )
                )
    return events


async def consumed(url: str, group_id: str, topic: str, records: int) -> None:
    pool = await create_pool(url, max_size=1)

    async def done() -> bool:
        total = await pool.fetchval(
            "SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets "
            "WHERE group_id = $1 AND topic = $2",
            group_id,
            topic,
        )
        return bool(total >= records)

    try:
        await wait_until(done, timeout=60)
    finally:
        await pool.close()


async def ledger(url: str) -> tuple[dict[str, list[tuple[Any, ...]]], dict[tuple[str, str], int]]:
    pool = await create_pool(url, max_size=1)
    try:
        rows = await pool.fetch(
            "SELECT stream_id, event_id, event_type, data FROM events "
            "WHERE stream_id LIKE 'order:%' ORDER BY stream_id, stream_version"
        )
        balances = await pool.fetch("SELECT merchant_id, customer_key, points FROM balances")
    finally:
        await pool.close()
    streams: dict[str, list[tuple[Any, ...]]] = {}
    for row in rows:
        streams.setdefault(row["stream_id"], []).append(
            (row["event_id"], row["event_type"], row["data"])
        )
    return streams, {(r["merchant_id"], r["customer_key"]): r["points"] for r in balances}


@pytest.fixture
async def source(settings: CommonSettings, unique: str) -> AsyncIterator[tuple[str, int]]:
    """A database filled by the live consumer from a topic of varied order events."""
    async with fresh_database() as url:
        pool = await create_pool(url, max_size=1)
        try:
            await register(pool, f"a-{unique}", 1)
            await register(pool, f"b-{unique}", 2)
            async with pool.acquire() as connection, connection.transaction():
                await change_settings(
                    connection,
                    f"a-{unique}",
                    {"points_per_unit": "2"},
                    actor="ops@example.com",
                    changed_at=datetime(2026, 12, 1, tzinfo=UTC),
                )
        finally:
            await pool.close()
        events = topic_events(unique)
        publisher = OrderEventPublisher(IngestSettings(**settings.model_dump()))
        try:
            for event in events:
                await publisher.publish(event)
        finally:
            await publisher.close()

        live = RewardingService(
            RewardingSettings(
                **{**settings.model_dump(), "database_url": url},
                rewarding_group_id=f"live-{unique}",
            )
        )
        await live.app.start()
        try:
            await consumed(url, f"live-{unique}", settings.orders_topic, len(events))
        finally:
            await live.app.stop()
        yield url, len(events)


def events_after_change(unique: str) -> list[OrderStatusChanged]:
    """Return new paid orders, and cancellations of orders paid before the settings change."""
    events: list[OrderStatusChanged] = []
    for merchant in (f"a-{unique}", f"b-{unique}"):
        for number in range(6):
            events.append(
                order_event(
                    "paid",
                    order_id=f"{merchant}-late-{number}",
                    merchant_id=merchant,
                    customer_key=f"c{number % 4}",
                    minutes=100 + number,
                    total=f"{30 + number}.00",
                )
            )
        for number in (0, 1, 3, 4):
            events.append(
                order_event(
                    "cancelled",
                    order_id=f"{merchant}-{number}",
                    merchant_id=merchant,
                    customer_key=f"c{number % 4}",
                    minutes=120 + number,
                    total=f"{20 + number}.50",
                )
            )
    return events


def late_merchant_order(unique: str, number: int) -> OrderStatusChanged:
    """Return a paid order of merchant c, which is registered mid-topic."""
    return order_event(
        "paid", order_id=f"c-{unique}-{number}", merchant_id=f"c-{unique}", customer_key="c1"
    )


@pytest.fixture
async def changed_source(
    settings: CommonSettings, unique: str
) -> AsyncIterator[tuple[str, int, str]]:
    """A database whose live consumer saw both merchants' settings change mid-topic.

    The change raises merchant a's rate and stops its cancellations from removing
    points, and halves merchant b's rate. It happens while the consumer runs,
    between two halves of the topic. Merchant c is registered at the same time,
    so the live consumer dead-lettered its order in the first half.
    """
    group = f"live-{unique}"
    async with fresh_database() as url:
        pool = await create_pool(url, max_size=1)
        publisher = OrderEventPublisher(IngestSettings(**settings.model_dump()))
        live = RewardingService(
            RewardingSettings(
                **{**settings.model_dump(), "database_url": url}, rewarding_group_id=group
            )
        )
        try:
            await register(pool, f"a-{unique}", 1)
            await register(pool, f"b-{unique}", 2)
            await live.app.start()
            before = [*topic_events(unique), late_merchant_order(unique, 1)]
            for event in before:
                await publisher.publish(event)
            await consumed(url, group, settings.orders_topic, len(before))
            await register(pool, f"c-{unique}", 3)
            changes = {
                f"a-{unique}": {"points_per_unit": "3", "cancel_statuses": []},
                f"b-{unique}": {"points_per_unit": "0.5"},
            }
            async with pool.acquire() as connection, connection.transaction():
                for merchant_id, change in changes.items():
                    await change_settings(
                        connection,
                        merchant_id,
                        change,
                        actor="ops@example.com",
                        changed_at=datetime(2026, 12, 2, tzinfo=UTC),
                    )
            after = [*events_after_change(unique), late_merchant_order(unique, 2)]
            for event in after:
                await publisher.publish(event)
            await consumed(url, group, settings.orders_topic, len(before) + len(after))
        finally:
            await live.app.stop()
            await publisher.close()
            await pool.close()
        yield url, len(before) + len(after), group


async def test_replay_follows_recorded_settings(
    settings: CommonSettings, changed_source: tuple[str, int, str], unique: str
) -> None:
    source_url, records, live_group = changed_source
    async with fresh_database() as recorded_url, fresh_database() as current_url:
        recorded = await replay(
            replay_settings(settings, recorded_url, f"replay-{unique}", batch_max_records=1),
            source_url,
            live_group,
            Quiet(),
            60,
        )
        # Naming another group as the live one leaves no activations or dead letters
        # to follow, so every record is decided with the current settings.
        current = await replay(
            replay_settings(settings, current_url, f"current-{unique}"),
            source_url,
            "not-the-live-group",
            Quiet(),
            60,
        )
        recorded_ledger = await ledger(recorded_url)
    source_ledger = await ledger(source_url)
    pool = await create_pool(source_url, max_size=1)
    try:
        versions = await pool.fetch(
            "SELECT merchant_id, array_agg(DISTINCT settings_version) AS versions "
            "FROM settings_activations WHERE group_id = $1 GROUP BY merchant_id",
            live_group,
        )
    finally:
        await pool.close()

    assert {row["merchant_id"]: sorted(row["versions"]) for row in versions} == {
        f"a-{unique}": [1, 2],
        f"b-{unique}": [1, 2],
        f"c-{unique}": [1],
    }
    assert sum(recorded.outcome.next_offsets.values()) == records
    assert recorded.settings_activations_read >= 5
    assert recorded.live_dead_letters_read == 1
    assert [letter.error_type for letter in recorded.outcome.dead_letters] == ["UnknownMerchant"]
    assert recorded_ledger == source_ledger
    assert f"order:c-{unique}:c-{unique}-2" in source_ledger[0]
    assert f"order:c-{unique}:c-{unique}-1" not in source_ledger[0]
    assert recorded.identical is True
    assert current.settings_activations_read == 0
    assert current.live_dead_letters_read == 0
    assert current.outcome.dead_letters == []
    assert current.identical is False


def replay_settings(
    settings: CommonSettings, url: str, group: str, **overrides: Any
) -> RewardingSettings:
    return RewardingSettings(
        **{**settings.model_dump(), "database_url": url, **overrides}, rewarding_group_id=group
    )


async def test_replays_are_identical(
    settings: CommonSettings, source: tuple[str, int], unique: str
) -> None:
    source_url, records = source
    async with fresh_database() as first_url, fresh_database() as second_url:
        first: ReplayResult = await replay(
            replay_settings(settings, first_url, f"replay-1-{unique}"),
            source_url,
            "loyalty-rewarding",
            Quiet(),
            60,
        )
        # One record per batch: other batch boundaries and another interleaving of partitions.
        second = await replay(
            replay_settings(settings, second_url, f"replay-2-{unique}", batch_max_records=1),
            source_url,
            "loyalty-rewarding",
            Quiet(),
            60,
        )
        first_ledger = await ledger(first_url)
        second_ledger = await ledger(second_url)
    source_ledger = await ledger(source_url)

    # A rebalance may fetch a record again; the stored offsets skip it.
    assert first.outcome.records - first.outcome.redelivered == records
    assert second.outcome.records - second.outcome.redelivered == records
    assert sum(first.outcome.next_offsets.values()) == records
    assert sum(second.outcome.next_offsets.values()) == records
    assert first.outcome.dead_letters == []
    assert first_ledger[0] == source_ledger[0]
    assert second_ledger[0] == source_ledger[0]
    assert first_ledger[1] == source_ledger[1]
    assert second_ledger[1] == source_ledger[1]
    assert first.identical is True
    assert second.identical is True
    assert first.merchants_copied == 2
    assert first.settings_events_copied == 1
    assert len(source_ledger[0]) == 24
    assert sum(source_ledger[1].values()) > 0


async def test_replay_resumes_and_refuses_others(
    settings: CommonSettings, source: tuple[str, int], unique: str
) -> None:
    source_url, records = source
    async with fresh_database() as target_url:
        group = f"replay-{unique}"
        await replay(replay_settings(settings, target_url, group), source_url, "live", Quiet(), 60)

        again = await replay(
            replay_settings(settings, target_url, group), source_url, "live", Quiet(), 60
        )
        with pytest.raises(TargetNotEmptyError, match="contains order events"):
            await replay(
                replay_settings(settings, target_url, f"other-{unique}"),
                source_url,
                "live",
                Quiet(),
                60,
            )

    assert again.resumed
    assert again.outcome.records == again.outcome.redelivered
    assert again.identical is True
    assert sum(again.outcome.next_offsets.values()) == records


async def test_replay_refuses_live_group(settings: CommonSettings) -> None:
    with pytest.raises(ConfigurationError, match="live rewarding consumer's group"):
        await replay(
            replay_settings(settings, "postgresql://unused/none", "loyalty-rewarding"),
            None,
            "loyalty-rewarding",
            Quiet(),
            60,
        )


async def database_exists(url: str) -> bool:
    admin = await asyncpg.connect(with_database(url, "postgres"))
    try:
        found = await admin.fetchval(
            "SELECT 1 FROM pg_database WHERE datname = $1", database_name(url)
        )
    finally:
        await admin.close()
    return found is not None


async def test_replay_names_missing_topic(settings: CommonSettings, unique: str) -> None:
    target_url = with_database(settings.database_url, f"replay_missing_{unique}")
    with pytest.raises(ConfigurationError, match=f"topic missing-{unique} does not exist"):
        await replay(
            replay_settings(
                settings, target_url, f"replay-{unique}", orders_topic=f"missing-{unique}"
            ),
            None,
            "loyalty-rewarding",
            Quiet(),
            60,
        )

    assert not await database_exists(target_url)


async def test_replay_names_unreachable_broker(settings: CommonSettings, unique: str) -> None:
    target_url = with_database(settings.database_url, f"replay_no_broker_{unique}")
    with pytest.raises(ServiceUnavailableError, match=r"Kafka at 127\.0\.0\.1:1 is unreachable"):
        await replay(
            replay_settings(
                settings, target_url, f"replay-{unique}", kafka_bootstrap_servers="127.0.0.1:1"
            ),
            None,
            "loyalty-rewarding",
            Quiet(),
            60,
        )

    assert not await database_exists(target_url)
