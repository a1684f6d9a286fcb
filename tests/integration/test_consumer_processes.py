"""Consumer processes killed, stopped, joining and leaving: every record applied once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import asyncpg
import pytest

from services.common.settings import CommonSettings, RewardingSettings
from services.devstack.chaos.processes import ServiceProcess
from tests.support.consumers import consumer_process, lock_waiters, offsets_locked
from tests.support.kafka import wait_until
from tests.support.pipeline import (
    expected_entries,
    ledger_entries,
    paid_orders,
    publish_events,
    register_merchant,
    rewarding_settings,
    stored_offsets_total,
)

pytestmark = pytest.mark.integration

Spawn = Callable[[RewardingSettings, str], ServiceProcess]


@pytest.fixture
async def merchant(pool: asyncpg.Pool, unique: str) -> str:
    return await register_merchant(pool, f"proc-{unique}", int(unique[:6], 16) + 3)


@pytest.fixture
async def spawn(tmp_path: Path) -> AsyncIterator[Spawn]:
    """Create consumer processes that are killed when the test ends, whatever its outcome."""
    created: list[ServiceProcess] = []

    def create(settings: RewardingSettings, name: str) -> ServiceProcess:
        process = consumer_process(settings, name, tmp_path)
        created.append(process)
        return process

    yield create
    for process in created:
        await process.kill()


async def drained(pool: asyncpg.Pool, group: str, topic: str, total: int) -> bool:
    return await stored_offsets_total(pool, group, topic) >= total


async def test_sigkill_mid_batch_applies_once(
    settings: CommonSettings, pool: asyncpg.Pool, merchant: str, unique: str, spawn: Spawn
) -> None:
    group = f"rewarding-{unique}"
    consumer_settings = rewarding_settings(settings, group, batch_max_records=20)
    orders = paid_orders(merchant, 400)
    await publish_events(settings, orders)
    first = spawn(consumer_settings, "first")
    second = spawn(consumer_settings, "second")

    await first.start()
    progress = await wait_until(
        lambda: _some_applied(pool, group, settings.orders_topic), 60, interval=0.02
    )
    await first.kill()
    await second.start()
    await wait_until(lambda: drained(pool, group, settings.orders_topic, len(orders)), 60)
    exit_code = await second.terminate(10)

    assert 0 < progress < len(orders), "the kill came after the last batch"
    assert first.process is not None
    assert first.process.returncode == -9
    assert exit_code == 0
    assert await ledger_entries(pool, merchant) == expected_entries(orders)


async def test_members_join_and_leave_apply_once(
    settings: CommonSettings, pool: asyncpg.Pool, merchant: str, unique: str, spawn: Spawn
) -> None:
    group = f"rewarding-{unique}"
    consumer_settings = rewarding_settings(settings, group, batch_max_records=25)
    members = [spawn(consumer_settings, f"member-{n}") for n in range(3)]
    orders = paid_orders(merchant, 450)
    chunks = [orders[start : start + 75] for start in range(0, len(orders), 75)]

    await members[0].start()
    await publish_events(settings, chunks[0])
    await members[1].start()
    await publish_events(settings, chunks[1])
    await members[2].start()
    await publish_events(settings, chunks[2])
    await asyncio.sleep(1.5)
    await members[0].kill()
    await publish_events(settings, chunks[3])
    leaving_code = await members[1].terminate(10)
    await publish_events(settings, chunks[4])
    await members[0].start()
    await publish_events(settings, chunks[5])
    await wait_until(lambda: drained(pool, group, settings.orders_topic, len(orders)), 90)
    codes = [await member.terminate(10) for member in (members[0], members[2])]

    assert leaving_code == 0
    assert codes == [0, 0]
    assert await ledger_entries(pool, merchant) == expected_entries(orders)


async def test_sigterm_abandons_blocked_batch(
    settings: CommonSettings, pool: asyncpg.Pool, merchant: str, unique: str, spawn: Spawn
) -> None:
    group = f"rewarding-{unique}"
    timeout = 4.0
    consumer_settings = rewarding_settings(settings, group, shutdown_timeout_seconds=timeout)
    orders = paid_orders(merchant, 30)
    await publish_events(settings, orders)
    stopped = spawn(consumer_settings, "stopped")
    successor = spawn(consumer_settings, "successor")

    async with offsets_locked(
        settings.database_url, group, settings.orders_topic, settings.orders_topic_partitions
    ):
        await stopped.start()
        await wait_until(lambda: _waiting(pool, 1), 60)
        started = time.monotonic()
        exit_code = await stopped.terminate(timeout + 10)
        elapsed = time.monotonic() - started
    offsets_after_stop = await stored_offsets_total(pool, group, settings.orders_topic)
    entries_after_stop = await ledger_entries(pool, merchant)
    await successor.start()
    await wait_until(lambda: drained(pool, group, settings.orders_topic, len(orders)), 60)
    successor_code = await successor.terminate(10)

    assert exit_code == 0
    assert elapsed < timeout + 1.0, f"stopped after {elapsed:.1f} s"
    assert offsets_after_stop == 0
    assert entries_after_stop == {}
    assert successor_code == 0
    assert await ledger_entries(pool, merchant) == expected_entries(orders)


async def test_rebalance_mid_batch_applies_once(
    settings: CommonSettings, pool: asyncpg.Pool, merchant: str, unique: str, spawn: Spawn
) -> None:
    group = f"rewarding-{unique}"
    # One transaction per batch, so two lock waiters are the two members.
    consumer_settings = rewarding_settings(settings, group, batch_parallelism=1)
    orders = paid_orders(merchant, 60)
    for partition in range(settings.orders_topic_partitions):
        await publish_events(settings, orders[partition::3], partition=partition)
    first = spawn(consumer_settings, "first")
    joining = spawn(consumer_settings, "joining")

    async with offsets_locked(
        settings.database_url, group, settings.orders_topic, settings.orders_topic_partitions
    ):
        await first.start()
        await wait_until(lambda: _waiting(pool, 1), 60)
        # The joining member takes partitions whose batch is still in flight in the first.
        await joining.start()
        await wait_until(lambda: _waiting(pool, 2), 60)
    await wait_until(lambda: drained(pool, group, settings.orders_topic, len(orders)), 60)
    later = paid_orders(merchant, 30, first=1000)
    await publish_events(settings, later)
    await wait_until(
        lambda: drained(pool, group, settings.orders_topic, len(orders) + len(later)), 60
    )
    codes = [await first.terminate(10), await joining.terminate(10)]

    assert codes == [0, 0]
    assert await ledger_entries(pool, merchant) == expected_entries(orders + later)


async def _some_applied(pool: asyncpg.Pool, group: str, topic: str) -> int | None:
    total = await stored_offsets_total(pool, group, topic)
    return total if total > 0 else None


async def _waiting(pool: asyncpg.Pool, count: int) -> bool:
    return await lock_waiters(pool) >= count
