"""One named scenario per rewarding rule, through the whole pipeline.

Each scenario changes settings with ``PUT /merchants/{id}/settings`` and posts
signed webhooks over HTTP. After each webhook it waits until the consumer has
recorded it in the order's stream. Then it checks the ledger from the read API
and the order's recorded reasons from the order events API.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest

from schemas.points import PointsRemoved
from services.devstack.lightspeed_fixtures import (
    Shop,
    invoice_resource,
    order_resource,
    webhook_body,
    webhook_headers,
)
from services.rewarding.consumer import RewardingService
from services.rewarding.decider import NO_CUSTOMER_REASON
from services.store.event_store import NewEvent, append
from services.store.projections import add_to_balances
from tests.conftest import merchant_id_of
from tests.support.kafka import wait_until

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 3, 14, 5, 11, tzinfo=timezone(timedelta(hours=1)))
CUSTOMER = "501"


@dataclass(frozen=True)
class Status:
    """An ``orders/updated`` webhook with the order at ``minute`` past T0."""

    order_id: int
    payment_status: str
    minute: int
    amount: str
    customer_id: int | None = 501
    email: str | None = "jane@example.com"
    shipping: str = "4.95"


@dataclass(frozen=True)
class Invoice:
    """An ``invoices/created`` webhook: a credit note unless ``credit_note`` is False."""

    invoice_id: int
    order_id: int
    minute: int
    amount: str
    credit_note: bool = True


@dataclass(frozen=True)
class Put:
    """A settings change through the HTTP API."""

    changes: dict[str, Any]


@dataclass(frozen=True)
class Spend:
    """Points the customer spends outside the order rules, lowering the balance."""

    points: int


Step = Status | Invoice | Put | Spend


@dataclass(frozen=True)
class Scenario:
    name: str
    steps: list[Step]
    ledger: list[tuple[str, int]]
    balance: int
    # Per order id, text that some recorded event of the order's stream contains.
    recorded: dict[int, list[str]] = field(default_factory=dict)


SCENARIOS = [
    Scenario(
        "order earns at most once",
        [
            Status(1, "paid", 0, "42.50"),
            Status(1, "paid", 0, "42.50"),
            Status(1, "paid", 5, "42.50"),
        ],
        ledger=[("PointsEarned", 42)],
        balance=42,
    ),
    Scenario(
        "no new award after a cancel removed the points",
        [
            Status(2, "paid", 0, "75.99"),
            Status(2, "cancelled", 10, "75.99"),
            Status(2, "paid", 20, "75.99"),
        ],
        ledger=[("PointsEarned", 75), ("PointsRemoved", -75)],
        balance=0,
    ),
    Scenario(
        "older updatedAt is recorded as stale and changes nothing",
        [
            Status(3, "paid", 10, "30.00"),
            Status(3, "cancelled", 5, "30.00"),
        ],
        ledger=[("PointsEarned", 30)],
        balance=30,
        recorded={3: ["stale: updatedAt"]},
    ),
    Scenario(
        "removal uses the rule version of the award",
        [
            Put({"points_per_unit": "2"}),
            Status(4, "paid", 0, "20.00"),
            Put({"points_per_unit": "10", "amount_basis": "excluding_tax"}),
            Status(4, "cancelled", 10, "20.00"),
        ],
        ledger=[("PointsEarned", 40), ("PointsRemoved", -40)],
        balance=0,
        recorded={4: ['"rule_version": 2']},
    ),
    Scenario(
        "partial refunds keep floor of the rest at the award rate",
        [
            Status(5, "paid", 0, "100.00"),
            Invoice(51, 5, 30, "30.50"),
            Invoice(51, 5, 30, "30.50"),
            Invoice(52, 5, 40, "20.00"),
        ],
        ledger=[("PointsEarned", 100), ("PointsRemoved", -31), ("PointsRemoved", -20)],
        balance=49,
        recorded={5: ["refunded 50.50 EUR by credit invoice CN00051, CN00052"]},
    ),
    Scenario(
        "refunds never remove more than the order earned",
        [
            Status(6, "paid", 0, "50.00"),
            Invoice(61, 6, 30, "40.00"),
            Invoice(62, 6, 31, "40.00"),
        ],
        ledger=[("PointsEarned", 50), ("PointsRemoved", -40), ("PointsRemoved", -10)],
        balance=0,
    ),
    Scenario(
        "refund before the award is taken off at the award",
        [
            Invoice(161, 16, 30, "25.00"),
            Status(16, "paid", 40, "100.00"),
        ],
        ledger=[("PointsEarned", 100), ("PointsRemoved", -25)],
        balance=75,
    ),
    Scenario(
        "newer credit invoice version replaces the older one",
        [
            Status(17, "paid", 0, "100.00"),
            Invoice(171, 17, 30, "10.00"),
            Invoice(171, 17, 35, "25.00"),
            Invoice(171, 17, 32, "60.00"),
        ],
        ledger=[("PointsEarned", 100), ("PointsRemoved", -10), ("PointsRemoved", -15)],
        balance=75,
        recorded={17: ["stale: invoice CN00171"]},
    ),
    Scenario(
        "invoice that is not a credit note is ignored",
        [
            Status(7, "paid", 0, "25.00"),
            Invoice(71, 7, 30, "25.00", credit_note=False),
            Status(7, "paid", 31, "25.00"),
        ],
        ledger=[("PointsEarned", 25)],
        balance=25,
    ),
    Scenario(
        "allow policy lets the balance go below zero",
        [
            Status(8, "paid", 0, "50.00"),
            Spend(40),
            Status(8, "cancelled", 10, "50.00"),
        ],
        ledger=[("PointsEarned", 50), ("PointsRemoved", -40), ("PointsRemoved", -50)],
        balance=-40,
    ),
    Scenario(
        "clamp policy removes only the balance and records the shortfall",
        [
            Put({"negative_balance_policy": "clamp"}),
            Status(9, "paid", 0, "50.00"),
            Spend(40),
            Status(9, "cancelled", 10, "50.00"),
        ],
        ledger=[("PointsEarned", 50), ("PointsRemoved", -40), ("PointsRemoved", -10)],
        balance=0,
        recorded={9: ["PointsRemovalClamped", '"shortfall_points": 40']},
    ),
    Scenario(
        "order without customer id or email is recorded with a reason",
        [
            Status(10, "paid", 0, "60.00", customer_id=None, email=None),
            Status(11, "paid", 1, "5.00"),
        ],
        ledger=[("PointsEarned", 5)],
        balance=5,
        recorded={10: [NO_CUSTOMER_REASON]},
    ),
    Scenario(
        "earning off makes no award but a cancel still removes",
        [
            Status(12, "paid", 0, "15.00"),
            Put({"earning_enabled": False}),
            Status(13, "paid", 1, "99.00"),
            Status(12, "cancelled", 10, "15.00"),
        ],
        ledger=[("PointsEarned", 15), ("PointsRemoved", -15)],
        balance=0,
    ),
    Scenario(
        "empty cancel statuses keep the points",
        [
            Put({"cancel_statuses": []}),
            Status(14, "paid", 0, "35.00"),
            Status(14, "cancelled", 10, "35.00"),
        ],
        ledger=[("PointsEarned", 35)],
        balance=35,
    ),
    Scenario(
        "reward statuses, rate and amount basis apply",
        [
            Put(
                {
                    "reward_statuses": ["partially_paid", "paid"],
                    "points_per_unit": "2",
                    "amount_basis": "excluding_tax",
                    "include_shipping": False,
                }
            ),
            # 60.50 incl. is 50.00 excl.; minus 4.09 shipping excl. = 45.91, x 2 = 91.
            Status(15, "partially_paid", 0, "60.50"),
        ],
        ledger=[("PointsEarned", 91)],
        balance=91,
    ),
]


class Pipeline:
    """Drives one scenario against the running services of one test."""

    def __init__(self, client: httpx.AsyncClient, shop: Shop, pool: asyncpg.Pool) -> None:
        self.client = client
        self.shop = shop
        self.pool = pool
        self.merchant_id = merchant_id_of(shop)
        self.posted: set[str] = set()

    async def run(self, step: Step) -> None:
        if isinstance(step, Put):
            response = await self.client.put(
                f"/merchants/{self.merchant_id}/settings",
                json=step.changes,
                headers={"X-Actor": "scenario@example.com"},
            )
            assert response.status_code == 200, response.text
        elif isinstance(step, Spend):
            await spend(self.pool, self.merchant_id, CUSTOMER, step.points)
        elif isinstance(step, Status):
            resource = order_resource(
                order_id=step.order_id,
                payment_status=step.payment_status,
                updated_at=T0 + timedelta(minutes=step.minute),
                price_incl=Decimal(step.amount),
                customer_id=step.customer_id,
                email=step.email,
                shipment_price_incl=Decimal(step.shipping),
                shipment_price_excl=(Decimal(step.shipping) / Decimal("1.21")).quantize(
                    Decimal("0.01")
                ),
            )
            await self.post(step.order_id, webhook_body(resource), "orders/updated")
        else:
            resource = invoice_resource(
                invoice_id=step.invoice_id,
                order_id=step.order_id,
                updated_at=T0 + timedelta(minutes=step.minute),
                price_incl=Decimal(step.amount),
                is_credit_note=step.credit_note,
                customer_id=501,
            )
            await self.post(step.order_id, webhook_body(resource, "invoice"), "invoices/created")

    async def post(self, order_id: int, body: bytes, event: str) -> None:
        response = await self.client.post(
            "/webhooks/lightspeed", content=body, headers=webhook_headers(self.shop, body, event)
        )
        if response.status_code == 202:
            return
        assert response.status_code == 200, response.text
        event_id = response.json()["event_id"]
        if event_id in self.posted:
            # A duplicate records nothing, so there is nothing to wait for.
            return
        self.posted.add(event_id)
        await wait_until(lambda: self.recorded(order_id, event_id), timeout=30)

    async def order_events(self, order_id: int) -> list[dict[str, Any]]:
        response = await self.client.get(f"/merchants/{self.merchant_id}/orders/{order_id}/events")
        if response.status_code == 404:
            return []
        assert response.status_code == 200, response.text
        events: list[dict[str, Any]] = response.json()["events"]
        return events

    async def recorded(self, order_id: int, event_id: str) -> bool:
        for event in await self.order_events(order_id):
            source = event["data"].get("order") or event["data"].get("refund") or {}
            if source.get("event_id") == event_id:
                return True
        return False

    async def ledger(self) -> dict[str, Any]:
        response = await self.client.get(
            f"/merchants/{self.merchant_id}/customers/{CUSTOMER}/points"
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


async def spend(pool: asyncpg.Pool, merchant_id: str, customer_key: str, points: int) -> None:
    """Record a removal outside any order rule, as a redemption would, and lower the balance."""
    redemption = uuid.uuid4()
    event = PointsRemoved(
        event_id=redemption,
        merchant_id=merchant_id,
        customer_key=customer_key,
        order_id=f"redemption-{redemption}",
        order_number="REDEEM",
        points=points,
        reason="points spent",
        rule_version=1,
        source_event_id=redemption,
        occurred_at=T0,
        award_event_id=redemption,
    )
    async with pool.acquire() as connection, connection.transaction():
        stream = f"redemption:{merchant_id}:{redemption}"
        [position] = await append(
            connection, [NewEvent(stream, 1, merchant_id, customer_key, event)]
        )
        await add_to_balances(connection, {(merchant_id, customer_key): (-points, position)})


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
async def test_rule_scenario(
    scenario: Scenario,
    ingest: httpx.AsyncClient,
    rewarding: RewardingService,
    shop: Shop,
    pool: asyncpg.Pool,
) -> None:
    pipeline = Pipeline(ingest, shop, pool)

    for step in scenario.steps:
        await pipeline.run(step)

    ledger = await pipeline.ledger()
    assert [(e["event_type"], e["points"]) for e in ledger["ledger"]] == scenario.ledger
    assert ledger["balance"] == scenario.balance
    assert ledger["balance"] == sum(e["points"] for e in ledger["ledger"])
    for order_id, texts in scenario.recorded.items():
        stream = json.dumps(await pipeline.order_events(order_id))
        for text in texts:
            assert text in stream, f"order {order_id}: {text!r} not in {stream}"
