"""Rebuilding projections from the event store, and verifying them without writes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import pytest
from typer.testing import CliRunner

from services.cli.main import app
from services.common.db import Connection, create_pool
from services.store.rebuild import checksums, rebuild, verify
from tests.support.history import apply, fresh_database, fresh_pool, load_varied_history
from tests.unit.factories import order_event

pytestmark = pytest.mark.integration


@pytest.fixture
async def history_pool() -> AsyncIterator[asyncpg.Pool]:
    async with fresh_pool() as pool:
        await load_varied_history(pool, "m-a", 1)
        await load_varied_history(pool, "m-b", 2)
        yield pool


@pytest.fixture
async def history_url() -> AsyncIterator[str]:
    """A database with the varied history, for commands that open their own connections."""
    async with fresh_database() as url:
        pool = await create_pool(url, max_size=2)
        try:
            await load_varied_history(pool, "m-a", 1)
        finally:
            await pool.close()
        yield url


async def snapshot(pool: asyncpg.Pool) -> dict[str, list[dict[str, object]]]:
    return {
        table: [dict(row) for row in await pool.fetch(f"SELECT * FROM {table} ORDER BY 1, 2")]  # noqa: S608
        for table in ("balances", "customers", "merchant_settings")
    }


async def test_rebuild_keeps_checksums(history_pool: asyncpg.Pool) -> None:
    live = await snapshot(history_pool)

    async with history_pool.acquire() as connection:
        result = await rebuild(connection, connect=history_pool.acquire)

    assert result.before == result.after
    assert await snapshot(history_pool) == live
    assert [c.table for c in result.after] == ["balances", "customers", "merchant_settings"]
    assert all(c.rows > 0 for c in result.after)


async def test_rebuild_balances_match_decisions(history_pool: asyncpg.Pool) -> None:
    async with history_pool.acquire() as connection:
        await rebuild(connection, connect=history_pool.acquire)

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
        result = await rebuild(connection, connect=history_pool.acquire)

    assert result.before != result.after
    points = await history_pool.fetchval(
        "SELECT points FROM balances WHERE merchant_id = 'm-a' AND customer_key = '502'"
    )
    assert points == 120
    assert (
        await history_pool.fetchval("SELECT count(*) FROM customers WHERE customer_key = '505'")
        == 2
    )


async def test_consumer_batch_waits_for_rebuild(history_url: str) -> None:
    """A batch that starts while the projections are locked commits after the rebuild, on top."""
    # The rebuild, its helper, the batch and the lock polling each take a connection.
    pool = await create_pool(history_url, max_size=4)
    batch = [
        order_event(
            "paid",
            order_id="m-a-9",
            customer_key="502",
            total="50.00",
            minutes=60,
            merchant_id="m-a",
        )
    ]
    batches: list[asyncio.Task[None]] = []
    waiting_sessions: list[int] = []

    @asynccontextmanager
    async def connect_while_batch_waits() -> AsyncIterator[Connection]:
        # rebuild opens the helper after the TRUNCATE, while it holds the projection locks.
        batches.append(asyncio.create_task(apply(pool, batch, group_id="during-rebuild")))
        waiting_sessions.append(await _sessions_waiting_for_lock(pool))
        async with pool.acquire() as helper:
            yield helper

    try:
        async with pool.acquire() as connection:
            result = await rebuild(connection, connect=connect_while_batch_waits)
        await batches[0]
        async with pool.acquire() as connection:
            differences = await verify(connection)
        points = await pool.fetchval(
            "SELECT points FROM balances WHERE merchant_id = 'm-a' AND customer_key = '502'"
        )
        events = await pool.fetchval("SELECT count(*) FROM events")
    finally:
        await pool.close()

    assert waiting_sessions == [1]
    assert result.after == result.before
    assert events > result.events
    assert points > 120
    assert differences == []


async def test_rebuild_rolls_back_on_helper_failure(history_pool: asyncpg.Pool) -> None:
    live = await snapshot(history_pool)

    @asynccontextmanager
    async def failing_connect() -> AsyncIterator[Connection]:
        raise ConnectionRefusedError("helper connection refused")
        yield  # pragma: no cover

    async with history_pool.acquire() as connection:
        with pytest.raises(ConnectionRefusedError, match="helper connection refused"):
            await rebuild(connection, connect=failing_connect)

    assert await snapshot(history_pool) == live


async def _sessions_waiting_for_lock(pool: asyncpg.Pool) -> int:
    """Return how many sessions of the database wait for a lock, polling for up to 10 s."""
    for _ in range(200):
        waiting: int = await pool.fetchval(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        if waiting:
            return waiting
        await asyncio.sleep(0.05)
    return 0


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


def test_cli_verify_exit_status(history_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOYALTY_DATABASE_URL", history_url)
    runner = CliRunner()

    clean = runner.invoke(app, ["verify"])
    asyncio.run(_execute(history_url, "UPDATE balances SET points = points + 1"))
    drifted = runner.invoke(app, ["verify"])
    rebuilt = runner.invoke(app, ["rebuild"])
    after = runner.invoke(app, ["verify"])

    assert clean.exit_code == 0, clean.output
    assert "every projection matches" in clean.output
    assert drifted.exit_code == 1
    assert "balances differs" in " ".join(drifted.output.split())
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "changed balances" in " ".join(rebuilt.output.split())
    assert after.exit_code == 0, after.output


async def _execute(url: str, statement: str) -> None:
    pool = await create_pool(url, max_size=1)
    try:
        await pool.execute(statement)
    finally:
        await pool.close()
