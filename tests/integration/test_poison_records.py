"""Records that cannot be applied go to the dead-letter topic; nothing blocks a partition."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence

import asyncpg
import pytest

from services.common.db import Connection
from services.common.records import RecordId
from services.common.settings import CommonSettings
from services.merchant_settings.rules_source import StoredSettingsRulesSource
from services.rewarding.consumer import RewardingService
from services.rewarding.processor import RECORD_ATTEMPTS
from services.rewarding.rules import RewardRules
from services.rewarding.rules_source import RulesRequest
from tests.support.kafka import read_topic, wait_until
from tests.support.pipeline import (
    expected_entries,
    ledger_entries,
    paid_orders,
    publish,
    publish_events,
    register_merchant,
    rewarding_settings,
    stored_offsets_total,
)

pytestmark = pytest.mark.integration


class FailingRules:
    """Rules source that raises for one merchant, ``failures`` times, as a decider bug would."""

    def __init__(self, merchant_id: str, failures: int, error: Exception) -> None:
        self.merchant_id = merchant_id
        self.remaining = failures
        self.error = error
        self.calls = 0
        self._rules = StoredSettingsRulesSource()

    async def rules_for(
        self, connection: Connection, requests: Sequence[RulesRequest]
    ) -> Mapping[RecordId, RewardRules]:
        if any(merchant_id == self.merchant_id for _, merchant_id in requests):
            self.calls += 1
            if self.remaining > 0:
                self.remaining -= 1
                raise self.error
        return await self._rules.rules_for(connection, requests)


@pytest.fixture
async def merchants(pool: asyncpg.Pool, unique: str) -> tuple[str, str]:
    """A merchant whose records fail and one whose records succeed."""
    bad = await register_merchant(pool, f"bad-{unique}", int(unique[:6], 16) + 1)
    good = await register_merchant(pool, f"good-{unique}", int(unique[:6], 16) + 2)
    return bad, good


@contextlib.asynccontextmanager
async def started(
    settings: CommonSettings, group: str, rules: FailingRules | None = None
) -> AsyncIterator[RewardingService]:
    service = RewardingService(rewarding_settings(settings, group), rules)
    await service.app.start()
    try:
        yield service
    finally:
        await service.app.stop()


def headers_of(record: object) -> dict[str, str]:
    return {key: value.decode() for key, value in record.headers}  # type: ignore[attr-defined]


async def test_failing_record_then_good_one_on_same_partition(
    settings: CommonSettings, pool: asyncpg.Pool, merchants: tuple[str, str], unique: str
) -> None:
    bad, good = merchants
    rules = FailingRules(bad, failures=1000, error=RuntimeError("bug deciding the order"))
    failing = paid_orders(bad, 1)
    following = paid_orders(good, 2)
    positions = await publish_events(settings, [*failing, *following], partition=0)

    async with started(settings, f"rewarding-{unique}", rules):
        await wait_until(
            lambda: _offsets_at(pool, f"rewarding-{unique}", settings.orders_topic, 3), 30
        )

    assert await ledger_entries(pool, good) == expected_entries(following)
    assert await ledger_entries(pool, bad) == {}
    letters = await read_topic(
        settings.kafka_bootstrap_servers, settings.orders_dlq_topic, until_count=1
    )
    assert len(letters) == 1
    headers = headers_of(letters[0])
    assert headers["dlq-error-type"] == "RuntimeError"
    assert "bug deciding the order" in headers["dlq-reason"]
    assert headers["dlq-original-topic"] == settings.orders_topic
    assert (
        int(headers["dlq-original-partition"]),
        int(headers["dlq-original-offset"]),
    ) == positions[0]
    # The whole batch once, then the record alone RECORD_ATTEMPTS times: not forever.
    assert rules.calls == 1 + RECORD_ATTEMPTS


async def test_batch_over_two_partitions_with_one_failure(
    settings: CommonSettings, pool: asyncpg.Pool, merchants: tuple[str, str], unique: str
) -> None:
    flaky, good = merchants
    rules = FailingRules(flaky, failures=1, error=RuntimeError("fails once"))
    flaky_orders = paid_orders(flaky, 3)
    good_orders = paid_orders(good, 3)
    await publish_events(settings, flaky_orders, partition=0)
    await publish_events(settings, good_orders, partition=1)

    async with started(settings, f"rewarding-{unique}", rules):
        await wait_until(
            lambda: _offsets_at(pool, f"rewarding-{unique}", settings.orders_topic, 6), 30
        )

    assert await ledger_entries(pool, flaky) == expected_entries(flaky_orders)
    assert await ledger_entries(pool, good) == expected_entries(good_orders)
    letters = await read_topic(
        settings.kafka_bootstrap_servers, settings.orders_dlq_topic, timeout=1.5
    )
    assert letters == []


async def test_transient_error_is_retried_not_dead_lettered(
    settings: CommonSettings, pool: asyncpg.Pool, merchants: tuple[str, str], unique: str
) -> None:
    flaky, _ = merchants
    # More failures than a record gets attempts: a transient error must not count.
    rules = FailingRules(flaky, failures=RECORD_ATTEMPTS + 3, error=ConnectionResetError("reset"))
    orders = paid_orders(flaky, 2)
    await publish_events(settings, orders, partition=0)

    async with started(settings, f"rewarding-{unique}", rules):
        await wait_until(
            lambda: _offsets_at(pool, f"rewarding-{unique}", settings.orders_topic, 2), 60
        )

    assert await ledger_entries(pool, flaky) == expected_entries(orders)
    letters = await read_topic(
        settings.kafka_bootstrap_servers, settings.orders_dlq_topic, timeout=1.5
    )
    assert letters == []
    assert rules.calls == RECORD_ATTEMPTS + 4


async def test_undecodable_and_invalid_records_dead_lettered(
    settings: CommonSettings, pool: asyncpg.Pool, merchants: tuple[str, str], unique: str
) -> None:
    _, good = merchants
    orders = paid_orders(good, 1)
    bad_positions = await publish(
        settings,
        [(b"k", b"\xff\xfe not json"), (b"k", b'{"event_id": "not a uuid"}')],
        partition=0,
    )
    await publish_events(settings, orders, partition=0)

    async with started(settings, f"rewarding-{unique}"):
        await wait_until(
            lambda: _offsets_at(pool, f"rewarding-{unique}", settings.orders_topic, 3), 30
        )

    assert await ledger_entries(pool, good) == expected_entries(orders)
    letters = await read_topic(
        settings.kafka_bootstrap_servers, settings.orders_dlq_topic, until_count=2
    )
    assert [headers_of(letter)["dlq-error-type"] for letter in letters] == [
        "ValidationError",
        "ValidationError",
    ]
    assert [
        (
            int(headers_of(letter)["dlq-original-partition"]),
            int(headers_of(letter)["dlq-original-offset"]),
        )
        for letter in letters
    ] == bad_positions
    assert [letter.value for letter in letters] == [
        b"\xff\xfe not json",
        b'{"event_id": "not a uuid"}',
    ]


async def _offsets_at(pool: asyncpg.Pool, group: str, topic: str, total: int) -> bool:
    return await stored_offsets_total(pool, group, topic) >= total
