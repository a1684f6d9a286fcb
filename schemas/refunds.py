"""``OrderRefunded`` v1: a refund of part or all of an order, from a credit invoice.

It travels on ``orders.status-changed.v1`` with the same key as the order's
status changes, so one order's refunds and status changes stay in order.
"""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.orders import Amounts, NonEmpty


class OrderRefunded(BaseModel):
    """A credit invoice on an order, as the source reported it at ``occurred_at``.

    ``amounts`` are the refunded amounts, never negative. A later version of the
    same invoice (same ``invoice_id``, later ``occurred_at``) replaces the earlier one.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: Literal["OrderRefunded"] = "OrderRefunded"
    schema_version: Literal[1] = 1
    event_id: uuid.UUID = Field(
        description="Deterministic from the invoice facts: the same invoice version, the same id."
    )
    merchant_id: NonEmpty
    source: NonEmpty = Field(examples=["lightspeed-ecom"])
    order_id: NonEmpty
    invoice_id: NonEmpty
    invoice_number: NonEmpty
    amounts: Amounts = Field(description="Refunded amounts of the credit invoice.")
    occurred_at: AwareDatetime = Field(description="When the source changed the invoice.")
    received_at: AwareDatetime = Field(description="When loyalty-ledger received the invoice.")

    @property
    def stream_id(self) -> str:
        """Id of the refunded order's stream in the points event store."""
        return f"order:{self.merchant_id}:{self.order_id}"

    @property
    def partition_key(self) -> bytes:
        """Kafka key: merchant and order, the same as the order's status changes."""
        return f"{self.merchant_id}:{self.order_id}".encode()
