"""The chaos run's traffic: platform-shaped order webhooks with duplicates and reordering.

Each order follows one of a few histories whose final balance does not depend on
the order in which its webhooks arrive, so the expected balances are known
before sending. A paid order earns floor(priceIncl). A paid and then cancelled
order ends at zero whichever of the two arrives first, because a late ``paid``
is stale.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from services.devstack.lightspeed_fixtures import Shop, order_resource, webhook_body

T0 = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)

# Payment statuses of an order over time, with the weight of each history.
HISTORIES: tuple[tuple[tuple[str, ...], int], ...] = (
    (("not_paid", "paid"), 40),
    (("paid",), 30),
    (("paid", "cancelled"), 20),
    (("not_paid",), 10),
)
DUPLICATE_RATE = 0.25
# Webhooks move up to this many places from their place in platform time.
REORDER_WINDOW = 200


@dataclass(frozen=True)
class Webhook:
    order_id: int
    body: bytes


@dataclass
class Workload:
    webhooks: list[Webhook]
    orders: int
    customers: int
    expected_balances: dict[str, int]
    duplicates: int


def build_workload(shop: Shop, *, webhooks: int, customers: int, seed: int) -> Workload:
    """Return at least ``webhooks`` webhooks for ``customers`` customers, in delivery order."""
    rng = random.Random(seed)
    timeline: list[tuple[float, Webhook]] = []
    balances: dict[str, int] = defaultdict(int)
    duplicates = 0
    order_id = 0
    histories = [history for history, _ in HISTORIES]
    weights = [weight for _, weight in HISTORIES]
    while len(timeline) < webhooks:
        order_id += 1
        # The first orders go one to each customer, so every customer has an order.
        customer_id = 1000 + (order_id - 1 if order_id <= customers else rng.randrange(customers))
        price = Decimal(rng.randrange(100, 30_000)) / 100
        history = rng.choices(histories, weights)[0]
        for step, status in enumerate(history):
            resource = order_resource(
                order_id=order_id,
                payment_status=status,
                updated_at=T0 + timedelta(seconds=order_id, milliseconds=step * 10),
                price_incl=price,
                customer_id=customer_id,
                email=f"customer{customer_id}@example.com",
            )
            webhook = Webhook(order_id, webhook_body(resource))
            place = len(timeline)
            timeline.append((place + rng.uniform(0, REORDER_WINDOW), webhook))
            if rng.random() < DUPLICATE_RATE:
                duplicates += 1
                timeline.append((place + rng.uniform(0, 4 * REORDER_WINDOW), webhook))
        if history[-1] == "paid":
            balances[str(customer_id)] += int(price)
        else:
            balances.setdefault(str(customer_id), 0)
    timeline.sort(key=lambda item: item[0])
    return Workload(
        webhooks=[webhook for _, webhook in timeline],
        orders=order_id,
        customers=min(customers, order_id),
        expected_balances=dict(balances),
        duplicates=duplicates,
    )
