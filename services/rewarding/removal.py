"""Taking an order's points down to a target, under the negative-balance policy."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.ids import derive_event_id
from schemas.order_events import OrderEvent
from schemas.points import PointsRemoved
from services.rewarding.events import PointsRemovalClamped, RecordedEvent
from services.rewarding.rules import NegativeBalancePolicy, RewardRules
from services.rewarding.state import OrderState


@dataclass(frozen=True)
class Removal:
    """The points an order should hold after an event, and why."""

    target: int
    reason: str


def remove_to_target(
    state: OrderState,
    removal: Removal,
    cause: OrderEvent,
    rules: RewardRules,
    balance: int | None,
) -> list[RecordedEvent]:
    """Return the events that take the order's points down to ``removal.target``.

    Returns nothing when the order has the target or less, because points are
    never added back. Under ``clamp`` only the positive part of ``balance`` is
    removed and the rest is recorded as a PointsRemovalClamped, so ``balance``
    must be given.
    """
    award = state.award
    requested = state.remaining_points - max(removal.target, 0)
    if award is None or requested <= 0:
        return []

    removed = requested
    if rules.negative_balance_policy is NegativeBalancePolicy.CLAMP:
        if balance is None:
            raise ValueError("the clamp policy needs the customer's balance; pass balance=")
        removed = min(requested, max(balance, 0))

    decided: list[RecordedEvent] = []
    if removed > 0:
        # The removal reverses the award as it was made, with the award's rule version.
        decided.append(
            PointsRemoved(
                event_id=derive_event_id("PointsRemoved", str(cause.event_id)),
                merchant_id=award.merchant_id,
                customer_key=award.customer_key,
                order_id=award.order_id,
                order_number=award.order_number,
                points=removed,
                reason=removal.reason,
                rule_version=award.rule_version,
                source_event_id=cause.event_id,
                occurred_at=cause.occurred_at,
                award_event_id=award.event_id,
            )
        )
    if removed < requested:
        assert balance is not None
        decided.append(
            PointsRemovalClamped(
                event_id=derive_event_id("PointsRemovalClamped", str(cause.event_id)),
                merchant_id=award.merchant_id,
                customer_key=award.customer_key,
                order_id=award.order_id,
                order_number=award.order_number,
                requested_points=requested,
                removed_points=removed,
                shortfall_points=requested - removed,
                balance_before=balance,
                reason=(
                    f"{removal.reason}; the balance of {balance} covered {removed} of "
                    f"{requested} points and the negative-balance policy is clamp"
                ),
                rule_version=rules.version,
                award_event_id=award.event_id,
                source_event_id=cause.event_id,
                occurred_at=cause.occurred_at,
            )
        )
    return decided
