"""``loyalty.points.v1`` messages: a stored points event with its place in the store.

The relay publishes one message per ``PointsEarned`` or ``PointsRemoved`` row of
the event store, keyed by ``<merchant_id>:<customer_key>`` so that one customer's
events stay in one partition, in store order.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.points import PointsEvent


class PointsMessage(BaseModel):
    """A points event as published on ``loyalty.points.v1``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    position: Annotated[int, Field(ge=1, description="Global position of the event in the store.")]
    recorded_at: AwareDatetime = Field(description="When the store committed the event.")
    balance_after: int = Field(
        description=(
            "The customer's balance including this event: the sum of the customer's points "
            "events published up to and including this one."
        )
    )
    event: PointsEvent

    @property
    def partition_key(self) -> bytes:
        """Kafka key: merchant and customer, so one customer's events stay in order."""
        return points_partition_key(self.event.merchant_id, self.event.customer_key)


def points_partition_key(merchant_id: str, customer_key: str) -> bytes:
    """Return the Kafka key of a customer's points events."""
    return f"{merchant_id}:{customer_key}".encode()


__all__ = ["PointsMessage", "points_partition_key"]
