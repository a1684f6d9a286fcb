"""The decider: a pure function from an order's past and a new order event to new events.

It computes what the order should hold now and records only the difference, so
duplicated, late and reordered input cannot count twice. Nothing here reads the
clock or any state besides its arguments, so a replay decides the same.
"""

from __future__ import annotations

from schemas.ids import derive_event_id
from schemas.orders import OrderStatusChanged
from schemas.points import PointsEarned, PointsRemoved
from services.rewarding.events import OrderEventIgnored, OrderStatusApplied, RecordedEvent
from services.rewarding.rules import RewardRules, points_for
from services.rewarding.state import OrderState

NO_CUSTOMER_REASON = "order has neither a customer id nor an email, so no customer can hold points"


def decide(state: OrderState, event: OrderStatusChanged, rules: RewardRules) -> list[RecordedEvent]:
    """Return the events to append to the order's stream for ``event``.

    An exact duplicate returns nothing. An event older than the last applied one
    is recorded as ignored and changes no points.
    """
    if event.event_id in state.seen_event_ids:
        return []

    if state.last_occurred_at is not None and event.occurred_at < state.last_occurred_at:
        reason = (
            f"stale: updatedAt {event.occurred_at.isoformat()} is older than the last "
            f"applied {state.last_occurred_at.isoformat()}"
        )
        return [_ignored(event, reason)]

    # model_construct skips re-validating the order, which was validated on arrival.
    applied = OrderStatusApplied.model_construct(
        event_id=derive_event_id("OrderStatusApplied", str(event.event_id)),
        order=event,
        rule_version=rules.version,
    )
    if event.customer.key is None:
        return [applied, _ignored(event, NO_CUSTOMER_REASON)]

    decided: list[RecordedEvent] = [applied]
    if event.payment_status in rules.cancel_statuses and state.remaining_points > 0:
        decided.append(_removal(state, event))
    elif (
        event.payment_status in rules.reward_statuses
        and rules.earning_enabled
        and state.award is None
    ):
        award = _award(event, rules)
        if award is not None:
            decided.append(award)
    return decided


def _ignored(event: OrderStatusChanged, reason: str) -> OrderEventIgnored:
    return OrderEventIgnored(
        event_id=derive_event_id("OrderEventIgnored", str(event.event_id)),
        order=event,
        reason=reason,
    )


def _award(event: OrderStatusChanged, rules: RewardRules) -> PointsEarned | None:
    assert event.customer.key is not None
    basis = rules.basis_amount(event.amounts)
    points = points_for(basis, rules.points_per_unit)
    if points <= 0:
        return None
    return PointsEarned(
        event_id=derive_event_id("PointsEarned", str(event.event_id)),
        merchant_id=event.merchant_id,
        customer_key=event.customer.key,
        order_id=event.order_id,
        order_number=event.order_number,
        points=points,
        reason=f"payment status became {event.payment_status.value}",
        rule_version=rules.version,
        source_event_id=event.event_id,
        occurred_at=event.occurred_at,
        rate=rules.points_per_unit,
        basis_amount=basis,
        currency=event.amounts.currency,
    )


def _removal(state: OrderState, event: OrderStatusChanged) -> PointsRemoved:
    award = state.award
    assert award is not None
    # Removal reverses the award as it was made, with the award's rule version.
    return PointsRemoved(
        event_id=derive_event_id("PointsRemoved", str(event.event_id)),
        merchant_id=award.merchant_id,
        customer_key=award.customer_key,
        order_id=award.order_id,
        order_number=award.order_number,
        points=state.remaining_points,
        reason=f"payment status became {event.payment_status.value}",
        rule_version=award.rule_version,
        source_event_id=event.event_id,
        occurred_at=event.occurred_at,
        award_event_id=award.event_id,
    )
