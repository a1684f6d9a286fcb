"""The reference model: the rewarding rules with default settings, rewritten plainly.

It reads the order events in the order the topic stores them (one order's events
share a partition) and returns the ledger entries each customer must have:
floor(priceIncl) earned once per order when it becomes ``paid``, exactly that
removed when it becomes ``cancelled``, duplicates and stale ``updatedAt`` ignored.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_FLOOR

from schemas.orders import OrderStatusChanged

# (order id, event type, signed points) of one ledger entry.
Entry = tuple[str, str, int]
CustomerId = tuple[str, str]


@dataclass
class _Order:
    seen: set[uuid.UUID] = field(default_factory=set)
    last_occurred_at: datetime | None = None
    customer: CustomerId | None = None
    awarded: int | None = None
    removed: int = 0


def expected_ledgers(events: Iterable[OrderStatusChanged]) -> dict[CustomerId, Counter[Entry]]:
    """Return the ledger entries of each (merchant, customer) after ``events``, in topic order."""
    orders: dict[str, _Order] = defaultdict(_Order)
    ledgers: dict[CustomerId, Counter[Entry]] = defaultdict(Counter)
    for event in events:
        order = orders[event.stream_id]
        if event.event_id in order.seen:
            continue
        order.seen.add(event.event_id)
        if order.last_occurred_at is not None and event.occurred_at < order.last_occurred_at:
            continue
        order.last_occurred_at = event.occurred_at
        if event.customer.key is None:
            continue
        status = event.payment_status.value
        if status == "cancelled" and order.awarded and order.awarded > order.removed:
            assert order.customer is not None
            points = order.awarded - order.removed
            order.removed += points
            ledgers[order.customer][(event.order_id, "PointsRemoved", -points)] += 1
        elif status == "paid" and order.awarded is None:
            points = int(event.amounts.total_incl.to_integral_value(rounding=ROUND_FLOOR))
            if points > 0:
                order.awarded = points
                order.customer = (event.merchant_id, event.customer.key)
                ledgers[order.customer][(event.order_id, "PointsEarned", points)] += 1
    return dict(ledgers)


def compare(
    expected: dict[CustomerId, Counter[Entry]], actual: dict[CustomerId, Counter[Entry]]
) -> tuple[int, int, int]:
    """Return (points lost, points duplicated, customers whose ledger differs)."""
    lost = duplicated = differing = 0
    for customer in expected.keys() | actual.keys():
        want = expected.get(customer, Counter())
        have = actual.get(customer, Counter())
        missing = want - have
        extra = have - want
        if missing or extra:
            differing += 1
        lost += sum(abs(points) * count for (_, _, points), count in missing.items())
        duplicated += sum(abs(points) * count for (_, _, points), count in extra.items())
    return lost, duplicated, differing
