"""The local stack serves /metrics on every service, and a demo run logs no email address."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from schemas.orders import ORDER_STATUS_CHANGED_TOPIC
from services.common.logs import EMAIL_PATTERN
from services.devstack.database import drop_database, with_database
from services.devstack.demo import (
    EXPECTED_BALANCES,
    demo_deliveries,
    post_deliveries,
    run_demo,
    wait_for_balances,
)
from services.devstack.lightspeed_fixtures import webhook_body
from services.devstack.ports import free_port
from services.devstack.stack import SERVICE_MODULES, StackState, start_stack, stop_stack
from tests.conftest import SERVER_URL
from tests.support.dashboard import dashboard_metric_names, exposed_sample_names

pytestmark = pytest.mark.integration


async def publish_invalid_record(bootstrap_servers: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(ORDER_STATUS_CHANGED_TOPIC, b"not json", key=b"invalid")
    finally:
        await producer.stop()


@pytest.fixture
def stack_database() -> Iterator[str]:
    url = with_database(SERVER_URL, f"loyalty_test_stack_{uuid.uuid4().hex[:10]}")
    yield url
    asyncio.run(drop_database(url))


def test_every_service_serves_metrics(tmp_path: Path, stack_database: str) -> None:
    from services.devstack.demo import DEMO_MERCHANT_ID, DEMO_SHOP, _register
    from services.store.merchants import Merchant

    state = start_stack(
        tmp_path,
        stack_database,
        http_port=free_port(),
        kafka_port=free_port(),
        smtp_port=free_port(),
        fresh_database=True,
    )
    try:
        merchant = Merchant(
            merchant_id=DEMO_MERCHANT_ID,
            cluster_id=DEMO_SHOP.cluster_id,
            shop_id=DEMO_SHOP.shop_id,
            webhook_secret=DEMO_SHOP.secret,
            display_name="Demo Bikes",
            base_currency="EUR",
        )
        asyncio.run(_register(state.database_url, merchant))
        base_url = f"http://127.0.0.1:{state.http_port}"
        post_deliveries(base_url, demo_deliveries())
        asyncio.run(publish_invalid_record(f"127.0.0.1:{state.kafka_port}"))
        ledgers = wait_for_balances(base_url, timeout=30)
        texts = {name: httpx.get(url, timeout=5).text for name, url in state.metrics_urls().items()}
    finally:
        stop_stack(state)

    assert {key: ledger["balance"] for key, ledger in ledgers.items()} == EXPECTED_BALANCES
    assert set(texts) == set(SERVICE_MODULES)
    emitted = set().union(*(exposed_sample_names(text) for text in texts.values()))
    assert dashboard_metric_names() - emitted == set()
    assert 'outcome="accepted"' in texts["ingest"]
    assert "loyalty_consumer_lag{" in texts["rewarding"]
    assert 'error_type="ValidationError"' in texts["rewarding"]
    assert "loyalty_outbox_backlog{" in texts["relay"]
    assert "loyalty_emails_sent_total{" in texts["notifier"]


def test_demo_logs_hold_no_email(tmp_path: Path, stack_database: str) -> None:
    emails_posted = [
        delivery
        for delivery in demo_deliveries()
        if EMAIL_PATTERN.search(webhook_body(delivery.resource).decode())
    ]
    assert emails_posted, "the demo must post customer emails for this test to mean anything"

    passed = run_demo(tmp_path, stack_database, print_ports=StackState.metrics_urls)

    assert passed
    lines = [
        (path.name, line)
        for path in sorted((tmp_path / "logs").glob("*.log"))
        for line in path.read_text().splitlines()
    ]
    assert lines
    assert [(name, line) for name, line in lines if EMAIL_PATTERN.search(line)] == []
    service_lines = [line for name, line in lines if name in {"ingest.log", "rewarding.log"}]
    assert [line for line in service_lines if not line.startswith("{")] == []
    handled = [
        json.loads(line)
        for name, line in lines
        if name == "rewarding.log" and '"order event handled"' in line
    ]
    assert len(handled) == len(demo_deliveries())
    assert all(len(entry["trace_id"]) == 32 for entry in handled)
    assert all(entry["event_id"] for entry in handled)
