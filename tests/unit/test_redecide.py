"""Re-deciding an order's recorded inputs under other rules."""

from __future__ import annotations

from decimal import Decimal

from schemas.orders import PaymentStatus
from services.rewarding.decider import decide
from services.rewarding.rules import RewardRules
from services.rewarding.state import OrderState
from services.simulation.redecide import points_by_customer, recorded_inputs, redecide
from tests.unit.factories import order_event


def recorded_stream() -> list[object]:
    """Return the events recorded for paid, duplicate, cancelled, then customerless input."""
    state = OrderState()
    stream: list[object] = []
    paid = order_event("paid", total="42.50")
    for event in (
        paid,
        paid,
        order_event("cancelled", minutes=5),
        order_event("paid", customer_key=None, minutes=10),
    ):
        for decided in decide(state, event, RewardRules()):
            state = state.evolve(decided)
            stream.append(decided)
    return stream


def test_inputs_once_each_in_order() -> None:
    inputs = recorded_inputs(recorded_stream())  # type: ignore[arg-type]

    assert [event.payment_status for event in inputs] == [
        PaymentStatus.PAID,
        PaymentStatus.CANCELLED,
        PaymentStatus.PAID,
    ]


def test_same_rules_same_points() -> None:
    stream = recorded_stream()
    inputs = recorded_inputs(stream)  # type: ignore[arg-type]

    again = redecide(inputs, RewardRules())

    assert points_by_customer(again) == points_by_customer(stream)  # type: ignore[arg-type]
    assert points_by_customer(again) == {("ls-eu1-1", "501"): 0}


def test_keeping_cancelled_points() -> None:
    inputs = recorded_inputs(recorded_stream())  # type: ignore[arg-type]
    rules = RewardRules(cancel_statuses=frozenset(), points_per_unit=Decimal(2))

    decided = redecide(inputs, rules)

    assert points_by_customer(decided) == {("ls-eu1-1", "501"): 85}
