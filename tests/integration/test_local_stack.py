"""The local stack of ``make up``: processes, ports and a restart on the same database."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from services.devstack.database import drop_database, with_database
from services.devstack.lightspeed_fixtures import (
    Shop,
    order_resource,
    webhook_body,
    webhook_headers,
)
from services.devstack.ports import free_port
from services.devstack.stack import StackState, start_stack, stop_stack
from services.store.merchants import Merchant, add_merchant
from tests.conftest import SERVER_URL

pytestmark = pytest.mark.integration

SHOP = Shop(shop_id=4242, cluster_id="eu1", secret="stack-secret")
T0 = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)


@pytest.fixture
def stack_database_url(unique: str) -> Iterator[str]:
    url = with_database(SERVER_URL, f"loyalty_stack_test_{unique}")
    yield url
    asyncio.run(drop_database(url))


def start(directory: Path, database_url: str) -> StackState:
    return start_stack(
        directory,
        database_url,
        http_port=free_port(),
        kafka_port=free_port(),
        smtp_port=free_port(),
        fresh_database=False,
    )


def post_paid(state: StackState, order_id: int) -> None:
    body = webhook_body(
        order_resource(
            order_id=order_id,
            payment_status="paid",
            updated_at=T0 + timedelta(minutes=order_id),
            price_incl=Decimal("10.00"),
            customer_id=600,
        )
    )
    response = httpx.post(
        f"http://127.0.0.1:{state.http_port}/webhooks/lightspeed",
        content=body,
        headers=webhook_headers(SHOP, body, "orders/paid"),
        timeout=15,
    )
    assert response.status_code == 200, response.text


def wait_for_balance(state: StackState, expected: int, timeout: float = 60) -> int | None:
    deadline = time.monotonic() + timeout
    balance = None
    while time.monotonic() < deadline:
        response = httpx.get(
            f"http://127.0.0.1:{state.http_port}/merchants/ls-eu1-4242/customers/600/points"
        )
        if response.status_code == 200:
            balance = response.json()["balance"]
            if balance == expected:
                return balance
        time.sleep(0.3)
    return balance


def test_restart_on_same_database_applies_new_webhooks(
    tmp_path: Path, stack_database_url: str
) -> None:
    state = start(tmp_path / "first", stack_database_url)
    try:
        from services.common.db import create_pool

        async def register() -> None:
            pool = await create_pool(stack_database_url, max_size=1)
            await add_merchant(
                pool, Merchant("ls-eu1-4242", "eu1", 4242, SHOP.secret, "Stack", "EUR")
            )
            await pool.close()

        asyncio.run(register())
        for order_id in range(1, 6):
            post_paid(state, order_id)
        first_balance = wait_for_balance(state, 50)
    finally:
        stop_stack(state)

    restarted = start(tmp_path / "second", stack_database_url)
    try:
        for order_id in range(6, 9):
            post_paid(restarted, order_id)
        second_balance = wait_for_balance(restarted, 80)
    finally:
        stop_stack(restarted)

    assert first_balance == 50
    assert second_balance == 80
