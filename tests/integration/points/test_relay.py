"""The relay: every committed points event reaches the topic once, in order per customer."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest

from schemas.points import PointsEarned, PointsRemoved
from schemas.points_message import PointsMessage
from services.common.kafka import create_topics
from services.common.settings import CommonSettings
from services.devstack.ports import free_port
from services.devstack.tansu import TansuBroker, start_tansu
from services.relay.reader import START, load_checkpoint
from services.relay.settings import RelaySettings
from services.store.event_store import NewEvent, append
from tests.integration.points.conftest import RunningRelay, Shop
from tests.support.kafka import read_topic

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
WRITERS = 6
TRANSACTIONS_PER_WRITER = 12
CUSTOMERS = 4


def earned(merchant_id: str, customer: str, points: int) -> PointsEarned:
    order_id = uuid.uuid4().hex[:8]
    return PointsEarned(
        event_id=uuid.uuid4(),
        merchant_id=merchant_id,
        customer_key=customer,
        order_id=order_id,
        order_number=f"ORD{order_id}",
        points=points,
        reason="payment status became paid",
        rule_version=1,
        source_event_id=uuid.uuid4(),
        occurred_at=NOW,
        rate=Decimal(1),
        basis_amount=Decimal(points),
        currency="EUR",
    )


def removed(award: PointsEarned) -> PointsRemoved:
    return PointsRemoved(
        event_id=uuid.uuid4(),
        merchant_id=award.merchant_id,
        customer_key=award.customer_key,
        order_id=award.order_id,
        order_number=award.order_number,
        points=award.points,
        reason="payment status became cancelled",
        rule_version=1,
        source_event_id=uuid.uuid4(),
        occurred_at=NOW,
        award_event_id=award.event_id,
    )


async def write_concurrently(
    pool: asyncpg.Pool, merchant_id: str, seed: int
) -> tuple[list[PointsEarned | PointsRemoved], int]:
    """Append points events from several connections at once; some transactions roll back.

    Each transaction sleeps between taking its position and committing, so
    positions commit out of order. Returns the committed events and the number
    of rolled-back transactions.
    """
    committed: list[PointsEarned | PointsRemoved] = []
    rolled_back = 0
    generator = random.Random(seed)

    async def writer(number: int) -> None:
        nonlocal rolled_back
        for index in range(TRANSACTIONS_PER_WRITER):
            customer = f"c{generator.randrange(CUSTOMERS)}"
            award = earned(merchant_id, customer, generator.randrange(1, 100))
            events: list[PointsEarned | PointsRemoved] = [award]
            if generator.random() < 0.3:
                events.append(removed(award))
            stream = f"order:{merchant_id}:{award.order_id}"
            new_events = [
                NewEvent(stream, version, merchant_id, customer, event)
                for version, event in enumerate(events, start=1)
            ]
            abort = index % 5 == number % 5
            async with pool.acquire() as connection:
                transaction = connection.transaction()
                await transaction.start()
                await append(connection, new_events)
                await asyncio.sleep(generator.random() * 0.05)
                if abort:
                    await transaction.rollback()
                    rolled_back += 1
                else:
                    await transaction.commit()
                    committed.extend(events)

    await asyncio.gather(*(writer(number) for number in range(WRITERS)))
    return committed, rolled_back


async def test_concurrent_writers_nothing_skipped(
    merchant: Shop,
    own_pool: asyncpg.Pool,
    relay_settings: RelaySettings,
    settings: CommonSettings,
) -> None:
    relay = RunningRelay(relay_settings)
    await relay.start()
    writing = asyncio.create_task(write_concurrently(own_pool, merchant.merchant_id, seed=7))
    await asyncio.sleep(0.5)
    await relay.stop()  # a restart in the middle resumes from the stored checkpoint
    await merchant.configure(earned_email_enabled=True)  # a non-points row in between
    await relay.start()
    try:
        committed, rolled_back = await writing
        records = await read_topic(
            settings.kafka_bootstrap_servers,
            settings.points_topic,
            until_count=len(committed),
            timeout=30,
        )
    finally:
        await relay.stop()

    messages = [PointsMessage.model_validate_json(record.value) for record in records]
    published_ids = [message.event.event_id for message in messages]
    assert rolled_back > 0
    assert len(published_ids) == len(set(published_ids))
    assert set(published_ids) == {event.event_id for event in committed}

    store_order = await own_pool.fetch(
        """
        SELECT customer_key, event_id FROM events
        WHERE event_type IN ('PointsEarned', 'PointsRemoved')
        ORDER BY tx_id, position
        """
    )
    expected: dict[str, list[uuid.UUID]] = defaultdict(list)
    for row in store_order:
        expected[row["customer_key"]].append(row["event_id"])
    by_partition = sorted(records, key=lambda record: (record.partition, record.offset))
    received: dict[str, list[PointsMessage]] = defaultdict(list)
    for record in by_partition:
        message = PointsMessage.model_validate_json(record.value)
        received[message.event.customer_key].append(message)
        assert record.key == f"{merchant.merchant_id}:{message.event.customer_key}".encode()
    for customer, sequence in received.items():
        assert [message.event.event_id for message in sequence] == expected[customer]
        running = 0
        for message in sequence:
            running += message.event.signed_points
            assert message.balance_after == running
        balance = await own_pool.fetchval(
            "SELECT points FROM balances WHERE merchant_id = $1 AND customer_key = $2",
            merchant.merchant_id,
            customer,
        )
        assert balance in (None, running)


async def test_relay_headers_and_checkpoint(
    merchant: Shop,
    own_pool: asyncpg.Pool,
    relay: RunningRelay,
    settings: CommonSettings,
) -> None:
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    award = earned(merchant.merchant_id, "900", 12)
    async with own_pool.acquire() as connection:
        await merchant.configure(earned_email_delay_seconds=0)
        await append(
            connection,
            [
                NewEvent(
                    f"order:{merchant.merchant_id}:{award.order_id}",
                    1,
                    merchant.merchant_id,
                    "900",
                    award,
                    metadata={"traceparent": traceparent},
                )
            ],
        )

    [record] = await read_topic(
        settings.kafka_bootstrap_servers, settings.points_topic, until_count=1, timeout=15
    )

    headers = dict(record.headers)
    assert headers["traceparent"] == traceparent.encode()
    assert headers["event-type"] == b"PointsEarned"
    assert headers["event-id"] == str(award.event_id).encode()
    body = json.loads(record.value)
    assert body["balance_after"] == 12
    assert body["event"] == award.model_dump(mode="json")
    position = await own_pool.fetchval(
        "SELECT position FROM events WHERE event_id = $1", award.event_id
    )
    assert body["position"] == position
    async with own_pool.acquire() as connection:
        checkpoint = await load_checkpoint(connection, relay.settings.relay_name)
    assert checkpoint.position >= position


async def test_broker_down_keeps_checkpoint(
    merchant: Shop,
    own_pool: asyncpg.Pool,
    relay_settings: RelaySettings,
    settings: CommonSettings,
    tmp_path: Path,
) -> None:
    port = free_port()
    down_settings = relay_settings.model_copy(
        update={"kafka_bootstrap_servers": f"127.0.0.1:{port}", "kafka_request_timeout_ms": 2000}
    )
    award = earned(merchant.merchant_id, "700", 9)
    async with own_pool.acquire() as connection:
        await append(connection, [NewEvent("order:x:700", 1, merchant.merchant_id, "700", award)])
    relay = RunningRelay(down_settings, start_publisher=False)
    await relay.start()
    broker: TansuBroker | None = None
    try:
        await asyncio.sleep(2.0)
        async with own_pool.acquire() as connection:
            while_down = await load_checkpoint(connection, down_settings.relay_name)
        broker = start_tansu(port, tmp_path / "tansu.log")
        await create_topics(down_settings)
        records = await read_topic(
            down_settings.kafka_bootstrap_servers,
            down_settings.points_topic,
            until_count=1,
            timeout=30,
        )
    finally:
        await relay.stop()
        if broker is not None:
            broker.stop()

    assert while_down == START
    assert [PointsMessage.model_validate_json(r.value).event for r in records] == [award]


async def test_open_transaction_elsewhere_does_not_stall(
    merchant: Shop,
    own_pool: asyncpg.Pool,
    relay: RunningRelay,
    settings: CommonSettings,
    database_url: str,
) -> None:
    # A writing transaction in another database of the same server stays open.
    elsewhere = await asyncpg.connect(database_url)
    transaction = elsewhere.transaction()
    await transaction.start()
    await elsewhere.fetchval("SELECT pg_current_xact_id()")
    try:
        award = earned(merchant.merchant_id, "800", 5)
        async with own_pool.acquire() as connection:
            await append(
                connection, [NewEvent("order:x:800", 1, merchant.merchant_id, "800", award)]
            )

        records = await read_topic(
            settings.kafka_bootstrap_servers, settings.points_topic, until_count=1, timeout=15
        )
    finally:
        await transaction.rollback()
        await elsewhere.close()

    assert [PointsMessage.model_validate_json(r.value).event for r in records] == [award]


async def test_open_transaction_here_holds_later_rows(
    merchant: Shop,
    own_pool: asyncpg.Pool,
    relay: RunningRelay,
    settings: CommonSettings,
) -> None:
    early = earned(merchant.merchant_id, "810", 3)
    late = earned(merchant.merchant_id, "811", 4)
    async with own_pool.acquire() as slow, own_pool.acquire() as fast:
        slow_transaction = slow.transaction()
        await slow_transaction.start()
        await append(slow, [NewEvent("order:x:810", 1, merchant.merchant_id, "810", early)])
        await append(fast, [NewEvent("order:x:811", 1, merchant.merchant_id, "811", late)])

        while_open = await read_topic(
            settings.kafka_bootstrap_servers, settings.points_topic, timeout=2
        )
        await slow_transaction.commit()

    records = await read_topic(
        settings.kafka_bootstrap_servers, settings.points_topic, until_count=2, timeout=15
    )

    assert while_open == []
    assert [PointsMessage.model_validate_json(r.value).event for r in records] == [early, late]
