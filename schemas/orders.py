"""``OrderStatusChanged`` v1: the normalized, source-agnostic order event.

Upstream systems other than the Lightspeed ingest publish this event straight
onto ``orders.status-changed.v1``, so every field here is a public contract.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.money import Amount, CurrencyCode

ORDER_STATUS_CHANGED_TOPIC = "orders.status-changed.v1"

NonEmpty = Annotated[str, Field(min_length=1, max_length=200)]


class PaymentStatus(StrEnum):
    """Payment status of an order; loyalty decisions are made on this field."""

    NOT_PAID = "not_paid"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    CANCELLED = "cancelled"


class Customer(BaseModel):
    """The buyer of an order.

    ``key`` identifies the customer within the merchant: the platform's customer
    id for registered customers, else the trimmed, lower-cased email of a guest.
    It is ``None`` only when the order has neither.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: NonEmpty | None
    platform_id: NonEmpty | None = None
    email: Annotated[str, Field(max_length=320)] | None = None
    first_name: Annotated[str, Field(max_length=200)] | None = None
    last_name: Annotated[str, Field(max_length=200)] | None = None
    language: Annotated[str, Field(pattern=r"^[a-z]{2}$", examples=["nl"])] | None = None


class Amounts(BaseModel):
    """Order amounts in the order's currency, as decimal strings."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    currency: CurrencyCode
    total_incl: Amount = Field(description="Order total including tax (Lightspeed priceIncl).")
    total_excl: Amount = Field(description="Order total excluding tax (Lightspeed priceExcl).")
    shipping_incl: Amount = Field(description="Shipping including tax (shipmentPriceIncl).")
    shipping_excl: Amount = Field(description="Shipping excluding tax (shipmentPriceExcl).")


class OrderStatusChanged(BaseModel):
    """An order's state as the source reported it at ``occurred_at``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: Literal["OrderStatusChanged"] = "OrderStatusChanged"
    schema_version: Literal[1] = 1
    event_id: uuid.UUID = Field(
        description="Deterministic from the source facts: the same change always has the same id."
    )
    merchant_id: NonEmpty
    source: NonEmpty = Field(examples=["lightspeed-ecom"])
    order_id: NonEmpty
    order_number: NonEmpty
    customer: Customer
    payment_status: PaymentStatus
    order_status: NonEmpty = Field(description="The source's raw order status, for reference.")
    amounts: Amounts
    occurred_at: AwareDatetime = Field(description="When the source changed the order (updatedAt).")
    received_at: AwareDatetime = Field(description="When loyalty-ledger received the change.")

    @property
    def stream_id(self) -> str:
        """Id of the order's stream in the points event store."""
        return f"order:{self.merchant_id}:{self.order_id}"

    @property
    def partition_key(self) -> bytes:
        """Kafka key: merchant and order, so one order's changes stay in order."""
        return f"{self.merchant_id}:{self.order_id}".encode()
