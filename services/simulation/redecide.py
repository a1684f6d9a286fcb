"""Re-running the decider over the order inputs recorded in a stream."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from schemas.orders import OrderStatusChanged
from services.rewarding.decider import decide
from services.rewarding.events import RecordedEvent
from services.rewarding.rules import RewardRules
from services.rewarding.state import OrderState

CustomerId = tuple[str, str]
"""(merchant_id, customer_key)."""


def recorded_inputs(events: Iterable[RecordedEvent]) -> list[OrderStatusChanged]:
    """Return the order events the decider was given, once each, in the order it saw them.

    Every decision records its input in an ``order`` field (applied or ignored);
    a decision that records two events records the same input twice.
    """
    inputs: list[OrderStatusChanged] = []
    seen: set[object] = set()
    for event in events:
        order = getattr(event, "order", None)
        if isinstance(order, OrderStatusChanged) and order.event_id not in seen:
            seen.add(order.event_id)
            inputs.append(order)
    return inputs


def redecide(inputs: Sequence[OrderStatusChanged], rules: RewardRules) -> list[RecordedEvent]:
    """Return the events the decider records for ``inputs`` under ``rules``, from an empty order."""
    state = OrderState()
    decided: list[RecordedEvent] = []
    for order_event in inputs:
        for event in decide(state, order_event, rules):
            state = state.evolve(event)
            decided.append(event)
    return decided


def points_by_customer(events: Iterable[RecordedEvent]) -> dict[CustomerId, int]:
    """Return the balance change of each customer that ``events`` make."""
    totals: dict[CustomerId, int] = {}
    for event in events:
        signed = getattr(event, "signed_points", None)
        if isinstance(signed, int):
            key = (getattr(event, "merchant_id", ""), getattr(event, "customer_key", ""))
            totals[key] = totals.get(key, 0) + signed
    return totals
