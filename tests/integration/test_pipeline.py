"""Signed webhooks in over HTTP, balances and ledgers out of the read API."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
import pytest

from services.devstack.lightspeed_fixtures import (
    Shop,
    order_resource,
    webhook_body,
    webhook_headers,
)
from services.rewarding.consumer import RewardingService
from tests.conftest import merchant_id_of
from tests.support.kafka import wait_until

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 3, 14, 5, 11, tzinfo=timezone(timedelta(hours=1)))


async def post(
    client: httpx.AsyncClient, shop: Shop, resource: dict[str, Any], event: str = "orders/updated"
) -> None:
    body = webhook_body(resource)
    response = await client.post(
        "/webhooks/lightspeed", content=body, headers=webhook_headers(shop, body, event)
    )
    assert response.status_code == 200, response.text


def order(
    order_id: int,
    status: str,
    minutes: int,
    amount: str,
    customer_id: int | None = 501,
    email: str | None = "jane@example.com",
) -> dict[str, Any]:
    return order_resource(
        order_id=order_id,
        payment_status=status,
        updated_at=T0 + timedelta(minutes=minutes),
        price_incl=Decimal(amount),
        customer_id=customer_id,
        email=email,
    )


async def ledger_when(
    client: httpx.AsyncClient, shop: Shop, customer: str, condition: Any
) -> dict[str, Any]:
    url = f"/merchants/{merchant_id_of(shop)}/customers/{customer}/points"

    async def fetch() -> dict[str, Any] | None:
        response = await client.get(url)
        if response.status_code != 200:
            return None
        body: dict[str, Any] = response.json()
        return body if condition(body) else None

    result: dict[str, Any] = await wait_until(fetch, timeout=30)
    return result


async def test_paid_order_earns_points(
    ingest: httpx.AsyncClient, rewarding: RewardingService, shop: Shop
) -> None:
    await post(ingest, shop, order(1, "paid", 0, "42.50"), "orders/paid")

    ledger = await ledger_when(ingest, shop, "501", lambda body: body["balance"] == 42)

    assert len(ledger["ledger"]) == 1
    entry = ledger["ledger"][0]
    assert entry["event_type"] == "PointsEarned"
    assert entry["points"] == 42
    assert entry["order_id"] == "1"
    assert entry["order_number"] == "ORD00001"
    assert entry["reason"] == "payment status became paid"


async def test_duplicate_webhook_earns_once(
    ingest: httpx.AsyncClient, rewarding: RewardingService, shop: Shop
) -> None:
    paid = order(2, "paid", 0, "120.00")
    await post(ingest, shop, paid, "orders/paid")
    await post(ingest, shop, paid, "orders/paid")
    await post(ingest, shop, order(3, "paid", 1, "5.00"), "orders/paid")

    ledger = await ledger_when(ingest, shop, "501", lambda body: len(body["ledger"]) >= 2)

    assert ledger["balance"] == 125
    assert [entry["points"] for entry in ledger["ledger"]] in ([120, 5], [5, 120])


async def test_paid_then_cancelled_removes_points(
    ingest: httpx.AsyncClient, rewarding: RewardingService, shop: Shop
) -> None:
    await post(ingest, shop, order(4, "paid", 0, "75.99"), "orders/paid")
    await post(ingest, shop, order(4, "cancelled", 10, "75.99"))

    ledger = await ledger_when(ingest, shop, "501", lambda body: len(body["ledger"]) == 2)

    assert ledger["balance"] == 0
    assert [(e["event_type"], e["points"]) for e in ledger["ledger"]] == [
        ("PointsEarned", 75),
        ("PointsRemoved", -75),
    ]


async def test_guest_keyed_by_email(
    ingest: httpx.AsyncClient, rewarding: RewardingService, shop: Shop
) -> None:
    await post(
        ingest, shop, order(5, "paid", 0, "30.00", customer_id=None, email=" Dana@Example.COM ")
    )

    ledger = await ledger_when(ingest, shop, "dana@example.com", lambda body: body["balance"] == 30)
    mixed_case = await ingest.get(
        f"/merchants/{merchant_id_of(shop)}/customers/Dana@Example.com/points"
    )

    assert ledger["customer_key"] == "dana@example.com"
    assert mixed_case.status_code == 200
    assert mixed_case.json()["balance"] == 30


async def test_not_paid_earns_nothing(
    ingest: httpx.AsyncClient, rewarding: RewardingService, shop: Shop
) -> None:
    await post(ingest, shop, order(6, "not_paid", 0, "55.00", customer_id=777), "orders/created")

    ledger = await ledger_when(ingest, shop, "777", lambda body: True)

    assert ledger["balance"] == 0
    assert ledger["ledger"] == []


async def test_unknown_merchant_and_customer_are_404(ingest: httpx.AsyncClient, shop: Shop) -> None:
    unknown_merchant = await ingest.get("/merchants/nobody/customers/1/points")
    unknown_customer = await ingest.get(
        f"/merchants/{merchant_id_of(shop)}/customers/404404/points"
    )

    assert unknown_merchant.status_code == 404
    assert "nobody" in unknown_merchant.json()["error"]
    assert unknown_customer.status_code == 404
    assert "404404" in unknown_customer.json()["error"]
