"""The consumer and ingest survive PostgreSQL and the broker going away, with no manual step."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest

from services.common.kafka import create_topics
from services.common.settings import CommonSettings
from services.devstack.chaos.processes import ServiceProcess
from services.devstack.lightspeed_fixtures import (
    Shop,
    order_resource,
    webhook_body,
    webhook_headers,
)
from services.devstack.ports import free_port
from services.devstack.proxy import TcpProxy
from services.devstack.tansu import TANSU_CLIENT_ENVIRONMENT, start_tansu
from services.rewarding.consumer import RewardingService
from tests.support.consumers import consumer_process
from tests.support.kafka import wait_until
from tests.support.pipeline import (
    expected_entries,
    paid_orders,
    publish_events,
    register_merchant,
    rewarding_settings,
)

pytestmark = pytest.mark.integration

OUTAGE_SECONDS = 20.0


def through(url: str, port: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{port}"))


async def query(database_url: str, sql: str, *arguments: object) -> object:
    """Run ``sql`` on a fresh connection, which no fault of the test has touched."""
    connection = await asyncpg.connect(database_url)
    try:
        return await connection.fetchval(sql, *arguments)
    finally:
        await connection.close()


async def entries(database_url: str, merchant_id: str) -> object:
    from collections import Counter

    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            "SELECT data ->> 'order_id', event_type, (data ->> 'points')::int FROM events "
            "WHERE merchant_id = $1 AND event_type IN ('PointsEarned', 'PointsRemoved')",
            merchant_id,
        )
    finally:
        await connection.close()
    return Counter((row[0], row[1], row[2]) for row in rows)


async def applied(database_url: str, group: str, total: int) -> bool:
    value = await query(
        database_url,
        "SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets WHERE group_id = $1",
        group,
    )
    return int(str(value)) >= total


@pytest.fixture
async def merchant(pool: asyncpg.Pool, unique: str) -> str:
    return await register_merchant(pool, f"db-{unique}", int(unique[:6], 16) + 5)


@pytest.fixture
async def proxy(database_url: str) -> AsyncIterator[TcpProxy]:
    parts = urlsplit(database_url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    await proxy.accept()
    yield proxy
    await proxy.close()


async def test_terminated_connections_survived(
    settings: CommonSettings, database_url: str, merchant: str, unique: str
) -> None:
    group = f"rewarding-{unique}"
    service = RewardingService(rewarding_settings(settings, group, batch_max_records=10))
    orders = paid_orders(merchant, 200)
    terminated = 0
    await service.app.start()
    try:
        await publish_events(settings, orders)
        for _ in range(300):
            if await applied(database_url, group, len(orders)):
                break
            terminated += int(
                str(
                    await query(
                        database_url,
                        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) "
                        "FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()",
                    )
                )
            )
            await asyncio.sleep(0.2)
    finally:
        await service.app.stop()

    assert terminated > 0
    assert await applied(database_url, group, len(orders))
    assert await entries(database_url, merchant) == expected_entries(orders)


async def test_database_rejecting_connections_for_20s(
    settings: CommonSettings, database_url: str, merchant: str, unique: str, proxy: TcpProxy
) -> None:
    group = f"rewarding-{unique}"
    proxied = CommonSettings(
        **{**settings.model_dump(), "database_url": through(database_url, proxy.port)}
    )
    service = RewardingService(rewarding_settings(proxied, group))
    before = paid_orders(merchant, 20)
    during = paid_orders(merchant, 20, first=100)
    await service.app.start()
    try:
        await publish_events(settings, before)
        await wait_until(lambda: applied(database_url, group, len(before)), 30)

        await proxy.reject()
        await publish_events(settings, during)
        await asyncio.sleep(OUTAGE_SECONDS)
        applied_during_outage = await applied(database_url, group, len(before) + 1)
        await proxy.accept()
        await wait_until(lambda: applied(database_url, group, len(before) + len(during)), 60)
    finally:
        await service.app.stop()

    assert not applied_during_outage
    assert await entries(database_url, merchant) == expected_entries(before + during)


async def test_broker_unreachable_at_start(
    database_url: str, pool: asyncpg.Pool, unique: str, tmp_path: Path
) -> None:
    port = free_port()
    http_port = free_port()
    shop = Shop(shop_id=int(unique[:6], 16) + 9, cluster_id="eu1", secret=f"s-{unique}")
    merchant_id = await register_merchant(pool, f"ls-eu1-{shop.shop_id}", shop.shop_id)
    await pool.execute(
        "UPDATE merchants SET webhook_secret = $1 WHERE merchant_id = $2", shop.secret, merchant_id
    )
    settings = CommonSettings(
        database_url=database_url,
        kafka_bootstrap_servers=f"127.0.0.1:{port}",
        kafka_idempotence=False,
        orders_topic=f"orders.status-changed.v1.{unique}",
        orders_topic_partitions=3,
    )
    group = f"rewarding-{unique}"
    consumer = consumer_process(rewarding_settings(settings, group), "consumer", tmp_path)
    ingest = ServiceProcess(
        "ingest",
        "services.ingest",
        {
            **TANSU_CLIENT_ENVIRONMENT,
            "LOYALTY_DATABASE_URL": database_url,
            "LOYALTY_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            "LOYALTY_ORDERS_TOPIC": settings.orders_topic,
            "LOYALTY_HTTP_PORT": str(http_port),
            "LOYALTY_PUBLISH_TIMEOUT_SECONDS": "2",
        },
        tmp_path,
    )
    await consumer.start()
    await ingest.start()
    broker = None
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{http_port}", timeout=10
        ) as client:
            before = await wait_until(lambda: _readiness(client), 60)
            await asyncio.sleep(3)  # the consumer keeps retrying meanwhile
            consumer_alive_without_broker = consumer.running

            broker = start_tansu(port, tmp_path / "tansu.log")
            await create_topics(settings)
            after = await wait_until(lambda: _readiness(client, ready=True), 60)
            body = webhook_body(
                order_resource(
                    order_id=77,
                    payment_status="paid",
                    updated_at=datetime(2026, 11, 3, 10, tzinfo=UTC),
                    price_incl=Decimal("31.40"),
                    customer_id=808,
                )
            )
            response = await client.post(
                "/webhooks/lightspeed", content=body, headers=webhook_headers(shop, body)
            )
            await wait_until(lambda: applied(database_url, group, 1), 60)
        points = await query(
            database_url,
            "SELECT points FROM balances WHERE merchant_id = $1 AND customer_key = '808'",
            merchant_id,
        )
        consumer_code = await consumer.terminate(10)
    finally:
        await consumer.kill()
        await ingest.terminate(10)
        if broker is not None:
            broker.stop()

    assert before == {"database": True, "broker": False}
    assert consumer_alive_without_broker
    assert after == {"database": True, "broker": True}
    assert response.status_code == 200, response.text
    assert points == 31
    assert consumer.starts == 1
    assert consumer_code == 0


async def _readiness(client: httpx.AsyncClient, ready: bool = False) -> dict[str, bool] | None:
    try:
        response = await client.get("/readyz")
    except httpx.TransportError:
        return None
    if (response.status_code == 200) != ready:
        return None
    body: dict[str, bool] = response.json()
    return body


async def test_sigterm_while_waiting_for_broker(
    database_url: str, unique: str, tmp_path: Path
) -> None:
    settings = CommonSettings(
        database_url=database_url,
        kafka_bootstrap_servers=f"127.0.0.1:{free_port()}",
        kafka_idempotence=False,
    )
    timeout = 3.0
    consumer = consumer_process(
        rewarding_settings(settings, f"rewarding-{unique}", shutdown_timeout_seconds=timeout),
        "consumer",
        tmp_path,
    )
    await consumer.start()
    try:
        await wait_until(lambda: _logged(consumer.log_path, "start failed"), 30)

        started = time.monotonic()
        exit_code = await consumer.terminate(timeout + 10)
        elapsed = time.monotonic() - started
    finally:
        await consumer.kill()

    assert exit_code == 0
    assert elapsed < timeout + 1.0, f"stopped after {elapsed:.1f} s"


async def _logged(path: Path, text: str) -> bool:
    content = await asyncio.to_thread(lambda: path.read_text() if path.exists() else "")
    return text in content
