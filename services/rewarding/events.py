"""Events the rewarding side records in an order's stream besides points events.

Every order event the decider receives is recorded, applied or ignored, so the
stream contains the order's full input history and can be re-decided later.
"""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.order_events import OrderEvent
from schemas.orders import OrderStatusChanged
from schemas.points import PointsEarned, PointsRemoved
from schemas.refunds import OrderRefunded
from services.rewarding.rules import RewardRules


class OrderStatusApplied(BaseModel):
    """An order event the decider applied to the order's state."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: Literal["OrderStatusApplied"] = "OrderStatusApplied"
    event_id: uuid.UUID
    order: OrderStatusChanged
    rule_version: int = Field(ge=1)
    # The full rules at rule_version when this event made an award, so a later
    # refund computes with the award's amount basis. None otherwise, and in
    # events recorded before this field existed.
    rules: RewardRules | None = None


class OrderRefundApplied(BaseModel):
    """A credit invoice the decider applied to the order's state."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: Literal["OrderRefundApplied"] = "OrderRefundApplied"
    event_id: uuid.UUID
    refund: OrderRefunded
    rule_version: int = Field(ge=1)


class OrderEventIgnored(BaseModel):
    """An order event that changed no points, with the reason."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: Literal["OrderEventIgnored"] = "OrderEventIgnored"
    event_id: uuid.UUID
    order: OrderEvent
    reason: str = Field(min_length=1)


class PointsRemovalClamped(BaseModel):
    """The part of a removal that the customer's balance could not cover.

    Under the ``clamp`` policy only the balance is removed; the rest is written
    off here and never removed later. It changes no balance.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: Literal["PointsRemovalClamped"] = "PointsRemovalClamped"
    event_id: uuid.UUID
    merchant_id: str
    customer_key: str
    order_id: str
    order_number: str
    requested_points: int = Field(gt=0, description="Points the rules asked to remove.")
    removed_points: int = Field(ge=0, description="Points actually removed, the balance held.")
    shortfall_points: int = Field(gt=0, description="requested_points - removed_points.")
    balance_before: int = Field(description="The customer's balance before the removal.")
    reason: str = Field(min_length=1)
    rule_version: int = Field(ge=1, description="Settings version whose clamp policy applied.")
    award_event_id: uuid.UUID
    source_event_id: uuid.UUID
    occurred_at: AwareDatetime


RecordedEvent = (
    OrderStatusApplied
    | OrderRefundApplied
    | OrderEventIgnored
    | PointsRemovalClamped
    | PointsEarned
    | PointsRemoved
)
"""Any event in an order's stream."""

RECORDED_EVENT_TYPES: dict[str, type[RecordedEvent]] = {
    "OrderStatusApplied": OrderStatusApplied,
    "OrderRefundApplied": OrderRefundApplied,
    "OrderEventIgnored": OrderEventIgnored,
    "PointsRemovalClamped": PointsRemovalClamped,
    "PointsEarned": PointsEarned,
    "PointsRemoved": PointsRemoved,
}
