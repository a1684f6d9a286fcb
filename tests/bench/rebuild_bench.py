"""Projection rebuild throughput against a raw scan of the same ``events`` table.

Creates its own database, loads 1,000,000 events shaped as the consumer writes
them with COPY, then times a plain ``SELECT`` over every row (the baseline) and
``rebuild`` (the same code as ``loyalty rebuild``), best of ``RUNS`` each.
Target: at least 500,000 events/s.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from services.common.db import create_pool
from services.devstack.database import drop_database, recreate_database, with_database
from services.store import migrate
from services.store.event_store import decode_event
from services.store.rebuild import RebuildResult, rebuild

SERVER_URL = os.environ.get(
    "LOYALTY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
EVENTS = 1_000_000
TARGET_EVENTS_PER_SECOND = 500_000
RUNS = 5
MERCHANTS = 5
CUSTOMERS_PER_MERCHANT = 20_000
T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
COLUMNS = (
    "stream_id",
    "stream_version",
    "event_id",
    "event_type",
    "merchant_id",
    "customer_key",
    "data",
    "metadata",
)


def _order(
    merchant: str, order: int, customer: str | None, status: str, at: datetime
) -> dict[str, Any]:
    return {
        "event_type": "OrderStatusChanged",
        "schema_version": 1,
        "event_id": str(uuid.uuid4()),
        "merchant_id": merchant,
        "source": "lightspeed-ecom",
        "order_id": str(order),
        "order_number": f"ORD{order:07d}",
        "customer": {
            "key": customer,
            "platform_id": customer,
            "email": f"c{customer}@example.com" if customer else None,
            "first_name": "Sam",
            "last_name": "Jansen",
            "language": "nl",
        },
        "payment_status": status,
        "order_status": "processing_awaiting_shipment",
        "amounts": {
            "currency": "EUR",
            "total_incl": "42.50",
            "total_excl": "35.12",
            "shipping_incl": "4.95",
            "shipping_excl": "4.09",
        },
        "occurred_at": at.isoformat(),
        "received_at": at.isoformat(),
    }


def _points(kind: str, order: dict[str, Any], points: int, award_id: str | None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "schema_version": 1,
        "event_id": str(uuid.uuid4()),
        "merchant_id": order["merchant_id"],
        "customer_key": order["customer"]["key"],
        "order_id": order["order_id"],
        "order_number": order["order_number"],
        "points": points,
        "reason": f"payment status became {order['payment_status']}",
        "rule_version": 1,
        "source_event_id": order["event_id"],
        "occurred_at": order["occurred_at"],
        "event_type": kind,
    }
    if kind == "PointsEarned":
        data.update(rate="1", basis_amount="42.50", currency="EUR")
    else:
        data["award_event_id"] = award_id
    return data


def generate_events(
    count: int,
) -> Iterator[tuple[str, int, str, str, str, str | None, dict[str, Any]]]:
    """Yield ``count`` events: paid orders with awards, some cancelled, some unpaid or guest."""
    produced = 0
    order = 0
    while produced < count:
        order += 1
        merchant = f"bench-{order % MERCHANTS}"
        customer = None if order % 50 == 0 else str(order // MERCHANTS % CUSTOMERS_PER_MERCHANT)
        stream = f"order:{merchant}:{order}"
        at = T0 + timedelta(seconds=order)
        paid = _order(merchant, order, customer, "not_paid" if order % 20 == 0 else "paid", at)
        stream_events: list[tuple[str, dict[str, Any]]] = [
            (
                "OrderStatusApplied",
                {
                    "event_type": "OrderStatusApplied",
                    "event_id": str(uuid.uuid4()),
                    "order": paid,
                    "rule_version": 1,
                },
            )
        ]
        if customer is None:
            reason = "order has neither a customer id nor an email"
            stream_events.append(
                (
                    "OrderEventIgnored",
                    {
                        "event_type": "OrderEventIgnored",
                        "event_id": str(uuid.uuid4()),
                        "order": paid,
                        "reason": reason,
                    },
                )
            )
        elif paid["payment_status"] == "paid":
            award = _points("PointsEarned", paid, 42, None)
            stream_events.append(("PointsEarned", award))
            if order % 10 == 0:
                cancelled = _order(merchant, order, customer, "cancelled", at + timedelta(hours=1))
                stream_events.append(
                    (
                        "OrderStatusApplied",
                        {
                            "event_type": "OrderStatusApplied",
                            "event_id": str(uuid.uuid4()),
                            "order": cancelled,
                            "rule_version": 1,
                        },
                    )
                )
                stream_events.append(
                    ("PointsRemoved", _points("PointsRemoved", cancelled, 42, award["event_id"]))
                )
        for version, (event_type, data) in enumerate(stream_events, start=1):
            if produced == count:
                return
            produced += 1
            yield stream, version, data["event_id"], event_type, merchant, customer, data


def _copy_line(event: tuple[str, int, str, str, str, str | None, dict[str, Any]]) -> bytes:
    stream, version, event_id, event_type, merchant, customer, data = event
    # COPY text format: backslash is the escape character, \N is NULL.
    payload = json.dumps(data, separators=(",", ":")).replace("\\", "\\\\")
    fields = [
        stream,
        str(version),
        event_id,
        event_type,
        merchant,
        customer or "\\N",
        payload,
        "{}",
    ]
    return ("\t".join(fields) + "\n").encode()


async def _copy_source(count: int) -> AsyncIterator[bytes]:
    chunk: list[bytes] = []
    for event in generate_events(count):
        chunk.append(_copy_line(event))
        if len(chunk) == 10_000:
            yield b"".join(chunk)
            chunk.clear()
    if chunk:
        yield b"".join(chunk)


def _check_shapes() -> None:
    """Fail early when the generated data no longer decodes as the real event models."""
    seen: set[str] = set()
    for _, _, _, event_type, _, _, data in generate_events(200):
        if event_type not in seen:
            decode_event(event_type, data)
            seen.add(event_type)


async def load(url: str, count: int) -> float:
    started = time.perf_counter()
    connection = await asyncpg.connect(url)
    try:
        await connection.copy_to_table("events", source=_copy_source(count), columns=COLUMNS)
        await connection.execute("VACUUM (FREEZE, ANALYZE) events")
    finally:
        await connection.close()
    return time.perf_counter() - started


async def time_scan(pool: asyncpg.Pool) -> float:
    """Return the best time of a plain scan that reads every row the rebuild reads."""
    best = float("inf")
    for _ in range(RUNS):
        started = time.perf_counter()
        await pool.fetchrow(
            "SELECT count(*), sum(length(event_type)), sum(pg_column_size(data)) FROM events"
        )
        best = min(best, time.perf_counter() - started)
    return best


async def time_rebuild(pool: asyncpg.Pool) -> tuple[RebuildResult, bool]:
    """Return the fastest rebuild of ``RUNS`` and whether every one kept the checksums."""
    best: RebuildResult | None = None
    unchanged = True
    for run in range(RUNS + 1):
        async with pool.acquire() as connection:
            result = await rebuild(connection, connect=pool.acquire)
        # The first run fills empty projections; later runs must leave them as they were.
        if run == 0:
            continue
        unchanged = unchanged and result.unchanged
        if best is None or result.rebuild_seconds < best.rebuild_seconds:
            best = result
    assert best is not None
    return best, unchanged


async def run() -> bool:
    _check_shapes()
    url = with_database(SERVER_URL, f"loyalty_bench_{uuid.uuid4().hex[:12]}")
    await recreate_database(url)
    try:
        await asyncio.to_thread(migrate.upgrade, url)
        load_seconds = await load(url, EVENTS)
        pool = await create_pool(url, max_size=2)
        try:
            load_before = os.getloadavg()[0]
            scan = await time_scan(pool)
            result, unchanged = await time_rebuild(pool)
            load_after = os.getloadavg()[0]
        finally:
            await pool.close()
    finally:
        await drop_database(url)

    rebuilt = result.rebuild_seconds
    scan_rate, rebuild_rate = EVENTS / scan, EVENTS / rebuilt
    print(f"rebuild benchmark: {EVENTS:,} events (loaded with COPY in {load_seconds:.1f} s)")
    print(f"  raw SELECT scan : {scan:6.3f} s  {scan_rate:12,.0f} events/s")
    print(f"  rebuild         : {rebuilt:6.3f} s  {rebuild_rate:12,.0f} events/s")
    for table, seconds in result.seconds.items():
        print(f"    {table:<18}{seconds:6.3f} s")
    print(f"  with checksums before and after: {result.total_seconds:6.3f} s")
    print(f"  rebuild / scan  : {rebuild_rate / scan_rate:.2f}")
    print(f"  checksums equal before and after: {unchanged}")
    # Other processes on the machine slow the rebuild down; the load average shows how much.
    print(
        f"  {os.cpu_count()} CPUs, 1-minute load average {load_before:.1f} before the timed "
        f"runs and {load_after:.1f} after"
    )
    passed = rebuild_rate >= TARGET_EVENTS_PER_SECOND and unchanged
    verdict = "met" if passed else "NOT met"
    print(f"  target {TARGET_EVENTS_PER_SECOND:,} events/s: {verdict}")
    return passed


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
