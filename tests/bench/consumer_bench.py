"""Rewarding consumer throughput, topic to committed ledger, against an asyncpg COPY baseline.

Produces 50,000 ``OrderStatusChanged`` events for 5,000 customers onto a fresh
topic. Then starts the rewarding consumer as its own process and measures the
rate at which committed offsets advance in PostgreSQL. Each commit also contains
the events and balances of its batch. The group join is excluded: timing
starts at the first committed batch. The baseline inserts the same number of
rows into a scratch table with COPY in the same run.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaProducer

from schemas.ids import order_status_event_id
from schemas.orders import Amounts, Customer, OrderStatusChanged, PaymentStatus
from services.common.kafka import create_topics
from services.common.settings import CommonSettings
from services.devstack.database import drop_database, recreate_database, with_database
from services.devstack.ports import free_port
from services.devstack.tansu import TANSU_CLIENT_ENVIRONMENT, start_tansu
from services.store import migrate
from services.store.merchants import Merchant, add_merchant

EVENTS = int(os.environ.get("BENCH_EVENTS", "50000"))
# Consumer processes in the group, one run each: one process, then two on two cores.
CONSUMER_COUNTS = [int(n) for n in os.environ.get("BENCH_CONSUMERS", "1,2").split(",")]
CONSUMERS = CONSUMER_COUNTS[0]
CUSTOMERS = int(os.environ.get("BENCH_CUSTOMERS", "5000"))
PARTITIONS = 6
SERVER_URL = os.environ.get(
    "LOYALTY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
MERCHANT_ID = "bench-merchant"
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def build_events() -> list[OrderStatusChanged]:
    """Return EVENTS paid orders spread evenly over CUSTOMERS customers."""
    events = []
    for number in range(EVENTS):
        customer = str(number % CUSTOMERS)
        occurred = T0 + timedelta(seconds=number)
        total = Decimal(10 + number % 90) + Decimal("0.95")
        order_id = str(number)
        events.append(
            OrderStatusChanged(
                event_id=order_status_event_id(
                    source="bench",
                    merchant_id=MERCHANT_ID,
                    order_id=order_id,
                    occurred_at=occurred,
                    payment_status="paid",
                    order_status="processing",
                    total_incl=total,
                ),
                merchant_id=MERCHANT_ID,
                source="bench",
                order_id=order_id,
                order_number=f"B{number}",
                customer=Customer(
                    key=customer, platform_id=customer, email=f"c{customer}@example.com"
                ),
                payment_status=PaymentStatus.PAID,
                order_status="processing",
                amounts=Amounts(
                    currency="EUR",
                    total_incl=total,
                    total_excl=total,
                    shipping_incl=Decimal(0),
                    shipping_excl=Decimal(0),
                ),
                occurred_at=occurred,
                received_at=occurred,
            )
        )
    return events


async def produce(settings: CommonSettings, events: list[OrderStatusChanged]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        acks="all",
        linger_ms=20,
        max_batch_size=256 * 1024,
    )
    await producer.start()
    try:
        pending = [
            await producer.send(
                settings.orders_topic, event.model_dump_json().encode(), key=event.partition_key
            )
            for event in events
        ]
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def committed_offsets(connection: asyncpg.Connection, group_id: str) -> int:
    value = await connection.fetchval(
        "SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets WHERE group_id = $1", group_id
    )
    return int(value)


async def measure_consumer(
    database_url: str, settings: CommonSettings, log_path: Path
) -> tuple[float, int]:
    """Run the consumer process until every event is committed; return (seconds, events timed)."""
    group_id = f"bench-{uuid.uuid4().hex[:8]}"
    environment = {
        **os.environ,
        **TANSU_CLIENT_ENVIRONMENT,
        "LOYALTY_DATABASE_URL": database_url,
        "LOYALTY_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "LOYALTY_ORDERS_TOPIC": settings.orders_topic,
        "LOYALTY_REWARDING_GROUP_ID": group_id,
        "LOYALTY_LOG_LEVEL": "WARNING",
        "LOYALTY_METRICS_PORT": "0",
    }
    connection = await asyncpg.connect(database_url)
    processes = []
    with open(log_path, "ab") as log:
        for _ in range(CONSUMERS):
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "services.rewarding"],
                    env=environment,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
    try:
        deadline = time.monotonic() + 600
        first_count, first_time = 0, 0.0
        while time.monotonic() < deadline:
            count = await committed_offsets(connection, group_id)
            if count and not first_count:
                first_count, first_time = count, time.perf_counter()
            if count >= EVENTS:
                return time.perf_counter() - first_time, EVENTS - first_count
            for process in processes:
                if process.poll() is not None:
                    raise RuntimeError(f"consumer exited with {process.returncode}; see {log_path}")
            await asyncio.sleep(0.02)
        raise TimeoutError("the consumer did not commit every event within 600 s")
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(30)
        await connection.close()


async def measure_copy_baseline(database_url: str, events: list[OrderStatusChanged]) -> float:
    """Return the seconds COPY takes to insert one row per event into a scratch table."""
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(
            "CREATE TABLE copy_baseline (LIKE events INCLUDING DEFAULTS EXCLUDING CONSTRAINTS)"
        )
        rows = [
            (
                f"order:{e.merchant_id}:{e.order_id}",
                1,
                e.event_id,
                e.event_type,
                e.merchant_id,
                e.customer.key,
                e.model_dump_json(),
            )
            for e in events
        ]
        started = time.perf_counter()
        await connection.copy_records_to_table(
            "copy_baseline",
            records=rows,
            columns=[
                "stream_id",
                "stream_version",
                "event_id",
                "event_type",
                "merchant_id",
                "customer_key",
                "data",
            ],
        )
        return time.perf_counter() - started
    finally:
        await connection.close()


async def run(work: Path) -> None:
    broker = start_tansu(free_port(), work / "tansu.log")
    database_url = with_database(SERVER_URL, f"loyalty_bench_{uuid.uuid4().hex[:8]}")
    try:
        await recreate_database(database_url)
        migrate.upgrade(database_url)
        settings = CommonSettings(
            database_url=database_url,
            kafka_bootstrap_servers=broker.bootstrap_servers,
            kafka_idempotence=False,
            orders_topic=f"orders.bench.{uuid.uuid4().hex[:6]}",
            orders_topic_partitions=PARTITIONS,
        )
        await create_topics(settings)
        pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
        await add_merchant(pool, Merchant(MERCHANT_ID, "eu1", 1, "s", "Bench", "EUR"))
        await pool.close()

        events = build_events()
        await produce(settings, events)
        seconds, timed = await measure_consumer(database_url, settings, work / "rewarding.log")
        copy_seconds = await measure_copy_baseline(database_url, events)
    finally:
        broker.stop()
        await drop_database(database_url)

    consumer_rate = timed / seconds
    copy_rate = EVENTS / copy_seconds
    print(
        f"rewarding consumer: {EVENTS} events over {CUSTOMERS} customers, {PARTITIONS} partitions, "
        f"{CONSUMERS} consumer process(es) in one group"
    )
    print(
        f"  consumer, topic to committed ledger: {consumer_rate:10,.0f} events/s "
        f"({timed} events in {seconds:.2f} s, group join excluded)"
    )
    print(
        f"  baseline, asyncpg COPY of {EVENTS} rows: {copy_rate:10,.0f} rows/s ({copy_seconds:.2f} s)"
    )
    print(f"  consumer / COPY: {consumer_rate / copy_rate:.2f}   target: >= 10,000 events/s")


def main() -> None:
    import tempfile

    global CONSUMERS
    for count in CONSUMER_COUNTS:
        CONSUMERS = count
        with tempfile.TemporaryDirectory(prefix="loyalty-bench-") as work:
            asyncio.run(run(Path(work)))


if __name__ == "__main__":
    main()
