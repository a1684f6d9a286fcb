"""The decider: a pure function from an order's past and a new order event to new events.

It computes the points the order should hold now and records only the
difference, so duplicated, late and reordered input cannot count twice.
Nothing here reads the clock or any state besides its arguments, so a replay
decides the same.

An order's points never rise after its award. A cancel status sets the target
to zero, and refunds lower it to floor((paid - refunded) x award rate). A
removal takes ``remaining - target`` when that is positive.
"""

from __future__ import annotations

from decimal import Decimal

from schemas.ids import derive_event_id
from schemas.order_events import OrderEvent
from schemas.orders import OrderStatusChanged
from schemas.points import PointsEarned
from schemas.refunds import OrderRefunded
from services.rewarding.events import (
    OrderEventIgnored,
    OrderRefundApplied,
    OrderStatusApplied,
    RecordedEvent,
)
from services.rewarding.removal import Removal, remove_to_target
from services.rewarding.rules import RewardRules, points_for
from services.rewarding.state import OrderState

NO_CUSTOMER_REASON = "order has neither a customer id nor an email, so no customer can hold points"


def decide(
    state: OrderState, event: OrderEvent, rules: RewardRules, *, balance: int | None = None
) -> list[RecordedEvent]:
    """Return the events to append to the order's stream for ``event``.

    ``balance`` is the current balance of the award's customer, or of the
    event's customer before an award. The ``clamp`` policy needs it. An exact
    duplicate returns nothing. A status change older than the last applied one
    is recorded as ignored and changes no points.
    """
    if event.event_id in state.seen_event_ids:
        return []
    if isinstance(event, OrderRefunded):
        return _decide_refund(state, event, rules, balance)
    return _decide_status(state, event, rules, balance)


def _decide_status(
    state: OrderState, event: OrderStatusChanged, rules: RewardRules, balance: int | None
) -> list[RecordedEvent]:
    if state.last_occurred_at is not None and event.occurred_at < state.last_occurred_at:
        reason = (
            f"stale: updatedAt {event.occurred_at.isoformat()} is older than the last "
            f"applied {state.last_occurred_at.isoformat()}"
        )
        return [_ignored(event, reason)]

    status = event.payment_status
    award = None
    if (
        state.award is None
        and status in rules.reward_statuses
        and status not in rules.cancel_statuses
        and rules.earning_enabled
    ):
        award = _award(event, rules)
    # The constructor checks that order and rules are instances of their models and
    # keeps them as they are (pydantic's default revalidate_instances="never"). It
    # is faster than model_construct, which iterates every field in Python.
    applied = OrderStatusApplied(
        event_id=derive_event_id("OrderStatusApplied", str(event.event_id)),
        order=event,
        rule_version=rules.version,
        # Only an award needs the full rules later, for the amount basis of refunds.
        rules=rules if award is not None else None,
    )
    if event.customer.key is None and state.award is None:
        return [applied, _ignored(event, NO_CUSTOMER_REASON)]

    decided: list[RecordedEvent] = [applied]
    if award is not None:
        decided.append(award)
        if not state.refunds:
            return decided
        # Refunds recorded before this award are taken off right after it.
        state = state.evolve(applied).evolve(award)
        balance = None if balance is None else balance + award.points

    if state.remaining_points <= 0:
        return decided
    if status in rules.cancel_statuses:
        removal = Removal(target=0, reason=f"payment status became {status.value}")
    elif state.refunds:
        removal = Removal(target=state.refund_target(), reason=_refund_reason(state))
    else:
        return decided
    decided.extend(remove_to_target(state, removal, event, rules, balance))
    return decided


def _decide_refund(
    state: OrderState, event: OrderRefunded, rules: RewardRules, balance: int | None
) -> list[RecordedEvent]:
    # Refunds are ordered per credit invoice, not against status changes: the
    # order's own updatedAt moves on after an invoice is written.
    earlier = state.refund_for(event.invoice_id)
    if earlier is not None and event.occurred_at < earlier.occurred_at:
        reason = (
            f"stale: invoice {event.invoice_number} updatedAt {event.occurred_at.isoformat()} "
            f"is older than its applied version of {earlier.occurred_at.isoformat()}"
        )
        return [_ignored(event, reason)]

    applied = OrderRefundApplied(
        event_id=derive_event_id("OrderRefundApplied", str(event.event_id)),
        refund=event,
        rule_version=rules.version,
    )
    state = state.evolve(applied)
    removal = Removal(target=state.refund_target(), reason=_refund_reason(state))
    return [applied, *remove_to_target(state, removal, event, rules, balance)]


def _refund_reason(state: OrderState) -> str:
    numbers = ", ".join(sorted(refund.invoice_number for refund in state.refunds))
    refunded = state.refunded_basis()
    cents = refunded.quantize(Decimal("0.01"))
    if cents == refunded:
        refunded = cents
    currency = f" {state.award.currency}" if state.award is not None else ""
    return f"refunded {refunded}{currency} by credit invoice {numbers}"


def _ignored(event: OrderEvent, reason: str) -> OrderEventIgnored:
    return OrderEventIgnored(
        event_id=derive_event_id("OrderEventIgnored", str(event.event_id)),
        order=event,
        reason=reason,
    )


def _award(event: OrderStatusChanged, rules: RewardRules) -> PointsEarned | None:
    if event.customer.key is None:
        return None
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
