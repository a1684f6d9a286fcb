"""Rebuilding projections from the event store, and verifying them without writes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from services.store.rebuild import checksums, rebuild, verify
from tests.support.history import fresh_pool, load_varied_history

pytestmark = pytest.mark.integration


@pytest.fixture
async def history_pool() -> AsyncIterator[asyncpg.Pool]:
    async with fresh_pool() as pool:
        await load_varied_history(pool, "m-a", 1)
        await load_varied_history(pool, "m-b", 2)
        yield pool


async def snapshot(pool: asyncpg.Pool) -> dict[str, list[dict[str, object]]]:
    return {
        table: [dict(row) for row in await pool.fetch(f"SELECT * FROM {table} ORDER BY 1, 2")]  # noqa: S608
        for table in ("balances", "customers", "merchant_settings")
    }


async def test_rebuild_keeps_checksums(history_pool: asyncpg.Pool) -> None:
    live = await snapshot(history_pool)

    async with history_pool.acquire() as connection:
        result = await rebuild(connection)

    assert result.before == result.after
    assert await snapshot(history_pool) == live
    assert [c.table for c in result.after] == ["balances", "customers", "merchant_settings"]
    assert all(c.rows > 0 for c in result.after)


async def test_rebuild_balances_match_decisions(history_pool: asyncpg.Pool) -> None:
    async with history_pool.acquire() as connection:
        await rebuild(connection)

    rows = await history_pool.fetch(
        "SELECT customer_key, points FROM balances WHERE merchant_id = 'm-a' ORDER BY 1"
    )
    # 501: 42 at rate 1, then 19 at rate 2 on 9.99; 503: 75 removed, 39 at rate 2 on 19.95.
    assert {row["customer_key"]: row["points"] for row in rows} == {
        "501": 42 + 19,
        "502": 120,
        "503": 39,
        "dana@example.com": 60,
    }
    customers = await history_pool.fetch(
        "SELECT customer_key FROM customers WHERE merchant_id = 'm-a' ORDER BY 1"
    )
    assert [row["customer_key"] for row in customers] == [
        "501",
        "502",
        "503",
        "505",
        "dana@example.com",
    ]


async def test_rebuild_repairs_drift(history_pool: asyncpg.Pool) -> None:
    await history_pool.execute("UPDATE balances SET points = points + 7 WHERE customer_key = '502'")
    await history_pool.execute("DELETE FROM customers WHERE customer_key = '505'")

    async with history_pool.acquire() as connection:
        result = await rebuild(connection)

    assert result.before != result.after
    points = await history_pool.fetchval(
        "SELECT points FROM balances WHERE merchant_id = 'm-a' AND customer_key = '502'"
    )
    assert points == 120
    assert (
        await history_pool.fetchval("SELECT count(*) FROM customers WHERE customer_key = '505'")
        == 2
    )


async def test_verify_matches_consistent_projections(history_pool: asyncpg.Pool) -> None:
    async with history_pool.acquire() as connection:
        differences = await verify(connection)

    assert differences == []


async def test_verify_reports_drift_and_writes_nothing(history_pool: asyncpg.Pool) -> None:
    await history_pool.execute(
        "UPDATE balances SET points = points + 7 WHERE merchant_id = 'm-b' AND customer_key = '502'"
    )
    async with history_pool.acquire() as connection, connection.transaction():
        before = await checksums(connection)

    async with history_pool.acquire() as connection:
        differences = await verify(connection)

    async with history_pool.acquire() as connection, connection.transaction():
        after = await checksums(connection)
    assert after == before
    assert [d.table for d in differences] == ["balances"]
    assert differences[0].only_stored == 1
    assert differences[0].only_rebuilt == 1
    assert any("127" in sample for sample in differences[0].samples)


async def test_checksum_ignores_row_order(history_pool: asyncpg.Pool) -> None:
    async with history_pool.acquire() as connection, connection.transaction():
        first = await checksums(connection)
    # Rewriting every row moves it to the end of the heap, so a scan returns a new order.
    await history_pool.execute("UPDATE balances SET points = points")
    await history_pool.execute("UPDATE customers SET email = email")

    async with history_pool.acquire() as connection, connection.transaction():
        second = await checksums(connection)

    assert second == first
