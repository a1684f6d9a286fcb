"""Events the rewarding side records in an order's stream besides points events.

Every order event the decider receives is recorded, applied or ignored, so the
stream contains the order's full input history and can be re-decided later.
"""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.orders import OrderStatusChanged
from schemas.points import PointsEarned, PointsRemoved


class OrderStatusApplied(BaseModel):
    """An order event the decider applied to the order's state."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: Literal["OrderStatusApplied"] = "OrderStatusApplied"
    event_id: uuid.UUID
    order: OrderStatusChanged
    rule_version: int = Field(ge=1)


class OrderEventIgnored(BaseModel):
    """An order event that changed no points, with the reason."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: Literal["OrderEventIgnored"] = "OrderEventIgnored"
    event_id: uuid.UUID
    order: OrderStatusChanged
    reason: str = Field(min_length=1)


RecordedEvent = OrderStatusApplied | OrderEventIgnored | PointsEarned | PointsRemoved
"""Any event in an order's stream."""

RECORDED_EVENT_TYPES: dict[str, type[RecordedEvent]] = {
    "OrderStatusApplied": OrderStatusApplied,
    "OrderEventIgnored": OrderEventIgnored,
    "PointsEarned": PointsEarned,
    "PointsRemoved": PointsRemoved,
}
