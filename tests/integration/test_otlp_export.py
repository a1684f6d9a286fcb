"""OTLP export switches on with LOYALTY_OTLP_ENDPOINT, and exported spans hold no email."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from services.common.settings import CommonSettings
from services.devstack.lightspeed_fixtures import Shop, order_resource, webhook_body
from services.devstack.ports import free_port, wait_for_port
from services.devstack.tansu import TANSU_CLIENT_ENVIRONMENT
from services.ingest.lightspeed import load_json, normalize_order, parse_order
from tests.conftest import merchant_id_of
from tests.support.dashboard import sample_value
from tests.support.kafka import wait_until
from tests.support.otlp import otlp_receiver

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 3, 14, 5, 11, tzinfo=timezone(timedelta(hours=1)))
POINTS_ROUTE = "GET /merchants/{merchant_id}/customers/{customer_key}/points"


def test_ingest_exports_by_otlp(tmp_path: Path, database_url: str) -> None:
    http_port = free_port()
    log_path = tmp_path / "ingest.log"

    with otlp_receiver() as receiver:
        environment = {
            **os.environ,
            "LOYALTY_DATABASE_URL": database_url,
            "LOYALTY_HTTP_PORT": str(http_port),
            "LOYALTY_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
            "LOYALTY_OTLP_ENDPOINT": receiver.url,
            "LOYALTY_OTLP_EXPORT_INTERVAL_MS": "1000",
            "LOYALTY_SERVICE_NAME": "ingest-otlp-test",
        }
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "services.ingest"],
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_for_port(http_port, 30)
            response = httpx.get(
                f"http://127.0.0.1:{http_port}/merchants/ls-eu1-1/customers/dana@example.com/points",
                timeout=10,
            )
            deadline = time.monotonic() + 20
            while receiver.count("/v1/metrics") == 0 and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            process.terminate()
            process.wait(timeout=20)
        traces = receiver.traces()
        metrics = receiver.metrics()

    assert response.status_code == 404
    assert "ingest stopped" in log_path.read_text()
    spans = [
        (resource.resource, span)
        for request in traces
        for resource in request.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    ]
    routes = [(resource, span) for resource, span in spans if span.name == POINTS_ROUTE]
    assert len(routes) == 1
    resource, _ = routes[0]
    service_names = [a.value.string_value for a in resource.attributes if a.key == "service.name"]
    assert service_names == ["ingest-otlp-test"]
    assert all(
        "dana@example.com" not in attribute.value.string_value
        for _, span in spans
        for attribute in span.attributes
    )
    metric_names = {
        metric.name
        for request in metrics
        for resource_metrics in request.resource_metrics
        for scope in resource_metrics.scope_metrics
        for metric in scope.metrics
    }
    assert "loyalty.webhooks.received" in metric_names
    assert "dana@example.com" not in log_path.read_text()


async def test_rewarding_process_exports_and_serves_metrics(
    tmp_path: Path, settings: CommonSettings, shop: Shop, unique: str
) -> None:
    metrics_port = free_port()
    log_path = tmp_path / "rewarding.log"
    trace_hex = "4bf92f3577b34da6a3ce929d0e0e4736"
    resource = order_resource(
        order_id=9001, payment_status="paid", updated_at=T0, price_incl=Decimal("10.00")
    )
    order = parse_order(load_json(webhook_body(resource)))
    event = normalize_order(
        order, merchant_id=merchant_id_of(shop), base_currency="EUR", received_at=T0
    )

    with otlp_receiver() as receiver:
        environment = {
            **os.environ,
            **TANSU_CLIENT_ENVIRONMENT,
            "LOYALTY_DATABASE_URL": settings.database_url,
            "LOYALTY_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            "LOYALTY_ORDERS_TOPIC": settings.orders_topic,
            "LOYALTY_POINTS_TOPIC": settings.points_topic,
            "LOYALTY_REWARDING_GROUP_ID": f"rewarding-otlp-{unique}",
            "LOYALTY_METRICS_PORT": str(metrics_port),
            "LOYALTY_OTLP_ENDPOINT": receiver.url,
            "LOYALTY_OTLP_EXPORT_INTERVAL_MS": "1000",
        }
        with open(log_path, "wb") as log:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "services.rewarding",
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
            await producer.start()
            try:
                await producer.send_and_wait(
                    settings.orders_topic,
                    event.model_dump_json().encode(),
                    key=event.partition_key,
                    headers=[("traceparent", f"00-{trace_hex}-00f067aa0ba902b7-01".encode())],
                )
            finally:
                await producer.stop()

            async def scraped_consumed() -> str | None:
                try:
                    async with httpx.AsyncClient(timeout=2) as client:
                        text = (await client.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
                except httpx.TransportError:
                    return None
                consumed = sample_value(
                    text, "loyalty_events_consumed_total", topic=settings.orders_topic
                )
                lag_reported = "loyalty_consumer_lag{" in text
                return text if consumed == 1 and lag_reported else None

            scraped = await wait_until(scraped_consumed, timeout=40)
        finally:
            process.terminate()
            await asyncio.wait_for(process.wait(), 30)
        traces = receiver.traces()

    assert sample_value(scraped, "loyalty_events_applied_total", topic=settings.orders_topic) == 1
    assert "shut down" in log_path.read_text()
    record_spans = [
        span
        for request in traces
        for resource_spans in request.resource_spans
        for scope in resource_spans.scope_spans
        for span in scope.spans
        if span.name == f"{settings.orders_topic} process" and span.trace_id.hex() == trace_hex
    ]
    assert len(record_spans) == 1
    assert record_spans[0].parent_span_id.hex() == "00f067aa0ba902b7"
