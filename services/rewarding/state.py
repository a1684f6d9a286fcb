"""An order's state, folded from the events in its stream."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

from schemas.points import PointsEarned, PointsRemoved
from schemas.refunds import OrderRefunded
from services.rewarding.events import (
    OrderEventIgnored,
    OrderRefundApplied,
    OrderStatusApplied,
    PointsRemovalClamped,
    RecordedEvent,
)
from services.rewarding.rules import DEFAULT_RULES, RewardRules, points_for


@dataclass(frozen=True)
class OrderState:
    """The facts of an order's past that the decider uses."""

    version: int = 0
    seen_event_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)
    last_occurred_at: datetime | None = None
    last_rules: RewardRules | None = None
    award: PointsEarned | None = None
    award_rules: RewardRules | None = None
    removed_points: int = 0
    written_off_points: int = 0
    # The latest applied version of each credit invoice, by invoice id.
    refunds: tuple[OrderRefunded, ...] = ()

    @property
    def remaining_points(self) -> int:
        """Points of the award neither removed nor written off by a clamped removal."""
        if self.award is None:
            return 0
        return self.award.points - self.removed_points - self.written_off_points

    def refund_for(self, invoice_id: str) -> OrderRefunded | None:
        """Return the applied version of the credit invoice ``invoice_id``, if any."""
        for refund in self.refunds:
            if refund.invoice_id == invoice_id:
                return refund
        return None

    def refunded_basis(self) -> Decimal:
        """Return the refunded amount on the award's amount basis; zero without an award."""
        if self.award is None:
            return Decimal(0)
        # Awards recorded before OrderStatusApplied stored the rules fall back
        # to the default basis: tax and shipping included.
        rules = self.award_rules or DEFAULT_RULES
        return sum((rules.basis_amount(refund.amounts) for refund in self.refunds), Decimal(0))

    def refund_target(self) -> int:
        """Return the points the order keeps after its refunds, at the award's rate.

        floor((paid basis - refunded basis) x rate), never below zero; the full
        award when nothing was refunded.
        """
        if self.award is None:
            return 0
        kept_basis = max(self.award.basis_amount - self.refunded_basis(), Decimal(0))
        return min(points_for(kept_basis, self.award.rate), self.award.points)

    def evolve(self, event: RecordedEvent) -> OrderState:
        """Return the state after ``event``, one stream version later."""
        version = self.version + 1
        if isinstance(event, OrderStatusApplied):
            return replace(
                self,
                version=version,
                seen_event_ids=self.seen_event_ids | {event.order.event_id},
                last_occurred_at=event.order.occurred_at,
                last_rules=event.rules,
            )
        if isinstance(event, OrderRefundApplied):
            others = tuple(r for r in self.refunds if r.invoice_id != event.refund.invoice_id)
            return replace(
                self,
                version=version,
                seen_event_ids=self.seen_event_ids | {event.refund.event_id},
                refunds=(*others, event.refund),
            )
        if isinstance(event, OrderEventIgnored):
            return replace(
                self, version=version, seen_event_ids=self.seen_event_ids | {event.order.event_id}
            )
        if isinstance(event, PointsEarned):
            return replace(self, version=version, award=event, award_rules=self.last_rules)
        if isinstance(event, PointsRemoved):
            return replace(self, version=version, removed_points=self.removed_points + event.points)
        if isinstance(event, PointsRemovalClamped):
            return replace(
                self,
                version=version,
                written_off_points=self.written_off_points + event.shortfall_points,
            )
        raise TypeError(f"unknown event type {type(event).__name__}")


def fold(events: list[RecordedEvent]) -> OrderState:
    """Return the state of an order whose stream contains ``events``, in version order."""
    state = OrderState()
    for event in events:
        state = state.evolve(event)
    return state
