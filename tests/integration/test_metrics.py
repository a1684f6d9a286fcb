"""Each pipeline counter moves by what the webhooks and records caused."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from services.common.settings import CommonSettings
from services.devstack.lightspeed_fixtures import (
    Shop,
    order_resource,
    webhook_body,
    webhook_headers,
)
from services.devstack.ports import free_port
from services.rewarding.consumer import RewardingService
from services.telemetry.metrics_server import start_metrics_server
from tests.support.kafka import wait_until
from tests.support.telemetry import CapturedTelemetry

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 3, 14, 5, 11, tzinfo=timezone(timedelta(hours=1)))

WEBHOOK_OUTCOMES = ("accepted", "ignored", "invalid_signature", "unknown_shop")
EVENT_COUNTERS = (
    "consumed",
    "redelivered",
    "applied",
    "duplicate",
    "stale",
    "ignored",
    "dead_lettered",
)


def order(order_id: int, status: str, minutes: int, **customer: Any) -> dict[str, Any]:
    return order_resource(
        order_id=order_id,
        payment_status=status,
        updated_at=T0 + timedelta(minutes=minutes),
        price_incl=Decimal("40.00"),
        **customer,
    )


async def post(
    client: httpx.AsyncClient, shop: Shop, resource: dict[str, Any], event: str = "orders/updated"
) -> int:
    body = webhook_body(resource)
    response = await client.post(
        "/webhooks/lightspeed", content=body, headers=webhook_headers(shop, body, event)
    )
    return response.status_code


def snapshot(telemetry: CapturedTelemetry, topic: str) -> dict[str, float]:
    values = {
        f"webhooks.{outcome}": telemetry.value("loyalty.webhooks.received", outcome=outcome)
        for outcome in WEBHOOK_OUTCOMES
    }
    for name in EVENT_COUNTERS:
        values[f"events.{name}"] = telemetry.value(f"loyalty.events.{name}", topic=topic)
    values["points.earned"] = telemetry.value("loyalty.points.earned")
    values["points.removed"] = telemetry.value("loyalty.points.removed")
    values["batches"] = telemetry.value("loyalty.batch.size", topic=topic)
    values["batch_durations"] = telemetry.value("loyalty.batch.duration", topic=topic, outcome="ok")
    return values


async def test_counters_move_per_outcome(
    telemetry: CapturedTelemetry,
    settings: CommonSettings,
    ingest: httpx.AsyncClient,
    rewarding: RewardingService,
    shop: Shop,
) -> None:
    topic = settings.orders_topic
    before = snapshot(telemetry, topic)
    customer = {"customer_id": 801, "email": "metrics@example.com"}
    guest_without_email = {"customer_id": None, "email": None}
    unknown_shop = Shop(shop_id=shop.shop_id + 1, cluster_id="eu1", secret="other")
    wrong_secret = Shop(shop_id=shop.shop_id, cluster_id="eu1", secret="not-the-secret")

    paid = order(8001, "paid", 0, **customer)
    assert await post(ingest, shop, paid, "orders/paid") == 200
    assert await post(ingest, shop, paid, "orders/paid") == 200
    assert await post(ingest, shop, order(8001, "cancelled", 10, **customer)) == 200
    assert await post(ingest, shop, order(8001, "paid", 5, **customer)) == 200
    assert await post(ingest, shop, order(8002, "paid", 0, **guest_without_email)) == 200
    assert await post(ingest, shop, paid, "customers/updated") == 202
    assert await post(ingest, wrong_secret, paid) == 401
    assert await post(ingest, unknown_shop, paid) == 404
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"not json", key=b"bad")
    finally:
        await producer.stop()

    async def all_consumed() -> bool:
        return (
            telemetry.value("loyalty.events.consumed", topic=topic) - before["events.consumed"] >= 6
        )

    await wait_until(all_consumed, timeout=30)
    after = snapshot(telemetry, topic)
    moved = {name: after[name] - before[name] for name in before}

    assert moved["webhooks.accepted"] == 5
    assert moved["webhooks.ignored"] == 1
    assert moved["webhooks.invalid_signature"] == 1
    assert moved["webhooks.unknown_shop"] == 1
    assert moved["events.consumed"] == 6
    assert moved["events.redelivered"] == 0
    # The paid order, its cancellation and the guest order each change their order's status.
    assert moved["events.applied"] == 3
    assert moved["events.duplicate"] == 1
    assert moved["events.stale"] == 1
    assert moved["events.ignored"] == 1
    assert moved["events.dead_lettered"] == 1
    assert (
        telemetry.value("loyalty.events.dead_lettered", topic=topic, error_type="ValidationError")
        == 1
    )
    assert moved["points.earned"] == 40
    assert moved["points.removed"] == 40
    assert moved["batches"] >= 1
    assert moved["batch_durations"] == moved["batches"]


async def test_consumer_lag_is_zero_when_caught_up(
    telemetry: CapturedTelemetry,
    settings: CommonSettings,
    ingest: httpx.AsyncClient,
    rewarding: RewardingService,
    shop: Shop,
) -> None:
    group = rewarding.settings.rewarding_group_id
    for number in range(3):
        resource = order(8100 + number, "paid", 0, customer_id=810 + number)
        assert await post(ingest, shop, resource, "orders/paid") == 200

    def group_lags() -> dict[str, float]:
        data = telemetry.metrics.get_metrics_data()
        lags: dict[str, float] = {}
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name != "loyalty.consumer.lag":
                        continue
                    for point in metric.data.data_points:
                        attributes = dict(point.attributes or {})
                        if attributes.get("group") == group:
                            lags[str(attributes["partition"])] = getattr(point, "value", -1)
        return lags

    async def caught_up() -> bool:
        consumed = telemetry.value("loyalty.events.consumed", topic=settings.orders_topic)
        lags = group_lags()
        return consumed >= 3 and bool(lags) and not any(lags.values())

    await wait_until(caught_up, timeout=30)
    lags = group_lags()

    assert set(lags) <= {"0", "1", "2"}
    assert all(lag == 0 for lag in lags.values())


async def test_metrics_endpoints_serve_prometheus_text(
    telemetry: CapturedTelemetry,
    settings: CommonSettings,
    ingest: httpx.AsyncClient,
    rewarding: RewardingService,
    shop: Shop,
) -> None:
    assert await post(ingest, shop, order(8201, "paid", 0, customer_id=821), "orders/paid") == 200

    async def consumed() -> bool:
        return telemetry.value("loyalty.events.consumed", topic=settings.orders_topic) >= 1

    await wait_until(consumed, timeout=30)
    server = start_metrics_server("127.0.0.1", free_port())
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            consumer_text = (await client.get(f"http://127.0.0.1:{server.port}/metrics")).text
        ingest_response = await ingest.get("/metrics")
    finally:
        server.stop()

    assert ingest_response.status_code == 200
    assert ingest_response.headers["content-type"].startswith("text/plain")
    assert "loyalty_webhooks_received_total{" in ingest_response.text
    assert f'topic="{settings.orders_topic}"' in consumer_text
    assert "loyalty_events_consumed_total{" in consumer_text
    assert "loyalty_batch_duration_seconds_bucket{" in consumer_text
