"""The event store: append-only, optimistic concurrency, exactly-once batches."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from services.rewarding.processor import BatchProcessor
from services.rewarding.records import DeadLetter, InboundRecord
from services.rewarding.rules_source import DefaultRulesSource
from services.store.event_store import ConcurrencyError, NewEvent, append, load_streams
from services.store.merchants import Merchant, add_merchant
from tests.unit.factories import order_event

pytestmark = pytest.mark.integration


@pytest.fixture
async def merchant_id(pool: asyncpg.Pool, unique: str) -> str:
    merchant = Merchant(f"m-{unique}", "eu1", int(unique[:7], 16) + 7, "s", "Shop", "EUR")
    await add_merchant(pool, merchant)
    return merchant.merchant_id


def record(
    event_json: bytes, offset: int, partition: int = 0, topic: str = "orders"
) -> InboundRecord:
    return InboundRecord(
        topic=topic, partition=partition, offset=offset, key=b"k", value=event_json
    )


class CollectingSink:
    def __init__(self) -> None:
        self.letters: list[DeadLetter] = []

    async def __call__(self, letters: list[DeadLetter]) -> None:  # type: ignore[override]
        self.letters.extend(letters)


async def test_update_and_delete_rejected(pool: asyncpg.Pool, merchant_id: str) -> None:
    stream = f"order:{merchant_id}:1"
    event = order_event(merchant_id=merchant_id)
    from services.rewarding.decider import decide
    from services.rewarding.rules import DEFAULT_RULES
    from services.rewarding.state import OrderState

    decided = decide(OrderState(), event, DEFAULT_RULES)
    async with pool.acquire() as connection:
        await append(
            connection,
            [NewEvent(stream, i + 1, merchant_id, "501", e) for i, e in enumerate(decided)],
        )

        with pytest.raises(asyncpg.RestrictViolationError, match="append-only"):
            await connection.execute("UPDATE events SET data = '{}' WHERE stream_id = $1", stream)
        with pytest.raises(asyncpg.RestrictViolationError, match="append-only"):
            await connection.execute("DELETE FROM events WHERE stream_id = $1", stream)
        with pytest.raises(asyncpg.RestrictViolationError, match="append-only"):
            await connection.execute("TRUNCATE events")

        streams = await load_streams(connection, [stream])
    assert len(streams[stream]) == len(decided)


async def test_taken_stream_version_raises_concurrency_error(
    pool: asyncpg.Pool, merchant_id: str
) -> None:
    from services.rewarding.decider import decide
    from services.rewarding.rules import DEFAULT_RULES
    from services.rewarding.state import OrderState

    stream = f"order:{merchant_id}:2"
    first = decide(
        OrderState(), order_event("paid", order_id="2", merchant_id=merchant_id), DEFAULT_RULES
    )
    second = decide(
        OrderState(), order_event("not_paid", order_id="2", merchant_id=merchant_id), DEFAULT_RULES
    )
    async with pool.acquire() as connection:
        await append(connection, [NewEvent(stream, 1, merchant_id, "501", first[0])])
        with pytest.raises(ConcurrencyError):
            await append(connection, [NewEvent(stream, 1, merchant_id, "501", second[0])])


async def test_redelivered_batch_changes_nothing(
    pool: asyncpg.Pool, merchant_id: str, unique: str
) -> None:
    sink = CollectingSink()
    processor = BatchProcessor(pool, f"group-{unique}", DefaultRulesSource(), sink)
    paid = order_event("paid", order_id="3", merchant_id=merchant_id, customer_key=f"c-{unique}")
    batch = [record(paid.model_dump_json().encode(), offset=0, topic=f"t-{unique}")]

    first = await processor.process(batch)
    second = await processor.process(batch)

    assert first.points_earned == 42
    assert second.redelivered == 1
    assert second.events_appended == 0
    balance = await pool.fetchval(
        "SELECT points FROM balances WHERE merchant_id = $1 AND customer_key = $2",
        merchant_id,
        f"c-{unique}",
    )
    assert balance == 42


async def test_invalid_record_dead_lettered_and_batch_applied(
    pool: asyncpg.Pool, merchant_id: str, unique: str
) -> None:
    sink = CollectingSink()
    processor = BatchProcessor(pool, f"group-{unique}", DefaultRulesSource(), sink)
    paid = order_event("paid", order_id="4", merchant_id=merchant_id, customer_key=f"c-{unique}")
    unknown = order_event("paid", order_id="5", merchant_id=f"ghost-{unique}")
    topic = f"t-{unique}"
    batch = [
        record(b"not json", offset=0, topic=topic),
        record(paid.model_dump_json().encode(), offset=1, topic=topic),
        record(unknown.model_dump_json().encode(), offset=2, topic=topic),
    ]

    outcome = await processor.process(batch)

    assert outcome.points_earned == 42
    assert [letter.error_type for letter in sink.letters] == ["ValidationError", "UnknownMerchant"]
    assert [letter.record.offset for letter in sink.letters] == [0, 2]
    assert f"ghost-{unique}" in sink.letters[1].reason
    assert outcome.next_offsets == {(topic, 0): 3}


async def test_failed_dead_letter_publish_rolls_back(
    pool: asyncpg.Pool, merchant_id: str, unique: str
) -> None:
    async def failing_sink(letters: list[DeadLetter]) -> None:
        raise ConnectionError("broker down")

    processor = BatchProcessor(pool, f"group-{unique}", DefaultRulesSource(), failing_sink)
    paid = order_event("paid", order_id="6", merchant_id=merchant_id, customer_key=f"c-{unique}")
    batch = [
        record(paid.model_dump_json().encode(), 0, topic=f"t-{unique}"),
        record(b"{}", 1, topic=f"t-{unique}"),
    ]

    with pytest.raises(ConnectionError):
        await processor.process(batch)

    count = await pool.fetchval(
        "SELECT count(*) FROM events WHERE merchant_id = $1 AND customer_key = $2",
        merchant_id,
        f"c-{unique}",
    )
    stored = await pool.fetchval(
        "SELECT next_offset FROM consumer_offsets WHERE group_id = $1", f"group-{unique}"
    )
    assert count == 0
    assert stored is None


async def test_event_ids_unique_across_streams(pool: asyncpg.Pool, merchant_id: str) -> None:
    event = order_event("not_paid", order_id="7", merchant_id=merchant_id)
    from services.rewarding.decider import decide
    from services.rewarding.rules import DEFAULT_RULES
    from services.rewarding.state import OrderState

    applied = decide(OrderState(), event, DEFAULT_RULES)[0]
    async with pool.acquire() as connection:
        await append(
            connection, [NewEvent(f"order:{merchant_id}:7", 1, merchant_id, None, applied)]
        )
        with pytest.raises(ConcurrencyError):
            await append(
                connection,
                [
                    NewEvent(
                        f"order:{merchant_id}:other-{uuid.uuid4()}", 1, merchant_id, None, applied
                    )
                ],
            )


async def test_concurrent_groups_apply_each_record_once(
    pool: asyncpg.Pool, merchant_id: str, unique: str
) -> None:
    sink = CollectingSink()
    processor = BatchProcessor(pool, f"group-{unique}", DefaultRulesSource(), sink)
    topic = f"t-{unique}"
    records = [
        record(
            order_event(
                "paid",
                order_id=f"p{n}",
                merchant_id=merchant_id,
                customer_key=f"c-{unique}-{n % 3}",
            )
            .model_dump_json()
            .encode(),
            offset=n // 4,
            partition=n % 4,
            topic=topic,
        )
        for n in range(40)
    ]

    first = await processor.process_concurrently(records, parallelism=3)
    again = await processor.process_concurrently(records, parallelism=3)

    assert first.consumed == 40
    assert first.points_earned == 40 * 42
    assert again.redelivered == 40
    assert again.events_appended == 0
    total = await pool.fetchval(
        "SELECT sum(points) FROM balances WHERE merchant_id = $1", merchant_id
    )
    assert total == 40 * 42
    offsets = await pool.fetch(
        "SELECT partition, next_offset FROM consumer_offsets WHERE group_id = $1 ORDER BY partition",
        f"group-{unique}",
    )
    assert [(row["partition"], row["next_offset"]) for row in offsets] == [
        (0, 10),
        (1, 10),
        (2, 10),
        (3, 10),
    ]
