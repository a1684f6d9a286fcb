"""An order's state, folded from the events in its stream."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime

from schemas.points import PointsEarned, PointsRemoved
from services.rewarding.events import OrderEventIgnored, OrderStatusApplied, RecordedEvent


@dataclass(frozen=True)
class OrderState:
    """The facts of an order's past that the decider uses."""

    version: int = 0
    seen_event_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)
    last_occurred_at: datetime | None = None
    award: PointsEarned | None = None
    removed_points: int = 0

    @property
    def remaining_points(self) -> int:
        """Points of the award that have not been removed."""
        if self.award is None:
            return 0
        return self.award.points - self.removed_points

    def evolve(self, event: RecordedEvent) -> OrderState:
        """Return the state after ``event``, one stream version later."""
        version = self.version + 1
        if isinstance(event, OrderStatusApplied):
            return replace(
                self,
                version=version,
                seen_event_ids=self.seen_event_ids | {event.order.event_id},
                last_occurred_at=event.order.occurred_at,
            )
        if isinstance(event, OrderEventIgnored):
            return replace(
                self, version=version, seen_event_ids=self.seen_event_ids | {event.order.event_id}
            )
        if isinstance(event, PointsEarned):
            return replace(self, version=version, award=event)
        if isinstance(event, PointsRemoved):
            return replace(self, version=version, removed_points=self.removed_points + event.points)
        raise TypeError(f"unknown event type {type(event).__name__}")


def fold(events: list[RecordedEvent]) -> OrderState:
    """Return the state of an order whose stream contains ``events``, in version order."""
    state = OrderState()
    for event in events:
        state = state.evolve(event)
    return state
