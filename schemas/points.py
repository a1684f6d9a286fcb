"""Points events: what the store records and ``loyalty.points.v1`` carries.

Both kinds name the merchant, the customer, the order, a positive number of
points and a human-readable reason. The ledger of a customer is the sequence of
these events in store order; the balance is earned minus removed.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.money import Amount, CurrencyCode

POINTS_TOPIC = "loyalty.points.v1"


class _PointsEventBase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    event_id: uuid.UUID = Field(description="Deterministic from the order event that caused it.")
    merchant_id: Annotated[str, Field(min_length=1)]
    customer_key: Annotated[str, Field(min_length=1)]
    order_id: Annotated[str, Field(min_length=1)]
    order_number: Annotated[str, Field(min_length=1)]
    points: Annotated[
        int, Field(gt=0, description="Always positive; the event type gives the sign.")
    ]
    reason: Annotated[str, Field(min_length=1, examples=["payment status became paid"])]
    rule_version: Annotated[int, Field(ge=1, description="Settings version the rule ran with.")]
    source_event_id: uuid.UUID = Field(description="Id of the order event that caused this one.")
    occurred_at: AwareDatetime = Field(description="The source time of the causing order event.")

    @property
    def signed_points(self) -> int:
        """Points as they change the balance: positive when earned, negative when removed."""
        raise NotImplementedError


class PointsEarned(_PointsEventBase):
    """Points awarded for an order."""

    event_type: Literal["PointsEarned"] = "PointsEarned"
    rate: Amount = Field(description="Points per currency unit used for this award.")
    basis_amount: Amount = Field(description="Order amount the points were computed from.")
    currency: CurrencyCode

    @property
    def signed_points(self) -> int:
        return self.points


class PointsRemoved(_PointsEventBase):
    """Points taken back from an order's award."""

    event_type: Literal["PointsRemoved"] = "PointsRemoved"
    award_event_id: uuid.UUID = Field(description="Id of the PointsEarned this removal reverses.")

    @property
    def signed_points(self) -> int:
        return -self.points


PointsEvent = Annotated[PointsEarned | PointsRemoved, Field(discriminator="event_type")]
"""Any points event, discriminated by ``event_type``."""

__all__ = ["POINTS_TOPIC", "PointsEarned", "PointsEvent", "PointsRemoved"]
